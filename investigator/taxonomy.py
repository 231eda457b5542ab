"""The project's vocabulary, defined once: root-cause categories and AWS status sets.

The categories are a public contract (`category` in the JSON output, the playbook folders,
the README's table, docs/design.md); every module that names them imports them from here.
The status sets are the values AWS documents for an execution's or a job's status; see
docs/aws-behaviours.md for their sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class CategoryInfo:
    name: str
    meaning: str  # the public one-line meaning (README table, docs/design.md)
    family: str  # a family key: reports colour families (CSS class, ANSI colour) by it
    family_label: str  # the family in words, shown beside the colour (never colour alone)
    headline: str  # the runbook's one-sentence meaning
    looks_like: str  # what it typically looks like in logs (runbook)


_CONTAINER = ("container", "Container start-up")
_GPU = ("gpu", "GPU & dependencies")
_CONFIG = ("config", "Configuration, data & code")
_LIMITS = ("limits", "Limits & capacity")
_NETWORK = ("network", "Connectivity")


def _info(name: str, meaning: str, family: tuple[str, str], headline: str, looks_like: str
          ) -> CategoryInfo:
    return CategoryInfo(name, meaning, family[0], family[1], headline, looks_like)


TAXONOMY: tuple[CategoryInfo, ...] = (
    _info("entrypoint", "the container could not start the training program", _CONTAINER,
          "The container could not start the training program.",
          '`exec: "train": not found`, tini exec failed, CRLF `bad interpreter`, '
          "script missing, wrong ENTRYPOINT"),
    _info("platform", "image and host disagree below the framework (CPU arch, glibc, GPU runtime)",
          _CONTAINER, "Image and host disagree below the framework.",
          "`exec format error` (arm64 image on x86), glibc too old, GPU runtime not "
          "injected into the container"),
    _info("cuda", "the GPU stack: no GPU visible, driver too old, no kernel image, missing CUDA "
          "libraries, CPU-only wheels", _GPU, "The GPU stack.",
          "no GPU visible / CUDA unavailable, driver too old for the CUDA runtime, "
          "`no kernel image`, missing `libcudart`/`libcusparseLt`, CPU-only wheel shadowing "
          "the GPU build"),
    _info("deps", "Python/native dependencies: missing modules, stale images, ABI mismatches, "
          "resolver conflicts", _GPU, "Python/native dependencies.",
          "`ModuleNotFoundError`, `cannot import name` (stale image), `undefined symbol` ABI "
          "mismatch, resolver conflicts"),
    _info("hyperparameters", "bad configuration values", _CONFIG, "Bad configuration values.",
          "argparse `invalid int value`, unknown config key, NaN loss from lr, "
          "ValidationException on HyperParameters"),
    _info("paths", "data or files not where the program looks", _CONFIG,
          "Data or files not where the program looks.",
          "`FileNotFoundError`, empty channel under `/opt/ml/input/data`, S3 `NoSuchKey`, "
          "wrong output dir"),
    _info("permissions", "identity or file access denied", ("access", "Access"),
          "Identity or file access denied.",
          "`AccessDenied`, ECR pull denied, KMS, S3 403, `Permission denied`"),
    _info("resources", "the job ran out of memory, disk or shared memory", _LIMITS,
          "The job ran out of something.",
          "CUDA/CPU OOM, OOM killer (exit 137), `No space left on device`, `/dev/shm` "
          "bus error"),
    _info("capacity", "AWS could not give the resources", _LIMITS,
          "AWS could not give the resources.",
          "`InsufficientCapacityError`, `ResourceLimitExceeded` quota, spot interruption"),
    _info("timeout", "a time limit ended it", _LIMITS, "A time limit ended it.",
          "`MaxRuntimeExceeded`, `States.Timeout`, heartbeat timeout"),
    _info("network", "the job could not reach something", _NETWORK,
          "The job could not reach something.",
          "DNS failure, connection refused/timeout, VPC without NAT, model hub unreachable"),
    _info("distributed", "NCCL, ranks, collectives, multi-node", _NETWORK,
          "Multi-process / multi-node training.",
          "NCCL errors, rank failure, `ChildFailedError`, collective timeouts"),
    _info("orchestration", "the pipeline around the job (Step Functions, Lambda tasks, "
          "CreateTrainingJob validation)", ("pipeline", "Pipeline"),
          "The pipeline around the job.",
          "Step Functions `States.Runtime`, bad JSONPath, Lambda task errors, "
          "CreateTrainingJob validation"),
    _info("code", "a bug in the training code itself", _CONFIG,
          "A bug in the training code itself.",
          "`TypeError`, `KeyError`, `AssertionError` with no better category"),
    _info("none", "no failure in the evidence (earned: a finished job, warnings only, handled "
          "errors)", ("ok", "No failure"), "No failure in the evidence.",
          "a finished job, warnings only, handled errors"),
    _info("unknown", "a failure is present that no rule explains; its most telling lines are "
          "shown (also \"Nothing to examine\" for empty or binary input)",
          ("unknown", "Unexplained failure"),
          "A failure is present but no rule explains it.", "shown with its most telling lines"),
)

# The type the models validate against; the tuple below must list the same names in order.
Category = Literal[
    "entrypoint", "platform", "cuda", "deps", "hyperparameters", "paths", "permissions",
    "resources", "capacity", "timeout", "network", "distributed", "orchestration", "code",
    "none", "unknown",
]
CATEGORIES: tuple[str, ...] = tuple(c.name for c in TAXONOMY)
BY_NAME: dict[str, CategoryInfo] = {c.name: c for c in TAXONOMY}


def category(name: str) -> CategoryInfo:
    """A category's description; an unrecognised name reads as `unknown`."""
    return BY_NAME.get(name, BY_NAME["unknown"])


# Evidence sources a rule can require; a gap on one makes the rule inconclusive.
Source = Literal["logs", "sagemaker", "sfn", "ecr"]
SOURCES: tuple[str, ...] = Source.__args__  # type: ignore[attr-defined]

# Step Functions execution status (DescribeExecution `status`), in the documented order.
SFN_FAILED_STATUSES: tuple[str, ...] = ("FAILED", "TIMED_OUT", "ABORTED")
SFN_SUCCEEDED_STATUSES: tuple[str, ...] = ("SUCCEEDED",)
SFN_TERMINAL_STATUSES: tuple[str, ...] = (*SFN_SUCCEEDED_STATUSES, *SFN_FAILED_STATUSES)

# SageMaker training/processing job status. A job stopped by its MaxRuntime ends Stopped, not
# Failed, so Stopped counts as a failure to explain.
JOB_FAILED_STATUSES: tuple[str, ...] = ("Failed", "Stopped")
JOB_SUCCEEDED_STATUSES: tuple[str, ...] = ("Completed",)
JOB_TERMINAL_STATUSES: tuple[str, ...] = (*JOB_SUCCEEDED_STATUSES, *JOB_FAILED_STATUSES)

# Each category's own short label, shown beside its name. Families group the colours; two
# categories of one family must still read differently (a missing module is not a GPU problem).
LABELS: dict[str, str] = {
    "entrypoint": "Container start-up", "platform": "Image/host mismatch", "cuda": "GPU stack",
    "deps": "Python dependencies", "hyperparameters": "Configuration values",
    "paths": "Data & file paths", "permissions": "Access", "resources": "Out of resources",
    "capacity": "AWS capacity", "timeout": "Time limit", "network": "Connectivity",
    "distributed": "Multi-node training", "orchestration": "Pipeline", "code": "Training code",
    "none": "No failure", "unknown": "Unexplained failure",
}
