"""Realistic investigations for the report tests, built from the models as the engine would.

- `sfn_inv`: a Step Functions pipeline whose SageMaker training step failed because a new
  image's torch cannot load libcusparseLt — facts, timeline, gaps, alternatives,
  inconclusive rules, changes since the last good run, evidence with context and spans.
- `log_inv`: `investigate log` on a saved CI log (no AWS facts, no timeline).
- `none_inv`: a finished job whose log had only handled noise.
- `hostile_inv`: log text and hyperparameters written by an attacker or a careless user:
  HTML/JS injection, terminal escapes, bidi overrides, huge lines, backtick runs, secrets.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from investigator.models import (
    Alternative,
    Change,
    EvidenceLine,
    Finding,
    Gap,
    Inconclusive,
    Investigation,
    JobInfo,
    Target,
    TimelineEvent,
)

T0 = datetime(2024, 6, 3, 9, 12, 0, tzinfo=UTC)
EXEC_ARN = "arn:aws:states:us-east-1:123456789012:execution:train-pipeline:nightly-2024-06-03"
JOB = "llama-sft-nightly-2024-06-03-0912"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/llm-train:2024.06.03"
DIGEST = "sha256:9f2b7c1d5e8a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c"
STREAM = f"{JOB}/algo-1-1717405980"

# Secrets that must never reach any format (every shape redact.py knows is pinned in
# tests/test_redact.py; these three cover the paths a report takes).
HF_TOKEN = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345"
AKIA = "AKIAIOSFODNN7EXAMPLE"
WANDB_KEY = "3f9a6c1e2b7d4a5f8c0e1d2b3a4f5e6d7c8b9a00"
SECRETS = (HF_TOKEN, AKIA, WANDB_KEY)

CUSPARSE_ERR = "OSError: libcusparseLt.so.0: cannot open shared object file: No such file or directory"
REASON = (
    "AlgorithmError: ExecuteUserScriptError: ExitCode 1 ErrorMessage "
    '"OSError: libcusparseLt.so.0: cannot open shared object file"'
)
REPRO_CMDS = [
    "python -c 'import torch; print(torch.cuda.is_available())'",
    "pip list 2>/dev/null | grep -i -E 'torch|nvidia-cusparselt'",
    f"aws sagemaker describe-training-job --training-job-name {JOB} --query FailureReason",
]


def _t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _finding(**over) -> Finding:
    start = CUSPARSE_ERR.index("libcusparseLt.so.0: cannot open shared object file")
    base = dict(
        category="cuda",
        rule="cuda-libcusparselt-missing",
        title="PyTorch cannot load libcusparseLt (CUDA library missing from the image)",
        confidence=0.9,
        confidence_label="high",
        retryable=False,
        explanation=(
            "PyTorch 2.x CUDA wheels load libcusparseLt from the nvidia-cusparselt-cu12 wheel at "
            f"import time. The image ({IMAGE}) has a torch build that expects it but the library "
            "is not on the loader path."
        ),
        remediation=[
            "Install torch together with its CUDA companion wheels from one index "
            "(no `--no-deps`).",
            "Do not mix apt CUDA libraries with the pip nvidia-* wheels.",
            "Check inside the image: `python -c 'import torch; print(torch.__version__)'`.",
        ],
        evidence=[
            EvidenceLine(
                source="logs",
                stream=STREAM,
                line=212,
                text=CUSPARSE_ERR,
                timestamp=_t(750),
                before=[
                    'Traceback (most recent call last):',
                    '  File "/opt/ml/code/train.py", line 3, in <module>',
                    "    import torch",
                    '  File "/opt/conda/lib/python3.11/site-packages/torch/__init__.py", line 367',
                ],
                after=["2024-06-03 09:24:30 sagemaker-training-toolkit ERROR Reporting training FAILURE"],
                span=(start, start + len("libcusparseLt.so.0: cannot open shared object file")),
            ),
            EvidenceLine(
                source="sagemaker.failure_reason",
                stream=None,
                line=None,
                text=REASON,
                span=(REASON.index("libcusparseLt"), REASON.index("libcusparseLt") + 18),
            ),
        ],
        repro=list(REPRO_CMDS),
        references=["https://github.com/pytorch/pytorch/issues/146500"],
    )
    base.update(over)
    return Finding(**base)


def _facts() -> dict:
    return {
        "sagemaker.job_name": JOB,
        "sagemaker.job_arn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}",
        "sagemaker.job_kind": "training",
        "sagemaker.status": "Failed",
        "sagemaker.secondary_status": "Failed",
        "sagemaker.failure_reason": "AlgorithmError: ExecuteUserScriptError: ExitCode 1",
        "sagemaker.instance_type": "ml.g5.2xlarge",
        "sagemaker.instance_count": 1,
        "sagemaker.image": IMAGE,
        "sagemaker.role_arn": "arn:aws:iam::123456789012:role/SageMakerTrainRole",
        "sagemaker.max_runtime_s": 86400,
        "sagemaker.input_channels": ["train", "validation"],
        "sagemaker.hyperparameters": {
            "epochs": "3",
            "learning_rate": "2e-05",
            "model_id": "meta-llama/Llama-3.1-8B",
            "hf_token": HF_TOKEN,
            "wandb_api_key": WANDB_KEY,
        },
        "instance.gpu_model": "A10G",
        "instance.gpu_count": 1,
        "instance.gpu_memory_gb": 24,
        "instance.compute_capability": 8.6,
        "instance.cpu_arch": "x86_64",
        "instance.vcpus": 8,
        "instance.memory_gb": 32,
        "instance.accelerator": "nvidia",
        "ecr.image_digest": DIGEST,
        "ecr.image_architecture": "amd64",
        "ecr.image_pushed_at": "2024-06-03T08:55:41+00:00",
        "sfn.execution_arn": EXEC_ARN,
        "sfn.status": "FAILED",
        "sfn.error": "States.TaskFailed",
        "sfn.cause": f"Training job {JOB} failed: AlgorithmError: ExecuteUserScriptError",
        "sfn.failed_state": "Train",
    }


def _timeline() -> list[TimelineEvent]:
    return [
        TimelineEvent(time=_t(0), end=_t(95), source="sfn", event="Preprocess"),
        TimelineEvent(time=_t(95), end=_t(770), source="sfn", event="Train (TaskFailed)"),
        TimelineEvent(time=_t(770), end=_t(772), source="sfn", event="NotifyOnCall"),
        TimelineEvent(time=_t(97), end=_t(260), source="sagemaker", event="Starting"),
        TimelineEvent(time=_t(260), end=_t(700), source="sagemaker", event="Downloading"),
        TimelineEvent(time=_t(700), end=_t(752), source="sagemaker", event="Training"),
        TimelineEvent(time=_t(752), source="sagemaker", event="Failed"),
        TimelineEvent(time=_t(702), source="logs", event="first log event"),
        TimelineEvent(time=_t(751), source="logs", event="last log event"),
    ]


def make_sfn_inv() -> Investigation:
    return Investigation(
        source=EXEC_ARN,
        target=Target(kind="execution", name=EXEC_ARN, region="us-east-1"),
        finding=_finding(),
        alternatives=[
            Alternative(
                category="deps",
                rule="deps-undefined-symbol",
                confidence=0.55,
                title="Native extension built against another torch (undefined symbol)",
                why_lower="its lines come before the final exception; libcusparseLt explains the traceback's end",
            ),
            Alternative(
                category="unknown",
                rule="unknown-python-traceback",
                confidence=0.3,
                title="Unexplained Python traceback",
                why_lower="a specific rule explains the same lines",
            ),
        ],
        inconclusive=[
            Inconclusive(
                category="platform",
                rule="platform-image-arch-mismatch",
                title="Image built for another CPU architecture",
                missing_sources=["ecr"],
                missing_permissions=["ecr:BatchGetImage"],
            )
        ],
        failed_state="Train",
        job=JobInfo(
            name=JOB,
            arn=f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}",
            kind="training",
            status="Failed",
            secondary_status="Failed",
            failure_reason="AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "
            '"OSError: libcusparseLt.so.0: cannot open shared object file"',
            instance_type="ml.g5.2xlarge",
            instance_count=1,
            image=IMAGE,
            created=_t(96),
            started=_t(97),
            ended=_t(752),
        ),
        facts=_facts(),
        timeline=_timeline(),
        gaps=[
            Gap(
                source="ecr",
                code="AccessDenied",
                message="User is not authorized to perform: ecr:BatchGetImage on repository llm-train",
                missing_permission="ecr:BatchGetImage",
            )
        ],
        changes=[
            Change(field="ecr.image_digest", before="sha256:1a2b3c4d5e6f", after=DIGEST),
            Change(field="hyperparameters.learning_rate", before="1e-05", after="2e-05"),
            Change(field="sagemaker.instance_type", before="ml.g4dn.2xlarge", after="ml.g5.2xlarge"),
        ],
        last_good="nightly-2024-06-02",
        api_calls=14,
        elapsed_s=2.4,
    )


def make_log_inv() -> Investigation:
    text = "ModuleNotFoundError: No module named 'flash_attn'"
    return Investigation(
        source="ci/build-4711.log",
        target=Target(kind="log", name="ci/build-4711.log"),
        finding=Finding(
            category="deps",
            rule="deps-module-not-found",
            title="A Python module is not installed in the image (flash_attn)",
            confidence=0.75,
            confidence_label="medium",
            retryable=False,
            explanation="The training script imports flash_attn, which is not installed.",
            remediation=["Add flash_attn to the image's requirements and rebuild."],
            evidence=[
                EvidenceLine(
                    source="logs",
                    stream="ci/build-4711.log",
                    line=88,
                    text=text,
                    before=["  File \"train.py\", line 9, in <module>", "    import flash_attn"],
                    span=(0, len("ModuleNotFoundError")),
                )
            ],
            repro=["python -c 'import flash_attn'"],
        ),
    )


def make_none_inv() -> Investigation:
    return Investigation(
        source="runs/ok.log",
        target=Target(kind="log", name="runs/ok.log"),
        finding=Finding(
            category="none",
            rule="no-failure-evidence",
            title="No failure found in the evidence",
            confidence=0.6,
            confidence_label="medium",
            retryable=False,
            explanation="No playbook matched and no failure marker was found in the evidence.",
            remediation=["Nothing to fix from this evidence."],
        ),
    )


# Attacker-controlled strings, each with what must NOT survive into a rendered report.
SCRIPT = "<script>alert('pwn')</script>"
IMG = '"><img src=x onerror=alert(1)>'
OSC = "\x1b]0;pwn\x07"
CSI = "\x1b[31m"
BIDI = "\u202eevil"
TICKS = "`````"
LONG = "A" * 20000


def make_hostile_inv() -> Investigation:
    hostile = f"{SCRIPT} {IMG} {OSC}{CSI}red {BIDI} {TICKS} HF_TOKEN={HF_TOKEN} key {AKIA}"
    line = f"RuntimeError: {hostile}"
    return Investigation(
        source=f"logs/{IMG}.log",
        target=Target(kind="log", name=f"logs/{IMG}.log"),
        finding=Finding(
            category="code",
            rule="code-runtime-error",
            title=f"Runtime error {SCRIPT}",
            confidence=0.55,
            confidence_label="low",
            retryable=True,
            explanation=f"The script raised {hostile} | and | pipes",
            remediation=[f"Fix {IMG} then {OSC}rerun", f"Rotate {AKIA}"],
            evidence=[
                EvidenceLine(
                    source="logs",
                    stream=f"stream{IMG}",
                    line=3,
                    text=line,
                    timestamp=T0,
                    before=[f"export HF_TOKEN={HF_TOKEN}", f"{CSI}{SCRIPT}"],
                    after=[f"{LONG}<b>tail</b>", f"``` {SCRIPT} ```"],
                    span=(0, len("RuntimeError")),
                ),
                EvidenceLine(source="logs", stream="s2", line=9, text=f"{LONG} RuntimeError {LONG}",
                             span=(20001, 20013)),
            ],
            repro=[f"python train.py --tag '{IMG}' --token {HF_TOKEN}", f"echo {TICKS}{SCRIPT}"],
            references=["javascript:alert(1)", "https://example.com/ok"],
        ),
        alternatives=[
            Alternative(category="unknown", rule="unknown-x", confidence=0.2, title=SCRIPT,
                        why_lower=f"{IMG} | {OSC}")
        ],
        inconclusive=[
            Inconclusive(category="paths", rule="paths-x", title=IMG, missing_sources=["logs"],
                         missing_permissions=[f"logs:{SCRIPT}"])
        ],
        facts={
            "sagemaker.hyperparameters": {
                "HF_TOKEN": HF_TOKEN,
                "aws_access_key_id": AKIA,
                "note": f"{SCRIPT}|{OSC}",
                f"{IMG}": "value",
            },
            "sagemaker.image": f"{IMG}:latest",
            "sfn.cause": f"{SCRIPT} {OSC}",
        },
        timeline=[TimelineEvent(time=T0, end=T0 + timedelta(seconds=30), source="sfn",
                                event=f"{SCRIPT}{OSC}")],
        gaps=[Gap(source="logs", code=IMG, message=f"{SCRIPT} {OSC}", missing_permission=SCRIPT)],
        changes=[Change(field=IMG, before=SCRIPT, after={"k": f"{OSC}|", "token": HF_TOKEN})],
        last_good=SCRIPT,
    )


@pytest.fixture
def sfn_inv() -> Investigation:
    return make_sfn_inv()


@pytest.fixture
def log_inv() -> Investigation:
    return make_log_inv()


@pytest.fixture
def none_inv() -> Investigation:
    return make_none_inv()


@pytest.fixture
def hostile_inv() -> Investigation:
    return make_hostile_inv()


@pytest.fixture
def all_invs() -> list[Investigation]:
    return [make_sfn_inv(), make_log_inv(), make_none_inv(), make_hostile_inv()]


# A CPU job whose logs could not be read: the verdict is a weak lead, many rules stay open.
BLIND_JOB = "bert-cpu-eval-2024-06-03-09-12-00-123"
GOOD_JOB = "bert-cpu-eval-2024-06-02-09-10-41-007"
OPEN_RULES = [  # (category, rule, title) left open by the unread logs, in engine order
    ("cuda", "cuda-no-kernel-image", "CUDA binaries have no kernels for this GPU"),
    ("cuda", "cuda-driver-too-old", "NVIDIA driver too old for the CUDA runtime"),
    ("cuda", "cuda-oom", "CUDA out of memory"),
    ("deps", "deps-module-not-found", "Python module is not installed in the image"),
    ("paths", "paths-file-not-found", "File or directory not found"),
    ("resources", "resources-oom-killed", "Killed by the out-of-memory killer (exit 137)"),
    ("code", "code-key-error", "Bug in the training code: KeyError"),
    ("hyperparameters", "hyperparameters-argparse-invalid", "Hyperparameter has a value the "
     "script cannot parse"),
    ("network", "network-dns-failure", "Name resolution failed"),
]


def make_blind_inv() -> Investigation:
    facts = {
        "sagemaker.job_name": BLIND_JOB,
        "sagemaker.job_kind": "training",
        "sagemaker.status": "Failed",
        "sagemaker.failure_reason": "AlgorithmError: ExecuteUserScriptError: ExitCode 137",
        "sagemaker.instance_type": "ml.m5.xlarge",
        "sagemaker.instance_count": 1,
        "sagemaker.image": IMAGE,
        "instance.gpu_count": 0,
        "instance.accelerator": "none",
        "instance.cpu_arch": "x86_64",
    }
    return Investigation(
        source=BLIND_JOB,
        target=Target(kind="job", name=BLIND_JOB, job_kind="training", region="us-east-1"),
        finding=Finding(
            category="unknown",
            rule="unknown-sagemaker-algorithm-error",
            title="The training script failed (exit code 137) for a reason no rule explains",
            confidence=0.35,
            confidence_label="low",
            retryable=False,
            explanation="SageMaker reports ExitCode 137 but the logs were not read.",
            remediation=["Read the job's logs (see Not read above) and investigate again."],
            evidence=[EvidenceLine(source="sagemaker.failure_reason",
                                   text=facts["sagemaker.failure_reason"])],
        ),
        inconclusive=[
            Inconclusive(category=c, rule=r, title=t, missing_sources=["logs"],
                         missing_permissions=["logs:GetLogEvents"])
            for c, r, t in OPEN_RULES
        ],
        job=JobInfo(name=BLIND_JOB, kind="training", status="Failed",
                    failure_reason=facts["sagemaker.failure_reason"],
                    instance_type="ml.m5.xlarge", instance_count=1, image=IMAGE,
                    started=_t(0), ended=_t(600)),
        facts=facts,
        timeline=[TimelineEvent(time=_t(0), end=_t(600), source="sagemaker", event="Training"),
                  TimelineEvent(time=_t(600), source="sagemaker", event="Failed")],
        gaps=[Gap(source="logs", code="AccessDenied",
                  message=f"access denied: logs:GetLogEvents on {BLIND_JOB}/algo-1",
                  missing_permission="logs:GetLogEvents")],
        changes=[
            Change(field="input_uris", before=f"s3://data/runs/2024-06-02/{GOOD_JOB}/train",
                   after=f"s3://data/runs/2024-06-03/{BLIND_JOB}/train"),
            Change(field="hyperparameters.run_name", before=GOOD_JOB, after=BLIND_JOB),
            Change(field="hyperparameters.batch_size", before="32", after="64"),
            Change(field="instance_type", before="ml.g5.xlarge", after="ml.m5.xlarge"),
        ],
        last_good=GOOD_JOB,
    )


@pytest.fixture
def blind_inv() -> Investigation:
    return make_blind_inv()
