"""What was not read, said first: each unread source with why and the fix, and the rules it
leaves open, shortest first.

A report whose logs could not be read is a different report: the verdict rests on less than
it seems. So each gap becomes a headline (source, why, the missing IAM action or the AWS CLI
command that reads it by hand), and the rules that gap leaves open are summarised per source:
how many, and the few that the known facts keep plausible (no CUDA rule on a CPU instance).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from investigator.knowledge.instance_types import lookup
from investigator.models import Gap, Inconclusive, Investigation

SOURCE_LABELS = {
    "logs": "CloudWatch logs",
    "sagemaker": "SageMaker job description",
    "sfn": "Step Functions execution history",
    "ecr": "ECR image metadata",
    "lastgood": "the last good run",
}
_WHY = {
    "AccessDenied": "access denied",
    "Throttling": "AWS throttled the calls",
    "Deadline": "the investigation's time budget ran out first",
    "Budget": "the read budget ran out (only part was read)",
    "NotFound": "not found",
    "LogGroupNotFound": "the log group does not exist",
    "NoLogStreams": "the job wrote no log stream",
    "Timeout": "the call timed out",
    "ImageNotFound": "the image is no longer in ECR",
    "NotAnEcrImage": "the image is not in ECR",
}
# Categories whose rules only make sense on a host with an NVIDIA GPU, and words that mark
# a GPU rule in another category (rule ids name their subject: resources-cuda-out-of-memory).
_GPU_ONLY = {"cuda"}
_GPU_WORDS = ("cuda", "gpu", "nccl", "apex", "nvidia", "cudnn", "flash-attn")
_MULTI_NODE = {"distributed"}
# Once the training program ran and failed (AlgorithmError), AWS did give the resources and
# the pipeline did start the job.
_BEFORE_THE_PROGRAM = {"capacity", "orchestration"}
# How often each category explains a failed training program, most often first; generic
# `unknown` markers explain nothing, so they come last.
_PRIOR = ("deps", "code", "paths", "hyperparameters", "resources", "cuda", "entrypoint",
          "platform", "network", "permissions", "distributed", "timeout", "capacity",
          "orchestration", "none", "unknown")
SHOWN_RULES = 5


@dataclass(frozen=True)
class Unread:
    """One source that could not be read, and what to do about it."""

    source: str  # the source key (logs, sagemaker, sfn, ecr, lastgood)
    label: str
    why: str  # in words, with AWS's message
    permissions: list[str]  # IAM actions that would let investigate read it
    command: str | None  # the AWS CLI command that reads it by hand


@dataclass(frozen=True)
class OpenRule:
    title: str
    rule: str
    category: str


@dataclass(frozen=True)
class OpenSource:
    """The rules one unread source leaves open: a count, the plausible few, the rest folded."""

    source: str
    label: str
    count: int
    plausible: list[OpenRule]
    rest: list[OpenRule] = field(default_factory=list)


def label(source: str) -> str:
    return SOURCE_LABELS.get(source, source)


def _image_repo(image: str) -> str | None:
    # 123456789012.dkr.ecr.us-east-1.amazonaws.com/team/train:tag → team/train
    if ".dkr.ecr." not in image or "/" not in image:
        return None
    path = image.split("/", 1)[1]
    return path.split("@", 1)[0].rsplit(":", 1)[0] if ":" in path or "@" in path else path


def read_by_hand(source: str, inv: Investigation) -> str | None:
    """The read-only AWS CLI command that shows this source for this target, or None."""
    facts: dict[str, Any] = inv.facts
    q = shlex.quote
    job = facts.get("sagemaker.job_name") or (inv.job.name if inv.job else None)
    if not job and inv.target.kind == "job":
        job = inv.target.name
    kind = facts.get("sagemaker.job_kind") or (inv.job.kind if inv.job else None) or "training"
    arn = facts.get("sfn.execution_arn") or (
        inv.target.name if inv.target.kind == "execution" else None)
    if source == "logs" and job:
        group = "ProcessingJobs" if kind == "processing" else "TrainingJobs"
        return (f"aws logs tail /aws/sagemaker/{group} --log-stream-name-prefix {q(job)}/ "
                "--since 7d")
    if source == "sagemaker" and job:
        return f"aws sagemaker describe-{kind}-job --{kind}-job-name {q(job)}"
    if source == "sfn" and arn:
        return (f"aws stepfunctions get-execution-history --execution-arn {q(arn)} "
                "--reverse-order --max-results 20")
    if source == "ecr":
        image = facts.get("sagemaker.image") or (inv.job.image if inv.job else None) or ""
        repo = facts.get("ecr.repository") or _image_repo(image)
        if repo:
            return f"aws ecr describe-images --repository-name {q(repo)}"
    if source == "lastgood" and arn and ":execution:" in arn:
        machine = arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
        return (f"aws stepfunctions list-executions --state-machine-arn {q(machine)} "
                "--status-filter SUCCEEDED --max-results 5")
    return None


def unread_sources(inv: Investigation) -> list[Unread]:
    """One entry per source with a gap, in the order the gaps were met; reasons merged."""
    by_source: dict[str, list[Gap]] = {}
    for g in inv.gaps:
        by_source.setdefault(g.source, []).append(g)
    out = []
    for source, gaps in by_source.items():
        reasons = []
        for g in gaps:
            why = _WHY.get(g.code, g.code)
            text = why if g.message.lower().startswith(why.lower()) else f"{why}: {g.message}"
            if text not in reasons:
                reasons.append(text)
        perms = sorted({g.missing_permission for g in gaps if g.missing_permission})
        out.append(Unread(source, label(source), "; ".join(reasons), perms,
                          read_by_hand(source, inv)))
    return out


def _gpu_count(facts: dict[str, Any]) -> int | None:
    if facts.get("instance.gpu_count") is not None:
        return int(facts["instance.gpu_count"])
    it = lookup(facts.get("sagemaker.instance_type"))
    return it.gpu_count if it else None


def _contradicted(rule: Inconclusive, facts: dict[str, Any]) -> bool:
    """Known facts make this rule implausible: GPU rules on a CPU host, multi-node on one."""
    gpu_rule = rule.category in _GPU_ONLY or any(w in rule.rule for w in _GPU_WORDS)
    if gpu_rule and _gpu_count(facts) == 0:
        return True
    count = facts.get("sagemaker.instance_count")
    if rule.category in _MULTI_NODE and count == 1 and _gpu_count(facts) in (0, 1):
        return True
    reason = str(facts.get("sagemaker.failure_reason") or "")
    return rule.category in _BEFORE_THE_PROGRAM and reason.startswith("AlgorithmError")


def _spread(rules: list[Inconclusive], order: dict[str, int]) -> list[Inconclusive]:
    """One rule per category in category order, then the second of each, and so on: five
    suspects from five places say more than five variants of one."""
    by_cat: dict[str, list[Inconclusive]] = {}
    for r in sorted(rules, key=lambda r: order.get(r.category, len(order))):
        by_cat.setdefault(r.category, []).append(r)
    out: list[Inconclusive] = []
    depth = 0
    while len(out) < len(rules):
        out += [members[depth] for members in by_cat.values() if depth < len(members)]
        depth += 1
    return out


def open_rules(inv: Investigation, limit: int = SHOWN_RULES) -> list[OpenSource]:
    """Per unread source: how many rules it leaves open, the most plausible first.

    Plausible = not contradicted by a known fact; among those, rules of the verdict's and
    the alternatives' categories come first (the evidence already points there), then the
    categories that most often explain a failed training program."""
    hinted = [inv.finding.category, *(a.category for a in inv.alternatives)]
    hinted = [c for c in hinted if c not in ("unknown", "none")]
    if (_gpu_count(inv.facts) or 0) > 0:  # on a GPU host the GPU stack is a usual suspect
        hinted.append("cuda")
    ranked = [*dict.fromkeys([*hinted, *_PRIOR])]
    order = {c: n for n, c in enumerate(ranked)}
    by_source: dict[str, list[Inconclusive]] = {}
    for r in inv.inconclusive:
        for s in r.missing_sources or ["?"]:
            by_source.setdefault(s, []).append(r)
    out = []
    for source, rules in by_source.items():
        fits = [r for r in rules if not _contradicted(r, inv.facts)]
        shown = _spread(fits, order)[:limit]
        rest = [r for r in rules if r not in shown]
        out.append(OpenSource(
            source, label(source), len(rules),
            [OpenRule(r.title, r.rule, r.category) for r in shown],
            [OpenRule(r.title, r.rule, r.category) for r in rest],
        ))
    return out
