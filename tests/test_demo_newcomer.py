"""The newcomer path: `make demo` ends with next steps, and the mock server prints lines a
user pastes into another shell (dummy credentials included) to investigate by hand."""

from __future__ import annotations

import subprocess
from pathlib import Path

from investigator.demo.__main__ import Row, next_steps
from investigator.demo.scenarios import select
from investigator.demo.server import client_env, ready_message

ENDPOINT = "http://127.0.0.1:54321"


def test_the_export_lines_paste_into_a_shell_as_the_client_environment():
    scenarios = select("all")
    lines = ready_message(ENDPOINT, scenarios, ".venv/bin/investigate")
    exports = [line.strip() for line in lines if line.strip().startswith("export ")]
    script = "\n".join(exports) + "\nenv\n"
    env = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin"}).stdout.splitlines()
    for key, value in client_env(ENDPOINT).items():
        assert f"{key}={value}" in env
    assert "AWS_ACCESS_KEY_ID=testing" in env  # dummy credentials, said to be dummy
    assert any("dummy credentials" in line for line in lines)
    example = next(line for line in lines if ".venv/bin/investigate " in line)
    assert scenarios[0].target in example and "--format text" in example


def test_demo_ends_with_next_steps(tmp_path: Path):
    scenarios = select("spaceport-3dgs,logs-access-denied")
    rows = [Row(s, category=s.expected) for s in scenarios]
    (tmp_path / "logs").mkdir()
    text = "\n".join(next_steps(rows, tmp_path, ".venv/bin/investigate"))
    assert "Next steps:" in text
    assert str(tmp_path / "spaceport-3dgs.html") in text  # which report to open
    assert ".venv/bin/investigate log examples/" in text  # how to run investigate from the venv
    assert "-m investigator.demo.server" in text and "export" in text  # how to start the mock
