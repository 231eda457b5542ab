"""Read-only commands that re-check each piece of evidence (`./repro.sh check`)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from investigator.models import Evidence, EvidenceLine, Investigation
from investigator.reporter.repro.model import (
    Check,
    Plan,
    comment,
    fact_str,
)

_LOG_GROUPS = {
    "training": "/aws/sagemaker/TrainingJobs",
    "processing": "/aws/sagemaker/ProcessingJobs",
}


def _region_args(region: str | None) -> tuple[str, ...]:
    return (f"--region={region}",) if region else ()


def _log_group(stream: str, evidence: Evidence | None, kind: str) -> str:
    for s in evidence.logs if evidence else []:
        if s.name == stream and s.group:
            return s.group
    return _LOG_GROUPS.get(kind, _LOG_GROUPS["training"])


def _log_check(line: EvidenceLine, plan: Plan, evidence: Evidence | None) -> Check | None:
    if line.source != "logs" or not line.stream:
        return None
    group = _log_group(line.stream, evidence, plan.job_kind)
    argv = ["aws", "logs", "get-log-events", f"--log-group-name={group}",
            f"--log-stream-name={line.stream}"]
    if line.timestamp is not None:
        ts = line.timestamp if line.timestamp.tzinfo else line.timestamp.replace(tzinfo=UTC)
        ms = int(ts.timestamp() * 1000)
        argv += [f"--start-time={ms - 60_000}", f"--end-time={ms + 60_000}", "--start-from-head"]
    else:
        argv += ["--limit=200", "--no-start-from-head"]
    return Check(f"log stream {line.stream} around line {line.line}",
                 (*argv, *_region_args(plan.region)))


def _local_log_check(line: EvidenceLine, path: str) -> Check | None:
    if line.source != "logs" or path in ("-", "<stdin>"):
        return None
    text = line.text
    if line.span:
        text = text[line.span[0] : line.span[1]] or text
    text = text.split("\n", 1)[0]
    if not text.strip():
        return None
    return Check(f"cited line {line.line} in {path}", ("grep", "-n", "-F", "-e", text, "--", path))


def _job_checks(plan: Plan) -> list[Check]:
    if not plan.job_name:
        return []
    kind = "processing" if plan.job_kind == "processing" else "training"
    return [Check(f"SageMaker {kind} job (status, FailureReason, image, config)",
                  ("aws", "sagemaker", f"describe-{kind}-job",
                   f"--{kind}-job-name={plan.job_name}", *_region_args(plan.region)))]


def _image_check(plan: Plan) -> list[Check]:
    img = plan.image
    if not (img.account and img.repository and (img.digest or img.tag)):
        return []
    ident = f"imageDigest={img.digest}" if img.digest else f"imageTag={img.tag}"
    return [Check("ECR image (digest, push time, status)",
                  ("aws", "ecr", "describe-images", f"--registry-id={img.account}",
                   f"--repository-name={img.repository}", f"--image-ids={ident}",
                   *_region_args(img.registry_region or plan.region)))]


def _sfn_checks(facts: dict[str, Any], plan: Plan) -> list[Check]:
    out: list[Check] = []
    for name in ("sfn.execution_arn", "sfn.nested_execution_arn"):
        arn = fact_str(facts, name)
        if not arn:
            continue
        region = _region_args(plan.region)
        out.append(Check(f"Step Functions execution {arn}",
                         ("aws", "stepfunctions", "describe-execution",
                          f"--execution-arn={arn}", *region)))
        out.append(Check("its last history events (the failure first)",
                         ("aws", "stepfunctions", "get-execution-history",
                          f"--execution-arn={arn}", "--reverse-order", "--max-items=50",
                          *region)))
    return out


def _access_checks(plan: Plan) -> list[Check]:
    """For data/identity findings: is the channel there, and what does the role allow?"""
    if plan.category not in ("paths", "permissions"):
        return []
    out = [Check(f"channel {c.name} lists objects",
                 ("aws", "s3api", "list-objects-v2", f"--bucket={c.bucket}",
                  f"--prefix={c.prefix}", "--max-items=5", *_region_args(plan.region)))
           for c in plan.channels]
    if plan.category == "permissions" and plan.role_arn and "/" in plan.role_arn:
        role = plan.role_arn.rsplit("/", 1)[1]
        out.append(Check("execution role", ("aws", "iam", "get-role", f"--role-name={role}")))
    return out


def evidence_checks(inv: Investigation, evidence: Evidence | None, plan: Plan) -> list[Check]:
    facts = inv.facts
    checks = [*_job_checks(plan)]
    seen: set[tuple[str, ...]] = set()
    for line in inv.finding.evidence:
        if inv.target.kind == "log":
            check = _local_log_check(line, inv.source)
        else:
            check = _log_check(line, plan, evidence)
        if check and check.argv not in seen:
            seen.add(check.argv)
            checks.append(check)
    checks += _image_check(plan) + _sfn_checks(facts, plan) + _access_checks(plan)
    return [Check(comment(c.what), c.argv) for c in checks]
