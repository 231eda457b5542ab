"""`python -m investigator.demo --out reports`: every demo incident through the real CLI.

Starts an embedded moto server, seeds all scenarios, points AWS_ENDPOINT_URL at it and runs
`investigate execution|job TARGET --format json --save-bundle ...` for each scenario, then
`investigate bundle ... --format html` to render the report offline from the saved evidence
(no second round of AWS calls). Prints a summary table; exits 1 if any category differs
from the scenario's expected one.

Why in-process (click's CliRunner on `investigator.cli.main`) rather than a subprocess per
scenario: the same click group, option parsing, error mapping, pipeline and atomic file
writes run, and every AWS call still crosses HTTP to the moto server through
AWS_ENDPOINT_URL, exactly as for a user. What a subprocess would add is interpreter start-up
and imports (about a second per run, 32 runs), which would push the demo past its 60 s
budget. The console-script-in-a-subprocess path is covered by tests/e2e/test_moto_server_cli.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from investigator.demo.scenarios import Scenario, select
from investigator.demo.server import client_env, investigate_command, quiet_access_log
from investigator.demo.server import start as start_server


@dataclass
class Row:
    scenario: Scenario
    category: str = "-"
    rule: str = "-"
    seconds: float = 0.0
    api_calls: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.category == self.scenario.expected


def _invoke(args: list[str]) -> tuple[int, str]:
    """Run `investigate ARGS` in-process; returns (exit code, stderr)."""
    from investigator.cli import main

    result = CliRunner().invoke(main, args, prog_name="investigate", catch_exceptions=True)
    err = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        err += f"{type(result.exception).__name__}: {result.exception}"
    return result.exit_code, err.strip()


def run_scenario(scenario: Scenario, out: Path) -> Row:
    row = Row(scenario)
    json_path = out / f"{scenario.name}.json"
    bundle = out / f"{scenario.name}.bundle.json"
    started = time.monotonic()
    code, err = _invoke([*scenario.cli_args(), "--format", "json", "--output", str(json_path),
                         "--save-bundle", str(bundle), "--quiet"])
    row.seconds = time.monotonic() - started
    if code != 0:
        row.error = err.splitlines()[-1] if err else f"exit {code}"
        return row
    data: dict[str, Any] = json.loads(json_path.read_text(encoding="utf-8"))
    row.category, row.rule, row.api_calls = data["category"], data["rule"], data["api_calls"]
    code, err = _invoke(["bundle", str(bundle), "--format", "html",
                         "--output", str(out / f"{scenario.name}.html")])
    if code != 0:
        row.error = f"html: {err.splitlines()[-1] if err else f'exit {code}'}"
    return row


def print_table(rows: list[Row], total: float, out: Path) -> None:
    head = (f"{'scenario':22} {'expected':15} {'category':15} {'rule':44} "
            f"{'seconds':>7} {'calls':>5}")
    print(head)
    print("-" * len(head))
    for r in rows:
        mark = "" if r.ok else "  <-- " + (r.error or "MISMATCH")
        calls = "-" if r.api_calls is None else str(r.api_calls)
        print(f"{r.scenario.name:22} {r.scenario.expected:15} {r.category:15} {r.rule:44} "
              f"{r.seconds:7.2f} {calls:>5}{mark}")
    good = sum(r.ok for r in rows)
    print(f"\n{good}/{len(rows)} scenarios diagnosed as expected in {total:.1f} s; "
          f"reports in {out}/ (<scenario>.html, .json, .bundle.json)")
    print("\n".join(next_steps(rows, out, investigate_command())))


def next_steps(rows: list[Row], out: Path, investigate: str) -> list[str]:
    """What a newcomer does after `make demo`: open a report, run the CLI, start the mock."""
    # The pipeline whose report shows the most (evidence, last-good diff, timeline) first.
    shown = next((r for r in rows if r.ok and r.scenario.name == "spaceport-3dgs"),
                 next((r for r in rows if r.ok), None))
    steps = ["", "Next steps:"]
    if shown is not None:
        logs = f"; the sample logs' in {out / 'logs'}/" if (out / "logs").is_dir() else ""
        steps += [f"  1. Open a report in a browser: {out / (shown.scenario.name + '.html')}",
                  f"     (every scenario has one in {out}/{logs})"]
    python = _relative(sys.executable)
    steps += [
        f"  2. Investigate a saved log yourself: {investigate} log examples/"
        "apex-build-skipped.log --format text",
        f"  3. Start the mock AWS and investigate by hand: {python} -m investigator.demo.server",
        "     (it prints the `export` lines to paste into another shell, dummy credentials "
        "included)",
        f"  4. All commands and options: {investigate} --help",
    ]
    return steps


def _relative(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m investigator.demo",
                                description="Investigate every demo incident on a local moto.")
    p.add_argument("--out", default="reports", help="folder for the reports (default: reports)")
    p.add_argument("--scenarios", default="all", help="'all' or comma-separated names")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        chosen = select(args.scenarios)
    except KeyError as exc:
        print(f"investigator.demo: error: {exc.args[0]}", file=sys.stderr)
        return 2
    out = Path(args.out)
    quiet_access_log()
    began = time.monotonic()
    server = start_server(chosen)
    print(f"moto server on {server.endpoint} with {len(chosen)} scenarios seeded\n")
    saved = {k: os.environ.get(k) for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_DEFAULT_PROFILE", None)
    os.environ.update(client_env(server.endpoint))
    try:
        rows = [run_scenario(s, out) for s in chosen]
    finally:
        server.stop()
        for k, v in saved.items():
            if v is not None:
                os.environ[k] = v
    print_table(rows, time.monotonic() - began, out)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
