"""`make mutation`: run mutmut on the core modules and print the score per module.

A measurement, not a gate: it is not part of `make test` or CI (a full run takes tens of
minutes on two cores). mutmut is configured in pyproject.toml ([tool.mutmut]); each mutant
runs against the tests that reach it. Equivalent mutants that cannot be killed are listed
with their reason in docs/testing.md.

    python scripts/mutation.py                  # every module in [tool.mutmut].only_mutate
    python scripts/mutation.py investigator.redact investigator.classifier.rank
    python scripts/mutation.py --pending investigator.classifier.rank

`--pending` runs only the module's mutants without a verdict or that survived the last run
(after new tests), keeping the verdicts of the killed ones: on two cores a module can then be
measured across several sittings. Every mutant still runs against every test that reaches it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# mutmut's result words; "killed" covers a failing test, a timeout or a crash.
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def mutmut_config() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]


def modules() -> list[str]:
    return [p.removesuffix(".py").replace("/", ".") for p in mutmut_config()["only_mutate"]]


def exit_codes(module: str) -> dict[str, int | None] | None:
    """mutmut's last exit code per mutant of `module` (None: not run yet), or None when
    mutmut has not generated the module's mutants."""
    meta = ROOT / "mutants" / (module.replace(".", "/") + ".py.meta")
    return json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else None


def run(selected: list[str], pending: bool = False) -> None:
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    names = [n for m in selected for n in unsettled(m)] if pending else [f"{m}.*" for m in selected]
    if names:
        subprocess.run([mutmut, "run", *names], cwd=ROOT, check=False)


def unsettled(module: str) -> list[str]:
    """The module's mutants with no verdict yet (None) or that survived (0) the last run."""
    codes = exit_codes(module)
    if codes is None:
        return [f"{module}.*"]
    return [name for name, code in codes.items() if code in (None, 0)]


def results() -> dict[str, str]:
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    out = subprocess.run(
        [mutmut, "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    pairs = (line.strip().rpartition(": ") for line in out.splitlines() if ": " in line)
    return {name: status for name, _, status in pairs}


def module_of(mutant: str, selected: list[str]) -> str | None:
    return next((m for m in selected if mutant.startswith(m + ".")), None)


def report(selected: list[str]) -> None:
    tally: dict[str, Counter[str]] = {m: Counter() for m in selected}
    for mutant, status in results().items():
        module = module_of(mutant, selected)
        if module and status != "not checked":
            tally[module][status] += 1
    print(f"\n{'module':45} {'killed':>7} {'total':>6} {'score':>7}")
    for module, counts in tally.items():
        total = sum(counts.values())
        killed = sum(n for s, n in counts.items() if s in KILLED)
        score = f"{100 * killed / total:.1f}%" if total else "-"
        print(f"{module:45} {killed:7d} {total:6d} {score:>7}")


def main(argv: list[str]) -> int:
    pending = "--pending" in argv
    selected = [a for a in argv if a != "--pending"] or modules()
    run(selected, pending)
    report(selected)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
