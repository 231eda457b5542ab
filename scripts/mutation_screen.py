"""Measure mutmut's mutants of one module faster than `mutmut run`, with the same verdicts.

`mutmut run` starts a pytest session per mutant; on two shared cores a module of ~1,000
mutants takes hours. This collects the tests once, then forks per mutant and runs, in that
child, the tests mutmut would run for it (those that reach the mutated function, from
mutants/mutmut-stats.json, plus tests newer than those stats) until one fails. Tests that killed
an earlier mutant of the same function run first. A mutant no test fails "survived".

    python scripts/mutation_screen.py investigator.classifier.rank            # whole suite
    python scripts/mutation_screen.py investigator.classifier.rank tests/classifier  # a subset

A subset is a quick pre-screen: a mutant it kills is killed by the whole suite too (the test
that killed it reaches the function); its survivors must be run again against the whole suite
(`--only FILE` with their names). Verdicts are appended to mutants/screen-<module>.txt
(`name verdict seconds killer`; verdict 1 = killed, 0 = survived, negative = timed out); a
mutant killed in any run stays killed. Run `make mutation` once first: it creates mutants/ and
the stats. botocore's service models are loaded once in the parent (same data, less time per
test).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mutation import exit_codes, mutmut_config  # scripts/ is on the path: run from there

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
LIMIT_S = 300  # a mutant that loops forever is killed (mutmut: timeout)


def suite() -> list[str]:
    """mutmut's own test selection: [tool.mutmut] pytest_add_cli_args, over tests/."""
    config = mutmut_config()
    return [*config["pytest_add_cli_args"], *config["pytest_add_cli_args_test_selection"]]


def _function(mutant: str) -> str:
    return mutant.rsplit("__mutmut_", 1)[0]


def _verdicts(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, verdict = line.split()[:2]
        out[name] = verdict if out.get(name, "0") == "0" else out[name]
    return out


def pytest_runtestloop(session: Any) -> bool:
    """The pytest hook (this file is loaded with `-p mutation_screen`)."""
    from _pytest.runner import runtestprotocol

    out_path = Path(os.environ["SCREEN_OUT"])
    names = Path(os.environ["SCREEN_MUTANTS"]).read_text().split()
    stats_file = json.loads((MUTANTS / "mutmut-stats.json").read_text())
    stats = stats_file["tests_by_mangled_function_name"]
    reach = {f: set(ts) for f, ts in stats.items()}
    known = set().union(*reach.values())
    names.sort(key=lambda n: len(reach.get(_function(n), ())))
    items = session.items
    killers: dict[str, list[int]] = {}
    _load_aws_models_once()
    with out_path.open("a") as out:
        for name in names:
            first = killers.get(_function(name), [])
            tests = reach.get(_function(name), set())
            order = first + [i for i, it in enumerate(items) if i not in first
                             and (it.nodeid in tests or it.nodeid not in known)]
            start = time.monotonic()
            verdict, killer = _run_forked(name, [items[i] for i in order], runtestprotocol)
            if killer is not None:
                k = order[killer]
                killers[_function(name)] = [k, *(x for x in first if x != k)][:6]
            out.write(f"{name} {verdict} {time.monotonic() - start:.1f} "
                      f"{items[order[killer]].nodeid if killer is not None else '-'}\n")
            out.flush()
    return True


def _run_forked(name: str, items: list[Any], protocol: Any) -> tuple[int, int | None]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: this mutant active, output silenced, stop at the first failure
        os.close(read)
        from mutmut.mutation import trampoline

        os.environ["MUTANT_UNDER_TEST"] = name
        trampoline.set_mutant_under_test(name)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        signal.alarm(LIMIT_S)
        for n, item in enumerate(items):
            following = items[n + 1] if n + 1 < len(items) else None
            if any(r.failed for r in protocol(item, nextitem=following, log=False)):
                os.write(write, str(n).encode())
                os._exit(1)
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    killer = os.read(read, 32).decode()
    os.close(read)
    code = os.waitstatus_to_exitcode(status)
    return (code if code != 1 or killer else 1), (int(killer) if killer else None)


def _load_aws_models_once() -> None:
    """Every test builds a new boto3 Session, which parses the service models again; share
    one loader (copy-on-write after fork). Import moto's backends once as well (no call: a
    session made outside mock_aws() is not mocked)."""
    import boto3
    import botocore.loaders
    import botocore.session

    loader = botocore.loaders.create_loader()
    botocore.session.create_loader = lambda *_a, **_k: loader
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y",
                            region_name="us-east-1")
    for service in ("stepfunctions", "sagemaker", "logs", "ecr", "sts", "cloudwatch"):
        session.client(service)
    import moto.ecr.models
    import moto.logs.models
    import moto.sagemaker.models
    import moto.stepfunctions.models  # noqa: F401


def regenerate() -> None:
    """mutants/ up to date with the sources and tests (the first step of `mutmut run`)."""
    code = ("from mutmut.__main__ import copy_src_dir, copy_also_copy_files, "
            "setup_source_paths, create_mutants\n"
            "from mutmut.mutation.trampoline import set_mutant_under_test\n"
            "set_mutant_under_test('mutant_generation')\n"
            "copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(1)\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)


def main(argv: list[str]) -> int:
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    args = [a for i, a in enumerate(argv) if a != "--only" and (i == 0 or argv[i - 1] != "--only")]
    module, tests = args[0], args[1:]
    regenerate()
    every = list(exit_codes(module) or {})
    out = MUTANTS / f"screen-{module}.txt"
    done = _verdicts(out)
    todo = Path(only).read_text().split() if only else [n for n in every if n not in done]
    names = MUTANTS / f"screen-{module}.todo"
    names.write_text("\n".join(todo))
    env = {**os.environ, "SCREEN_OUT": str(out), "SCREEN_MUTANTS": str(names),
           "PYTHONPATH": str(ROOT / "scripts")}
    pytest_args = (["-p", "no:cacheprovider", "-p", "no:xdist", "-q", *tests] if tests
                   else suite())
    subprocess.run([sys.executable, "-m", "pytest", "-p", "mutation_screen", *pytest_args],
                   cwd=MUTANTS, env=env, check=False, stdout=subprocess.DEVNULL)
    verdicts = {n: v for n, v in _verdicts(out).items() if n in set(every)}
    killed = sum(v != "0" for v in verdicts.values())
    print(f"{module}: {killed}/{len(every)} killed, {len(verdicts)} measured, "
          f"{len(verdicts) - killed} survived")
    for name, verdict in verdicts.items():
        if verdict == "0":
            print(f"  survived: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
