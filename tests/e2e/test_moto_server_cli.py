"""End to end as a user runs it: `python -m investigator.demo.server` in its own process on
127.0.0.1, and the installed `investigate` console script talking to it through
AWS_ENDPOINT_URL, parsed from its `--format json` output.

Slow (> 5 s: ~15 s on an idle 2-core machine, ~40 s under heavy load): it starts a server
process and one interpreter per investigation, which is the point — no in-process shortcut
between the CLI and the AWS endpoint. The investigations run in parallel to keep it bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from investigator.demo.scenarios import BY_NAME, Scenario
from investigator.demo.server import client_env

MAX_API_CALLS = 30
CHECKED = ["spaceport-3dgs", "logs-access-denied", "nested-execution", "map-iteration-oom",
           "stale-image", "capacity-no-logs", "healthy", "bad-jsonpath"]


def _investigate_cmd() -> list[str]:
    script = Path(sys.executable).parent / "investigate"
    found = str(script) if script.exists() else shutil.which("investigate")
    return [found] if found else [sys.executable, "-m", "investigator"]


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "server.err"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "investigator.demo.server", "--port", "0", "--scenarios",
             ",".join(CHECKED)], stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            yield _wait_ready(proc, log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen[str], log: Path) -> str:
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("AWS_ENDPOINT_URL="):
            url = line.strip().split("=", 1)[1]
            assert url.startswith("http://127.0.0.1:")
            return url
        if not line and proc.poll() is not None:
            break
    pytest.fail(f"demo server did not start: {log.read_text(errors='replace')[-2000:]}")


def _env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(client_env(endpoint))
    env.pop("INVESTIGATOR_DEBUG", None)
    return env


def _run(endpoint: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_investigate_cmd(), *args], env=_env(endpoint), text=True,
                          capture_output=True, timeout=120)


def _investigate(endpoint: str, scenario: Scenario) -> dict[str, Any]:
    proc = _run(endpoint, [*scenario.cli_args(), "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def results(endpoint: str) -> dict[str, dict[str, Any]]:
    # > 5 s: eight real CLI processes; each proves a different path (execution, job,
    # processing job, denied logs, nested, Map, no-job failures) works over HTTP.
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = pool.map(lambda n: (n, _investigate(endpoint, BY_NAME[n])), CHECKED)
        return dict(done)


@pytest.mark.parametrize("name", CHECKED)
def test_cli_json_names_category_state_and_job(results: dict[str, dict[str, Any]],
                                               name: str) -> None:
    scenario, out = BY_NAME[name], results[name]
    assert out["category"] == scenario.expected, (out["rule"], out["alternatives"])
    assert out["failed_state"] == scenario.failed_state
    assert out["target"]["name"] == scenario.target
    assert 0 < out["api_calls"] <= MAX_API_CALLS
    if scenario.job:
        assert out["job"]["name"] == scenario.job
        assert out["job"]["status"] in {"Failed", "Stopped", "Completed"}
        assert out["job"]["instance_type"].startswith("ml.")
        assert out["job"]["image"]
    for source in scenario.gap_sources:
        assert any(g["source"] == source for g in out["gaps"]), out["gaps"]


def test_spaceport_report_has_the_t4_facts_the_image_config_and_the_last_good_run(
        results: dict[str, dict[str, Any]]) -> None:
    out = results["spaceport-3dgs"]
    assert out["job"]["instance_type"] == "ml.g4dn.xlarge"
    assert out["job"]["failure_reason"] == "AlgorithmError: , exit code: 1"
    assert any("no kernel image" in e["text"] for e in out["evidence"])
    # The server serves ECR config blobs (moto gap 5), so the image config was read.
    assert out["facts"]["ecr.image_architecture"] == "amd64"
    assert "TORCH_CUDA_ARCH_LIST" in out["facts"]["ecr.image_env_names"]
    assert not [g for g in out["gaps"] if g["source"] == "ecr"]
    assert out["last_good"].endswith(":prod-validation-1750789862")
    events = " ".join(t["event"] for t in out["timeline"])
    assert "SfMProcessing" in events and "GaussianTraining" in events


def test_access_denied_on_logs_is_a_gap_with_the_missing_permission(
        results: dict[str, dict[str, Any]]) -> None:
    out = results["logs-access-denied"]
    gap = next(g for g in out["gaps"] if g["source"] == "logs")
    assert gap["code"] == "AccessDenied"
    assert gap["missing_permission"].startswith("logs:")
    assert out["could_not_rule_out"]
    assert out["job"]["failure_reason"] == "AlgorithmError: , exit code: 1"


def test_stale_image_push_after_job_start_is_a_fact(results: dict[str, dict[str, Any]]) -> None:
    facts = results["stale-image"]["facts"]
    assert facts["ecr.pushed_after_job_start"] is True
    assert "latest" in facts["ecr.image_tags"]


def test_unknown_execution_is_one_clear_line_and_exit_3(endpoint: str) -> None:
    arn = BY_NAME["healthy"].target.rsplit(":", 1)[0] + ":no-such-run"
    proc = _run(endpoint, ["execution", arn, "--format", "json"])
    assert proc.returncode == 3
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("investigate: error:")
    assert "Traceback" not in proc.stderr
