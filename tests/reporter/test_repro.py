"""The repro kit: run the generated scripts against fake `docker`, `aws` and `sagemaker`.

The fakes record their argv (one JSON line per call), so each test asserts the exact commands
an engineer would run, including for hostile values taken from logs and job descriptions.
"""

from __future__ import annotations

import json
import os
import py_compile
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from investigator.classifier import Library
from investigator.classifier.schema import parse_rule
from investigator.cli import main as cli_main
from investigator.logfiles import investigate_log
from investigator.models import (
    Evidence,
    EvidenceLine,
    Finding,
    Investigation,
    LogEvent,
    LogStream,
    Target,
)
from investigator.reporter.repro import FILL_ME, write_repro_kit

ACCOUNT = "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
DIGEST = "sha256:" + "ab" * 32
JOB_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/train-7"
EXEC_ARN = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:pipeline:run-7"
STREAM = "train-7/algo-1-1700000000"

FAKE_TOOL = r"""#!{python}
import json, os, sys
name = os.path.basename(sys.argv[0])
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a", encoding="utf-8") as fh:
    fh.write(json.dumps([name, *args]) + "\n")
fail = os.environ.get("FAKE_FAIL")
if fail and any(a.startswith(fail) for a in args):
    sys.stderr.write(os.environ.get("FAKE_STDERR", ""))
    sys.exit(int(os.environ.get("FAKE_CODE", "254")))
if name == "docker" and args[:1] == ["login"]:
    sys.stdin.read()
if name == "aws" and args[:2] == ["ecr", "get-login-password"]:
    print("fake-ecr-password")
if name == "aws" and args[:2] == ["s3api", "list-objects-v2"]:
    opts = dict(a[2:].split("=", 1) for a in args[2:] if a.startswith("--") and "=" in a)
    listing = json.load(open(os.environ["FAKE_S3"], encoding="utf-8"))
    keys = listing.get(opts["bucket"] + "/" + opts["prefix"], [])
    sys.stdout.write("".join(k + "\n" for k in keys) if keys else "None\n")
if name == "aws" and args[:2] == ["s3", "cp"]:
    dest = args[3]
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "w", encoding="utf-8") as out:
        out.write(args[2])
"""


# ----------------------------------------------------------------------------- helpers


def finding(**kw: Any) -> Finding:
    base: dict[str, Any] = dict(
        category="deps", rule="deps-module-not-found", title="Python module missing (foo)",
        confidence=0.9, confidence_label="high", retryable=False,
        explanation="The image lacks the module the program imports.",
        remediation=["Add it to the image."], repro=["python -c 'import foo'"],
        evidence=[EvidenceLine(source="logs", stream=STREAM, line=42,
                               text="ModuleNotFoundError: No module named 'foo'",
                               timestamp=datetime(2024, 1, 1, tzinfo=UTC))],
    )
    base.update(kw)
    return Finding(**base)


def sm_facts(**over: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "sagemaker.job_name": "train-7",
        "sagemaker.job_arn": JOB_ARN,
        "sagemaker.job_kind": "training",
        "sagemaker.image": f"{REGISTRY}/trainer:latest",
        "sagemaker.instance_type": "ml.g5.xlarge",
        "sagemaker.instance_count": 1,
        "instance.gpu_count": 1,
        "ecr.image_digest": DIGEST,
        "ecr.image_architecture": "amd64",
        "ecr.repository": "trainer",
        "sagemaker.hyperparameters": {"epochs": "3", "lr": "0.001"},
        "sagemaker.environment": {"WANDB_MODE": "***REDACTED***", "HF_HOME": "/cache"},
        "sagemaker.input_channels": ["train", "val"],
        "sagemaker.input_uris": ["s3://data-bkt/sets/train/", "s3://data-bkt/sets/val"],
        "sagemaker.role_arn": f"arn:aws:iam::{ACCOUNT}:role/service-role/SMRole",
        "sfn.execution_arn": EXEC_ARN,
    }
    facts.update(over)
    return {k: v for k, v in facts.items() if v is not None}


def investigation(facts: dict[str, Any], *, kind: str = "job", **fkw: Any) -> Investigation:
    name = str(facts.get("sagemaker.job_name", "x"))
    return Investigation(source=name, target=Target(kind=kind, name=name),  # type: ignore[arg-type]
                         finding=finding(**fkw), facts=facts)


class Kit:
    """A written kit plus fake tools; `run` executes repro.sh and returns the recorded calls."""

    def __init__(self, root: Path, kit: Path, listing: dict[str, list[str]] | None = None):
        self.root, self.kit = root, kit
        self.bin = root / "fakebin"
        self.log = root / "calls.jsonl"
        self.s3 = root / "s3.json"
        self.s3.write_text(json.dumps(listing or {}), encoding="utf-8")
        self.bin.mkdir(exist_ok=True)
        for tool in ("docker", "aws"):
            path = self.bin / tool
            path.write_text(FAKE_TOOL.replace("{python}", sys.executable), encoding="utf-8")
            path.chmod(0o755)

    @property
    def ml(self) -> Path:
        return self.kit / "work" / "ml"

    def run(self, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
        self.log.unlink(missing_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("REPRO_", "FAKE_"))}
        base.update(PATH=f"{self.bin}{os.pathsep}{os.environ['PATH']}", FAKE_LOG=str(self.log),
                    FAKE_S3=str(self.s3), HOME=str(self.root), **env)
        proc = subprocess.run(["bash", str(self.kit / "repro.sh"), *args], env=base,
                              cwd=self.root, capture_output=True, text=True, timeout=60)
        calls = [json.loads(x) for x in self.log.read_text(encoding="utf-8").splitlines()] \
            if self.log.exists() else []
        return proc, calls


def make_kit(tmp_path: Path, inv: Investigation, *, listing: dict[str, list[str]] | None = None,
             sample: int = 2, evidence: Evidence | None = None) -> Kit:
    kit = write_repro_kit(inv, tmp_path / "kit", evidence=evidence, sample=sample)
    return Kit(tmp_path, kit.resolve(), listing)


def run_cmd(calls: list[list[str]]) -> list[str]:
    runs = [c for c in calls if c[:2] == ["docker", "run"]]
    assert len(runs) == 1, calls
    return runs[0]


# ----------------------------------------------------------------------------- repro.sh run


def test_run_recreates_the_sagemaker_contract_and_runs_the_image_by_digest(tmp_path):
    listing = {
        "data-bkt/sets/train/": [f"sets/train/part-{i}.csv" for i in range(5)] + ["sets/train/"],
        "data-bkt/sets/val": ["sets/val/a.csv", "sets/val/sub/b.csv", "sets/val/c.csv"],
    }
    kit = make_kit(tmp_path, investigation(sm_facts()), listing=listing, sample=2)
    proc, calls = kit.run()
    assert proc.returncode == 0, proc.stderr
    ml = str(kit.ml)
    data = f"{ml}/input/data"
    assert calls == [
        # credentials checked once, before the first call that needs them
        ["aws", "sts", "get-caller-identity", "--query", "Account", "--output", "text",
         "--region=us-east-1"],
        ["aws", "s3api", "list-objects-v2", "--bucket=data-bkt", "--prefix=sets/train/",
         "--max-items=2", "--query=Contents[].[Key]", "--output=text", "--region=us-east-1"],
        ["aws", "s3", "cp", "s3://data-bkt/sets/train/part-0.csv", f"{data}/train/part-0.csv",
         "--only-show-errors", "--region=us-east-1"],
        ["aws", "s3", "cp", "s3://data-bkt/sets/train/part-1.csv", f"{data}/train/part-1.csv",
         "--only-show-errors", "--region=us-east-1"],
        ["aws", "s3api", "list-objects-v2", "--bucket=data-bkt", "--prefix=sets/val",
         "--max-items=2", "--query=Contents[].[Key]", "--output=text", "--region=us-east-1"],
        ["aws", "s3", "cp", "s3://data-bkt/sets/val/a.csv", f"{data}/val/a.csv",
         "--only-show-errors", "--region=us-east-1"],
        ["aws", "s3", "cp", "s3://data-bkt/sets/val/sub/b.csv", f"{data}/val/sub/b.csv",
         "--only-show-errors", "--region=us-east-1"],
        ["aws", "ecr", "get-login-password", "--region=us-east-1"],
        ["docker", "login", "--username", "AWS", "--password-stdin", REGISTRY],
        ["docker", "pull", "--platform", "linux/amd64", f"{REGISTRY}/trainer@{DIGEST}"],
        ["docker", "run", "--rm", "--platform", "linux/amd64",
         "-v", f"{ml}:/opt/ml", "--hostname", "algo-1",
         "-e", "TRAINING_JOB_NAME=train-7", "-e", f"TRAINING_JOB_ARN={JOB_ARN}",
         "-e", "WANDB_MODE", "-e", "HF_HOME", "--gpus", "all",
         f"{REGISTRY}/trainer@{DIGEST}", "train"],
    ]
    # The /opt/ml tree SageMaker would mount.
    config = kit.ml / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text()) == {"epochs": "3", "lr": "0.001"}
    assert json.loads((config / "resourceconfig.json").read_text())["current_host"] == "algo-1"
    res = json.loads((config / "resourceconfig.json").read_text())
    assert res["hosts"] == ["algo-1"] and res["network_interface_name"] == "eth0"
    assert set(json.loads((config / "inputdataconfig.json").read_text())) == {"train", "val"}
    assert sorted(p.name for p in (kit.ml / "input/data/train").iterdir()) == ["part-0.csv", "part-1.csv"]
    assert (kit.ml / "model").is_dir() and (kit.ml / "output" / "data").is_dir()
    # Environment values are never written into the kit, only the names.
    assert "/cache" not in (kit.kit / "repro.sh").read_text()


def test_cpu_instance_gets_no_gpus_and_arguments_replace_train(tmp_path):
    facts = sm_facts(**{"sagemaker.instance_type": "ml.m5.xlarge", "instance.gpu_count": None,
                        "sagemaker.arguments": ["--epochs", "3"],
                        "sagemaker.input_channels": [], "sagemaker.input_uris": []})
    kit = make_kit(tmp_path, investigation(facts))
    proc, calls = kit.run()
    assert proc.returncode == 0, proc.stderr
    cmd = run_cmd(calls)
    assert "--gpus" not in cmd
    assert cmd[-3:] == [f"{REGISTRY}/trainer@{DIGEST}", "--epochs", "3"]


def test_gpu_count_fact_wins_over_the_instance_family(tmp_path):
    facts = sm_facts(**{"instance.gpu_count": 0})
    proc, calls = make_kit(tmp_path, investigation(facts)).run("run")
    assert proc.returncode == 0 and "--gpus" not in run_cmd(calls)


def test_entrypoint_override_is_passed_as_sagemaker_does(tmp_path):
    facts = sm_facts(**{"sagemaker.entrypoint": ["python3", "-u", "/opt/code/train.py"],
                        "sagemaker.arguments": ["--config", "a b.yaml"]})
    proc, calls = make_kit(tmp_path, investigation(facts)).run()
    assert proc.returncode == 0, proc.stderr
    cmd = run_cmd(calls)
    i = cmd.index("--entrypoint=python3")
    assert cmd[i + 1 :] == [f"{REGISTRY}/trainer@{DIGEST}", "-u", "/opt/code/train.py",
                            "--config", "a b.yaml"]


def test_arm64_image_on_x86_instance_runs_as_the_host_did(tmp_path):
    facts = sm_facts(**{"ecr.image_architecture": "arm64", "instance.cpu_arch": "x86_64"})
    kit = make_kit(tmp_path, investigation(facts))
    proc, calls = kit.run("pull")
    assert proc.returncode == 0, proc.stderr
    assert calls[-1] == ["docker", "pull", "--platform", "linux/amd64", f"{REGISTRY}/trainer@{DIGEST}"]
    assert "reproduces the mismatch" in (kit.kit / "repro.sh").read_text()
    only_image = sm_facts(**{"ecr.image_architecture": "arm64"})
    proc, calls = make_kit(tmp_path / "b", investigation(only_image)).run("pull")
    assert calls[-1][2:4] == ["--platform", "linux/arm64"]


def test_without_digest_pulls_the_tag_and_warns(tmp_path):
    facts = sm_facts(**{"ecr.image_digest": None})
    proc, calls = make_kit(tmp_path, investigation(facts)).run("pull")
    assert proc.returncode == 0, proc.stderr
    assert calls[-1] == ["docker", "pull", "--platform", "linux/amd64", f"{REGISTRY}/trainer:latest"]
    assert "WARNING: pulling by tag" in proc.stderr


def test_non_ecr_image_is_pulled_without_ecr_login(tmp_path):
    facts = sm_facts(**{"sagemaker.image": "docker.io/library/python:3.11", "ecr.image_digest": None,
                        "ecr.repository": None})
    proc, calls = make_kit(tmp_path, investigation(facts)).run("pull")
    assert proc.returncode == 0, proc.stderr
    assert calls == [["docker", "pull", "--platform", "linux/amd64", "docker.io/library/python:3.11"]]


def test_processing_job_runs_the_image_entrypoint_without_train(tmp_path):
    facts = sm_facts(**{"sagemaker.job_kind": "processing"})
    kit = make_kit(tmp_path, investigation(facts))
    _, calls = kit.run()
    assert run_cmd(calls)[-1] == f"{REGISTRY}/trainer@{DIGEST}"
    _, calls = kit.run("check")
    assert ["aws", "sagemaker", "describe-processing-job", "--processing-job-name=train-7",
            "--region=us-east-1"] in calls


def test_sample_zero_and_bad_sample(tmp_path):
    kit = make_kit(tmp_path, investigation(sm_facts()), sample=0)
    proc, calls = kit.run("prepare")
    assert proc.returncode == 0, proc.stderr
    assert calls == [] and (kit.ml / "input/data/train").is_dir()
    proc, calls = kit.run("prepare", REPRO_SAMPLE="3; touch x")
    assert proc.returncode == 2 and "REPRO_SAMPLE must be a whole number" in proc.stderr


def test_repro_image_runs_a_local_image_with_the_same_contract(tmp_path):
    proc, calls = make_kit(tmp_path, investigation(sm_facts())).run(REPRO_IMAGE="trainer:fix")
    assert proc.returncode == 0, proc.stderr
    assert not [c for c in calls if c[1] in ("login", "pull") or c[:2] == ["aws", "ecr"]]
    assert run_cmd(calls)[-2:] == ["trainer:fix", "train"]


# ----------------------------------------------------------------------------- hostile values

HOSTILE = "it's \"quoted\" $(touch {pwn}) `touch {pwn}` ${{HOME}} a  b\nsecond line; rm -rf ~"


def test_hostile_values_arrive_intact_and_nothing_is_executed(tmp_path):
    pwn = tmp_path / "pwned"
    evil = HOSTILE.format(pwn=pwn)
    prefix = f"in put/{evil}/"
    flat_prefix = "it's $(touch " + str(pwn) + ") `x`/"
    facts = sm_facts(**{
        "sagemaker.job_name": evil,
        "sagemaker.hyperparameters": {"msg": evil, "lr": "1e-3", evil: "key too"},
        "sagemaker.input_channels": ["train", "val", "../../etc", "ok"],
        "sagemaker.input_uris": [f"s3://data-bkt/{prefix}", f"s3://data-bkt/{flat_prefix}",
                                 "s3://data-bkt/x", "s3://b$(touch pwned2)/p"],
        "sagemaker.environment": {"GOOD_NAME": "v", f"BAD;touch {pwn}": "v"},
        "sagemaker.entrypoint": ["python3", "-c", evil],
    })
    listing = {
        f"data-bkt/{flat_prefix}": [f"{flat_prefix}a $(touch {pwn}).csv", f"{flat_prefix}`b`.csv",
                                    f"{flat_prefix}../../escape.csv"],
        f"data-bkt/{prefix}": [f"{prefix}x.csv"],  # holds a newline: comes back in pieces
    }
    inv = investigation(facts, title=f"boom\n touch {pwn}", repro=[f"echo {evil}"])
    kit = make_kit(tmp_path, inv, listing=listing, sample=5)
    proc, calls = kit.run()
    assert proc.returncode == 0, proc.stderr
    proc_check, check_calls = kit.run("check")
    assert proc_check.returncode == 0, proc_check.stderr
    assert not pwn.exists(), "a value from the evidence was executed"

    cmd = run_cmd(calls)
    assert f"TRAINING_JOB_NAME={evil}" in cmd
    assert cmd[cmd.index("--entrypoint=python3") + 2 :] == ["-c", evil]
    assert "GOOD_NAME" in cmd and not any("BAD" in a for a in cmd)
    lists = [c for c in calls if c[:3] == ["aws", "s3api", "list-objects-v2"]]
    assert [c[4] for c in lists] == [f"--prefix={prefix}", f"--prefix={flat_prefix}", "--prefix=p"]
    assert lists[2][3] == "--bucket=b$(touch pwned2)"
    assert not (tmp_path / "pwned2").exists()
    copies = [c for c in calls if c[:3] == ["aws", "s3", "cp"]]
    data = kit.ml / "input" / "data" / "val"
    assert copies == [
        ["aws", "s3", "cp", f"s3://data-bkt/{flat_prefix}a $(touch {pwn}).csv",
         f"{data}/a $(touch {pwn}).csv", "--only-show-errors", "--region=us-east-1"],
        ["aws", "s3", "cp", f"s3://data-bkt/{flat_prefix}`b`.csv", f"{data}/`b`.csv",
         "--only-show-errors", "--region=us-east-1"],
    ]
    assert (data / f"a $(touch {pwn}).csv").exists()
    assert not (kit.ml / "input" / "escape.csv").exists()
    hps = json.loads((kit.ml / "input/config/hyperparameters.json").read_text(encoding="utf-8"))
    assert hps == {"msg": evil, "lr": "1e-3", evil: "key too"}
    channels = json.loads((kit.ml / "input/config/inputdataconfig.json").read_text())
    assert set(channels) == {"train", "val", "ok"}  # the traversal name is dropped
    assert ["aws", "sagemaker", "describe-training-job", f"--training-job-name={evil}",
            "--region=us-east-1"] in check_calls
    assert "echo " + evil.replace("\n", " ") in proc_check.stdout  # one line, as written


def test_hostile_image_uri_is_not_used(tmp_path):
    pwn = tmp_path / "pwned"
    facts = sm_facts(**{"sagemaker.image": f"-v/:/host $(touch {pwn})", "ecr.image_digest": None})
    kit = make_kit(tmp_path, investigation(facts))
    proc, calls = kit.run("run")
    assert proc.returncode == 2 and "image is unknown" in proc.stderr
    assert not [c for c in calls if c[0] == "docker"] and not pwn.exists()


def test_secrets_become_placeholders_and_never_reach_the_kit(tmp_path):
    token = "hf_" + "S3cr3tT0k3nValue" * 2
    facts = sm_facts(**{
        "sagemaker.hyperparameters": {"hf_token": token, "lr": "0.1",
                                      "cmd": f"--token {token} --x 1"},
        "sagemaker.arguments": ["--api-key", token],
        "sagemaker.environment": {"HUGGINGFACE_TOKEN": token},
    })
    kit = make_kit(tmp_path, investigation(facts))
    for path in kit.kit.rglob("*"):
        if path.is_file():
            assert token not in path.read_text(encoding="utf-8"), path
    hps = json.loads((kit.kit / "config/hyperparameters.json").read_text())
    assert hps["hf_token"] == FILL_ME and hps["lr"] == "0.1"
    assert FILL_ME in hps["cmd"] and "--x 1" in hps["cmd"]
    script = (kit.kit / "repro.sh").read_text()
    assert "FILL IN: hyperparameter hf_token" in script
    proc, calls = kit.run()
    assert "hyperparameters.json holds redacted secrets" in proc.stderr
    assert run_cmd(calls)[-2:] == ["--api-key", FILL_ME]
    cmd = run_cmd(calls)
    assert cmd[cmd.index("HUGGINGFACE_TOKEN") - 1] == "-e"


# ----------------------------------------------------------------------------- check mode


def test_check_runs_read_only_commands_for_each_piece_of_evidence(tmp_path):
    evidence = Evidence(target=Target(kind="execution", name=EXEC_ARN), facts=sm_facts(),
                        logs=[LogStream(name=STREAM, group="/custom/group",
                                        events=[LogEvent(message="x")])])
    inv = investigation(sm_facts(), kind="execution", category="permissions")
    kit = make_kit(tmp_path, inv, evidence=evidence)
    proc, calls = kit.run("check", FAKE_FAIL="--execution-arn")
    # One failing check does not stop the rest, but `check` says so and exits non-zero.
    assert proc.returncode == 1, proc.stderr
    assert "could not be re-checked" in proc.stderr
    assert "repro.sh: check: 2 of 8 checks failed" in proc.stderr
    t = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
    region = "--region=us-east-1"
    assert calls.pop(0)[:3] == ["aws", "sts", "get-caller-identity"]
    assert calls == [
        ["aws", "sagemaker", "describe-training-job", "--training-job-name=train-7", region],
        ["aws", "logs", "get-log-events", "--log-group-name=/custom/group",
         f"--log-stream-name={STREAM}", f"--start-time={t - 60000}", f"--end-time={t + 60000}",
         "--start-from-head", region],
        ["aws", "ecr", "describe-images", f"--registry-id={ACCOUNT}", "--repository-name=trainer",
         f"--image-ids=imageDigest={DIGEST}", region],
        ["aws", "stepfunctions", "describe-execution", f"--execution-arn={EXEC_ARN}", region],
        ["aws", "stepfunctions", "get-execution-history", f"--execution-arn={EXEC_ARN}",
         "--reverse-order", "--max-items=50", region],
        ["aws", "s3api", "list-objects-v2", "--bucket=data-bkt", "--prefix=sets/train/",
         "--max-items=5", region],
        ["aws", "s3api", "list-objects-v2", "--bucket=data-bkt", "--prefix=sets/val",
         "--max-items=5", region],
        ["aws", "iam", "get-role", "--role-name=SMRole"],
    ]
    assert "python -c 'import foo'" in proc.stdout


# ----------------------------------------------------------------------------- log-only kits


RULE = parse_rule({
    "id": "cuda-libcusparselt-missing", "title": "libcusparseLt missing", "category": "cuda",
    "confidence": "high", "retryable": False,
    "patterns": {"any": [r"libcusparseLt\.so(?:\.\d+)*: cannot open shared object file"]},
    "explanation": "PyTorch cannot load libcusparseLt from the image.",
    "remediation": ["Install torch with its CUDA wheels."],
    "repro": ["python -c 'import torch'", "pip list | grep -i cusparselt"],
    "references": ["https://github.com/pytorch/pytorch/issues/146500"],
    "examples": [{"name": "m", "expect": "match", "log": "libcusparseLt.so.0: cannot open shared object file"},
                 {"name": "n", "expect": "no-match", "log": "fine"}],
})


def _log_investigation(tmp_path: Path) -> Investigation:
    # A fixed one-rule library: these tests are about the kit, not the live playbooks.
    log = tmp_path / "train.log"
    log.write_text("epoch 1\nTraceback (most recent call last):\n"
                   "OSError: libcusparseLt.so.0: cannot open shared object file: No such file\n")
    return investigate_log(str(log), Library.build([RULE]))


def test_log_only_kit_checks_the_cited_lines_and_needs_an_image_to_run(tmp_path):
    inv = _log_investigation(tmp_path)
    kit = make_kit(tmp_path, inv, sample=0)
    script = (kit.kit / "repro.sh").read_text()
    assert "The image and the job are unknown" in script
    proc, calls = kit.run()  # default mode is `check` when the image is unknown
    assert proc.returncode == 0, proc.stderr
    assert calls == [] and "3:OSError: libcusparseLt.so.0" in proc.stdout
    for command in inv.finding.repro:
        assert command in proc.stdout
    proc, calls = kit.run("run")
    assert proc.returncode == 2 and "image is unknown" in proc.stderr and calls == []
    proc, calls = kit.run("run", REPRO_IMAGE="myimage:fix")
    assert proc.returncode == 0, proc.stderr
    assert run_cmd(calls) == ["docker", "run", "--rm", "--platform", "linux/amd64",
                              "-v", f"{kit.ml}:/opt/ml", "--hostname", "algo-1",
                              "myimage:fix", "train"]


def test_cli_log_writes_a_repro_kit(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("OSError: libcusparseLt.so.0: cannot open shared object file\n")
    out = tmp_path / "kit"
    result = CliRunner().invoke(cli_main, ["log", str(log), "--format", "json", "--repro", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "repro.sh").stat().st_mode & 0o111
    assert (out / "repro_local.py").is_file() and (out / "config/hyperparameters.json").is_file()


# ----------------------------------------------------------------------------- lint

KITS = {
    "sagemaker": lambda: investigation(sm_facts(**{"sagemaker.entrypoint": ["python3", "x.py"]})),
    "hostile": lambda: investigation(
        sm_facts(**{"sagemaker.job_name": HOSTILE.format(pwn="/tmp/p"),
                    "sagemaker.input_uris": [f"s3://b/{HOSTILE}", "s3://b/v"],
                    "sagemaker.hyperparameters": {"a": HOSTILE}}),
        title="x\n$(y)", repro=["echo '$(z)'\n`w`"]),
    "cpu-no-digest": lambda: investigation(sm_facts(**{"ecr.image_digest": None,
                                                       "sagemaker.instance_type": "ml.c5.xlarge",
                                                       "instance.gpu_count": 0})),
}


@pytest.mark.parametrize("name", sorted(KITS))
def test_generated_scripts_pass_bash_n_shellcheck_and_py_compile(tmp_path, name):
    kit = write_repro_kit(KITS[name](), tmp_path / name)
    subprocess.run(["bash", "-n", str(kit / "repro.sh")], check=True)
    py_compile.compile(str(kit / "repro_local.py"), doraise=True)
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (Debian package `shellcheck`; `make system-deps`)")
    result = subprocess.run(["shellcheck", "-s", "bash", str(kit / "repro.sh")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_log_kit_passes_shellcheck(tmp_path):
    kit = write_repro_kit(_log_investigation(tmp_path), tmp_path / "kit")
    subprocess.run(["bash", "-n", str(kit / "repro.sh")], check=True)
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (Debian package `shellcheck`; `make system-deps`)")
    result = subprocess.run(["shellcheck", str(kit / "repro.sh")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


# ----------------------------------------------------------------------------- repro_local.py

FAKE_SDK = {
    "sagemaker/__init__.py": "__version__ = {version!r}\n",
    "sagemaker/_rec.py": (
        "import json, os\n"
        "def rec(what, **kw):\n"
        "    with open(os.environ['FAKE_SDK_LOG'], 'a') as fh:\n"
        "        fh.write(json.dumps([what, kw], default=lambda o: o.__dict__) + '\\n')\n"
    ),
    # v3
    "sagemaker/train/__init__.py": "",
    "sagemaker/train/model_trainer.py": (
        "import enum\nfrom sagemaker._rec import rec\n"
        "class Mode(enum.Enum):\n    LOCAL_CONTAINER = 'LOCAL_CONTAINER'\n"
        "    SAGEMAKER_TRAINING_JOB = 'SAGEMAKER_TRAINING_JOB'\n"
        "class ModelTrainer:\n"
        "    def __init__(self, **kw):\n"
        "        kw['training_mode'] = kw['training_mode'].value\n"
        "        rec('ModelTrainer', **kw)\n"
        "    def train(self, **kw):\n        rec('train', **kw)\n"
    ),
    "sagemaker/core/__init__.py": "",
    "sagemaker/core/training/__init__.py": "",
    "sagemaker/core/training/configs.py": (
        "class Compute:\n    def __init__(self, **kw):\n        self.__dict__.update(kw)\n"
        "class InputData:\n    def __init__(self, **kw):\n        self.__dict__.update(kw)\n"
    ),
    # v2
    "sagemaker/estimator.py": (
        "from sagemaker._rec import rec\n"
        "class Estimator:\n"
        "    def __init__(self, **kw):\n"
        "        kw.pop('sagemaker_session')\n        rec('Estimator', **kw)\n"
        "    def fit(self, inputs, **kw):\n        rec('fit', inputs=inputs, **kw)\n"
    ),
    "sagemaker/local/__init__.py": "class LocalSession:\n    config = None\n",
}


def _fake_sdk(root: Path, version: str) -> Path:
    for rel, text in FAKE_SDK.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(version=version) if "{version" in text else text)
    return root


def _run_local(kit: Path, sdk: Path | None, tmp_path: Path, **env: str):
    log = tmp_path / "sdk.jsonl"
    log.unlink(missing_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REPRO_", "PYTHON"))}
    base.update(FAKE_SDK_LOG=str(log), PYTHONPATH=str(sdk) if sdk else "", **env)
    # -S: no site-packages, so only the fake SDK (or none) can be imported.
    proc = subprocess.run([sys.executable, "-S", str(kit / "repro_local.py")], env=base,
                          capture_output=True, text=True, timeout=60)
    calls = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    return proc, calls


def _local_kit(tmp_path: Path, **over: Any) -> Path:
    facts = sm_facts(**{"sagemaker.hyperparameters": {"msg": HOSTILE.format(pwn="/tmp/p")},
                        "sagemaker.environment": {"HF_HOME": "x", "UNSET_ONE": "y"}, **over})
    kit = write_repro_kit(investigation(facts), tmp_path / "kit")
    for ch in ("train", "val"):
        (kit / "work/ml/input/data" / ch).mkdir(parents=True)
    return kit


def test_repro_local_v3_uses_model_trainer_local_container(tmp_path):
    kit = _local_kit(tmp_path)
    proc, calls = _run_local(kit, _fake_sdk(tmp_path / "v3", "3.27.0"), tmp_path, HF_HOME="/h")
    assert proc.returncode == 0, proc.stderr
    assert "not set in your shell, so not passed: UNSET_ONE" in proc.stderr
    (ctor, kw), (train, tkw) = calls
    assert ctor == "ModelTrainer" and train == "train"
    assert kw["training_image"] == f"{REGISTRY}/trainer@{DIGEST}"
    assert kw["training_mode"] == "LOCAL_CONTAINER"
    assert kw["compute"] == {"instance_type": "local_gpu", "instance_count": 1}
    assert kw["hyperparameters"] == {"msg": HOSTILE.format(pwn="/tmp/p")}
    assert kw["environment"] == {"HF_HOME": "/h"}
    data = kit.resolve() / "work/ml/input/data"
    assert tkw["input_data_config"] == [
        {"channel_name": "train", "data_source": str(data / "train")},
        {"channel_name": "val", "data_source": str(data / "val")},
    ]
    assert tkw["wait"] is True


def test_repro_local_v2_uses_estimator_local_mode_with_overrides(tmp_path):
    kit = _local_kit(tmp_path, **{"sagemaker.entrypoint": ["python3", "t.py"],
                                  "sagemaker.instance_type": "ml.m5.large",
                                  "instance.gpu_count": 0})
    proc, calls = _run_local(kit, _fake_sdk(tmp_path / "v2", "2.232.0"), tmp_path)
    assert proc.returncode == 0, proc.stderr
    (ctor, kw), (fit, fkw) = calls
    assert ctor == "Estimator" and fit == "fit"
    assert kw["instance_type"] == "local" and kw["container_entry_point"] == ["python3", "t.py"]
    assert kw["image_uri"] == f"{REGISTRY}/trainer@{DIGEST}"
    assert kw["role"] == f"arn:aws:iam::{ACCOUNT}:role/service-role/SMRole"
    data = kit.resolve() / "work/ml/input/data"
    assert fkw["inputs"] == {"train": (data / "train").as_uri(), "val": (data / "val").as_uri()}


def test_repro_local_explains_missing_sdk_missing_data_and_v3_overrides(tmp_path):
    kit = _local_kit(tmp_path)
    proc, calls = _run_local(kit, None, tmp_path)
    assert proc.returncode == 2 and "SageMaker Python SDK is not installed" in proc.stderr
    assert "Traceback" not in proc.stderr
    shutil.rmtree(kit / "work")
    proc, _ = _run_local(kit, _fake_sdk(tmp_path / "v3", "3.1.0"), tmp_path)
    assert proc.returncode == 2 and "run ./repro.sh prepare first" in proc.stderr
    kit2 = _local_kit(tmp_path / "o", **{"sagemaker.arguments": ["--x"]})
    proc, calls = _run_local(kit2, tmp_path / "v3", tmp_path)
    assert proc.returncode == 2 and "use ./repro.sh run" in proc.stderr and calls == []


# ----------------------------------------------------------------------------- issue 13: 9, 10, 13

GPU_DRIVER_ERROR = ('docker: Error response from daemon: could not select device driver "" '
                    "with capabilities: [[gpu]].\n")


def test_commands_in_the_kit_pin_the_image_by_digest(tmp_path):
    inv = investigation(sm_facts(), repro=[f"docker run --rm {REGISTRY}/trainer:latest nvidia-smi"])
    kit = make_kit(tmp_path, inv)
    script = (kit.kit / "repro.sh").read_text()
    assert f"{REGISTRY}/trainer:latest" not in script
    assert f"docker run --rm {REGISTRY}/trainer@{DIGEST} nvidia-smi" in script
    proc, _ = kit.run("check")
    assert f"{REGISTRY}/trainer@{DIGEST} nvidia-smi" in proc.stdout


def test_a_host_without_a_gpu_runtime_stops_with_one_clear_line(tmp_path):
    kit = make_kit(tmp_path, investigation(sm_facts(**{"sagemaker.input_channels": [],
                                                        "sagemaker.input_uris": []})))
    proc, _ = kit.run("run", FAKE_FAIL="--gpus", FAKE_STDERR=GPU_DRIVER_ERROR, FAKE_CODE="125")
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("repro.sh: run: docker on this host has no GPU runtime")
    assert "REPRO_GPUS=none ./repro.sh run" in last


def test_repro_gpus_none_runs_without_gpus_and_says_paths_differ(tmp_path):
    kit = make_kit(tmp_path, investigation(sm_facts(**{"sagemaker.input_channels": [],
                                                        "sagemaker.input_uris": []})))
    proc, calls = kit.run("run", REPRO_GPUS="none")
    assert proc.returncode == 0, proc.stderr
    assert "--gpus" not in run_cmd(calls)
    assert "GPU code paths will differ" in proc.stderr


def test_the_container_exit_code_comes_back_with_the_step_named(tmp_path):
    kit = make_kit(tmp_path, investigation(sm_facts(**{"sagemaker.input_channels": [],
                                                        "sagemaker.input_uris": []})))
    proc, _ = kit.run("run", FAKE_FAIL="train", FAKE_CODE="3")
    assert proc.returncode == 3
    assert "repro.sh: run: the container exited with code 3" in proc.stderr


def test_no_credentials_is_one_clear_line(tmp_path):
    kit = make_kit(tmp_path, investigation(sm_facts()))
    err = "Unable to locate credentials. You can configure credentials by running \"aws configure\".\n"
    proc, calls = kit.run("run", FAKE_FAIL="get-caller-identity", FAKE_STDERR=err)
    assert proc.returncode == 2 and len(calls) == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("repro.sh: prepare: no usable AWS credentials")
    assert "Unable to locate credentials" in lines[0]


def test_a_channel_that_cannot_be_read_is_named_with_why(tmp_path):
    kit = make_kit(tmp_path, investigation(sm_facts()))
    err = "An error occurred (AccessDenied) when calling the ListObjectsV2 operation: Access Denied\n"
    proc, _ = kit.run("prepare", FAKE_FAIL="--prefix=sets/val", FAKE_STDERR=err)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last == ("repro.sh: prepare: channel val: cannot list s3://data-bkt/sets/val: "
                    + err.strip())


def test_check_passes_only_when_every_check_passed(tmp_path):
    kit = make_kit(tmp_path, investigation(sm_facts()))
    assert kit.run("check")[0].returncode == 0
    assert kit.run("check", FAKE_FAIL="--training-job-name")[0].returncode == 1
