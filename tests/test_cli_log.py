"""`investigate log`: what a user sees for real, odd and hostile inputs."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from investigator.cli import main

OOM_LOG = """\
2025-06-25 18:12:01 INFO step 100 loss=2.31
Traceback (most recent call last):
  File "/opt/ml/code/train.py", line 88, in <module>
    loss.backward()
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 14.75 GiB of which 1.06 GiB is free.
"""


def run(*args: str, input: bytes | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def as_json(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def oom(tmp_path: Path) -> Path:
    p = tmp_path / "job.log"
    p.write_text(OOM_LOG)
    return p


def test_json_has_the_documented_fields(oom):
    [obj] = as_json(run("log", str(oom), "--format", "json"))
    for key in (
        "source", "category", "rule", "confidence", "title", "retryable",
        "explanation", "remediation", "evidence", "alternatives",
    ):  # fmt: skip
        assert key in obj
    assert obj["category"] == "resources"
    assert obj["source"] == str(oom)
    assert obj["evidence"][0]["line"] == 5
    assert "CUDA out of memory" in obj["evidence"][0]["text"]
    assert all({"category", "rule", "confidence"} <= set(a) for a in obj["alternatives"])


def test_several_files_give_one_result_each(oom, tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    objs = as_json(run("log", str(oom), str(empty), "--format", "json"))
    assert [o["source"] for o in objs] == [str(oom), str(empty)]
    # An empty file is nothing to examine, not "no failure" (issue 10, item 2).
    assert objs[1]["rule"] == "no-input-to-examine"


def test_stdin_and_gzip(oom, tmp_path):
    [from_stdin] = as_json(run("log", "-", "--format", "json", input=oom.read_bytes()))
    assert from_stdin["source"] == "<stdin>"
    assert from_stdin["category"] == "resources"
    gz = tmp_path / "job.log.gz"
    gz.write_bytes(gzip.compress(oom.read_bytes()))
    [from_gz] = as_json(run("log", str(gz), "--format", "json"))
    assert from_gz["category"] == "resources"
    assert from_gz["evidence"][0]["line"] == 5


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.log", "No such file or directory"),
        (lambda d: d, "Is a directory"),
        (lambda d: _corrupt_gz(d), "Compressed file ended"),
        (lambda d: _write(d / "plain.log.gz", b"plain text"), "Not a gzipped file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, make, message):
    path = make(tmp_path)
    result = run("log", str(path))
    assert result.exit_code == 2
    err = result.stderr.strip()
    assert err.count("\n") == 0 and err.startswith("investigate: error:")
    assert message in err
    assert "Traceback" not in result.output


def _corrupt_gz(d: Path) -> Path:
    # Truncated mid-stream: the reader fails after yielding some data.
    p = d / "bad.log.gz"
    p.write_bytes(gzip.compress(random.Random(1).randbytes(100_000))[:5000])
    return p


def _write(p: Path, data: bytes) -> Path:
    p.write_bytes(data)
    return p


def test_unreadable_file(tmp_path):
    p = tmp_path / "secret.log"
    p.write_text("x")
    p.chmod(0)
    if _can_read(p):  # running as root: permissions do not apply
        pytest.skip("running as root; file permissions are not enforced")
    result = run("log", str(p))
    assert result.exit_code == 2 and "Permission denied" in result.stderr


def _can_read(p: Path) -> bool:
    try:
        p.read_bytes()
        return True
    except PermissionError:
        return False


def test_binary_and_non_utf8_input(tmp_path):
    p = tmp_path / "weird.log"
    p.write_bytes(
        bytes(range(256)) * 100 + b"\n\xff\xfe caf\xe9 \x00\x00 No space left on device \xc3\x28\n"
    )
    [obj] = as_json(run("log", str(p), "--format", "json"))
    assert obj["category"] == "resources"
    assert "No space left on device" in obj["evidence"][0]["text"]


def test_a_20_mb_line_is_handled_and_clipped(tmp_path):
    p = tmp_path / "long.log"
    with p.open("wb") as fh:
        fh.write(b"a" * (20 << 20))
        fh.write(b" CUDA error: no kernel image is available for execution on the device\n")
    [obj] = as_json(run("log", str(p), "--format", "json"))
    assert obj["category"] == "cuda"
    assert len(obj["evidence"][0]["text"]) <= 1000


def test_pathological_regex_input_is_linear(tmp_path):
    # Classic catastrophic-backtracking bait; RE2 does not backtrack.
    p = tmp_path / "evil.log"
    p.write_text(("a" * 50_000 + "!\n") * 20 + ("(" * 10_000) + "\n")
    [obj] = as_json(run("log", str(p), "--format", "json"))
    assert obj["category"] == "none"


SECRET_LOG = """\
export HF_TOKEN=hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345
aws_access_key_id=AKIAIOSFODNN7EXAMPLE password=hunter2 WANDB_API_KEY=abcdef0123456789
Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlMTIzNDU2
Traceback (most recent call last):
botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation: Access Denied (key AKIAIOSFODNN7EXAMPLE, HF_TOKEN=hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345)
"""


@pytest.mark.parametrize("fmt", ["json", "text", "md", "html"])
def test_secrets_never_reach_any_format(tmp_path, fmt):
    p = tmp_path / "leaky.log"
    p.write_text(SECRET_LOG)
    result = run("log", str(p), "--format", fmt)
    assert result.exit_code == 0
    for secret in ("hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345", "AKIAIOSFODNN7EXAMPLE", "hunter2",
                   "abcdef0123456789", "c2lnbmF0dXJlMTIzNDU2"):  # fmt: skip
        assert secret not in result.stdout


def test_output_file_is_written_atomically_and_format_follows_suffix(oom, tmp_path):
    out = tmp_path / "reports" / "r.json"
    result = run("log", str(oom), "--output", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text())[0]["category"] == "resources"
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


def test_failed_run_leaves_no_partial_output(oom, tmp_path):
    out = tmp_path / "r.json"
    result = run("log", str(oom), str(tmp_path / "nope.log"), "--output", str(out))
    assert result.exit_code == 2
    assert not out.exists()


def test_python_dash_m_and_console_script_agree(oom):
    proc = subprocess.run(
        [sys.executable, "-m", "investigator", "log", str(oom), "--format", "json"],
        capture_output=True,
        check=True,
    )
    assert json.loads(proc.stdout)[0]["category"] == "resources"


# ------------------------------------------------------------------ CLI polish (issue 13, 11)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "investigator", *args], capture_output=True,
                          text=True, timeout=120)


def test_an_unknown_output_suffix_is_bad_input_before_any_work(oom, tmp_path):
    out = tmp_path / "report.pdf"
    r = _cli("log", str(oom), "--output", str(out))
    assert r.returncode == 2 and not out.exists()
    assert r.stderr.count("\n") == 1 and "'.pdf'" in r.stderr and "--format" in r.stderr
    # An explicit --format makes any name fine.
    assert _cli("log", str(oom), "--output", str(out), "--format", "md").returncode == 0


@pytest.mark.parametrize("args", [["log"], ["log", "--format", "xml", "x.log"], ["nosuch"],
                                  ["log", "x.log", "--bogus"]])
def test_usage_errors_are_one_line_with_exit_2(args):
    r = _cli(*args)
    assert r.returncode == 2
    assert r.stderr.startswith("investigate: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "Usage:" not in r.stderr and "Traceback" not in r.stderr


def test_output_says_where_it_wrote(oom, tmp_path):
    out = tmp_path / "r.html"
    r = _cli("log", str(oom), "--output", str(out))
    assert r.returncode == 0 and out.exists()
    assert r.stderr.strip() == f"html report written to {out}"


def test_runbook_url_option_sets_every_link(oom, monkeypatch):
    monkeypatch.setenv("INVESTIGATOR_RUNBOOK_URL", "")  # restored after: the CLI sets it
    r = run("log", str(oom), "--format", "json", "--runbook-url", "https://runbooks.example/ib")
    [data] = as_json(r)
    assert data["runbook"] == f"https://runbooks.example/ib/{data['category']}/{data['rule']}.md"


def test_log_command_loads_no_heavy_library(oom: Path, tmp_path: Path) -> None:
    """Start-up: `investigate log` needs neither pydantic, YAML, boto3 nor jinja2 (issue 12)."""
    probe = (
        "import sys; from investigator.cli import main\n"
        f"try: main(['log', {str(oom)!r}, '--format', 'json'])\n"
        "except SystemExit: pass\n"
        "heavy = {'pydantic', 'yaml', 'boto3', 'botocore', 'jinja2'} & set(sys.modules)\n"
        "print(sorted(heavy), file=sys.stderr)\n"
    )
    # Run twice: the first run builds the playbook cache (which needs pydantic and YAML). The
    # cache lives in a folder of this test's own: in the shared one, other test workers'
    # entries could prune it between the two runs.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              env=env)
    assert '"category": "resources"' in done.stdout
    assert done.stderr.strip() == "[]"
