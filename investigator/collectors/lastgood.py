"""Last known good: the most recent success before the failure, and what changed since.

For an execution: the newest SUCCEEDED execution of the same state machine that started
before the failed one (ListExecutions), its input (DescribeExecution) and its SageMaker task
(the newest page of its history), compared field by field with the failed run. For a job:
the newest Completed job with the same base name (the name without its timestamp suffix).
At most 4 calls either way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import re2

from investigator.aws import AWS_ERRORS, AwsContext, gap_from_error
from investigator.collectors import Collected, JobKind, JobRef, as_datetime
from investigator.collectors import sagemaker as sm
from investigator.collectors import stepfunctions as sfn
from investigator.models import Change
from investigator.redact import redact_value

SOURCE = "lastgood"
MAX_VALUE = 300  # characters of one compared value kept in a Change
LIST_LIMIT = 20
# Fields compared between the failed and the good run: fact name → Change.field.
COMPARED = {
    "sagemaker.image": "image",
    "sagemaker.instance_type": "instance_type",
    "sagemaker.instance_count": "instance_count",
    "sagemaker.volume_size_gb": "volume_size_gb",
    "sagemaker.entrypoint": "entrypoint",
    "sagemaker.arguments": "arguments",
    "sagemaker.input_uris": "input_uris",
    "sagemaker.max_runtime_s": "max_runtime_s",
    "sagemaker.role_arn": "role_arn",
}
COMPARED_MAPS = {"sagemaker.hyperparameters": "hyperparameters",
                 "sagemaker.environment": "environment"}
# Trailing parts generated per run: SDK timestamps, epoch seconds, dates, random hex.
_SUFFIXES = [
    re2.compile(r"-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}(?:-\d{1,3})?$"),
    re2.compile(r"-\d{8}T?\d{4,6}Z?$"),
    re2.compile(r"-\d{8,14}$"),
    re2.compile(r"-[0-9a-f]*\d[0-9a-f]*$"),
]


@dataclass
class LastGood:
    collected: Collected = field(default_factory=Collected)
    changes: list[Change] = field(default_factory=list)
    last_good: str | None = None


def base_name(name: str) -> str:
    """The job name without its per-run suffix(es); never shorter than 3 characters."""
    current = name
    changed = True
    while changed:
        changed = False
        for rx in _SUFFIXES:
            stripped = rx.sub("", current)
            if stripped != current and len(stripped) >= 3:
                if rx is _SUFFIXES[-1] and len(current) - len(stripped) < 5:
                    continue  # "-v2", "-50": part of the name, not a random suffix
                current, changed = stripped, True
                break
    return current


def for_execution(
    ctx: AwsContext,
    state_machine_arn: str,
    failed_arn: str,
    failed_start: datetime | None,
    failed_input: str | None,
    failed_facts: dict[str, Any],
) -> LastGood:
    out = LastGood()
    try:
        resp = ctx.client("stepfunctions").list_executions(
            stateMachineArn=state_machine_arn, statusFilter="SUCCEEDED", maxResults=LIST_LIMIT
        )
    except AWS_ERRORS as exc:
        return _gap(out, exc, "states:ListExecutions", state_machine_arn)
    good = _newest_before(resp.get("executions", []), "startDate", failed_start,
                          lambda e: e.get("executionArn") != failed_arn)
    if good is None:
        out.collected.summary = "no earlier successful execution"
        return out
    arn = str(good["executionArn"])
    out.last_good = arn
    good_input = _good_input(ctx, arn, out)
    out.changes += _compare_input(good_input, failed_input)
    good_facts = _good_job_facts(ctx, arn, failed_facts, out)
    if good_facts is not None:
        out.changes += compare(good_facts, failed_facts)
    out.collected.summary = f"last good {arn.rsplit(':', 1)[-1]}, {len(out.changes)} changes"
    return out


def for_job(ctx: AwsContext, job: JobRef, failed_facts: dict[str, Any]) -> LastGood:
    out = LastGood()
    base = base_name(job.name)
    client = ctx.client("sagemaker")
    try:
        if job.kind == "processing":
            resp = client.list_processing_jobs(
                NameContains=base, StatusEquals="Completed", SortBy="CreationTime",
                SortOrder="Descending", MaxResults=100,
            )
            items = resp.get("ProcessingJobSummaries", [])
        else:
            resp = client.list_training_jobs(
                NameContains=base, StatusEquals="Completed", SortBy="CreationTime",
                SortOrder="Descending", MaxResults=100,
            )
            items = resp.get("TrainingJobSummaries", [])
    except AWS_ERRORS as exc:
        kind = "Processing" if job.kind == "processing" else "Training"
        return _gap(out, exc, f"sagemaker:List{kind}Jobs", base)
    name_key = "ProcessingJobName" if job.kind == "processing" else "TrainingJobName"
    created = as_datetime(failed_facts.get("sagemaker.created"))
    good = _newest_before(items, "CreationTime", created,
                          lambda j: str(j.get(name_key, "")).lower() != job.name.lower())
    if good is None:
        out.collected.summary = f"no earlier completed {base}* job"
        return out
    good_ref = JobRef(name=str(good[name_key]), kind=job.kind)
    out.last_good = good_ref.name
    facts = _describe_facts(ctx, good_ref, out)
    if facts is not None:
        out.changes = compare(facts, failed_facts)
    out.collected.summary = f"last good {good_ref.name}, {len(out.changes)} changes"
    return out


def _newest_before(items: list[dict], key: str, before: datetime | None, keep: Any) -> dict | None:
    dated = [(as_datetime(i.get(key)), i) for i in items if keep(i)]
    dated = [(d, i) for d, i in dated if d is not None and (before is None or d < before)]
    return max(dated, key=lambda p: p[0])[1] if dated else None


def _gap(out: LastGood, exc: BaseException, action: str, what: str) -> LastGood:
    out.collected.gaps.append(gap_from_error(SOURCE, exc, action, what))
    out.collected.summary = out.collected.gaps[-1].code
    return out


def _good_input(ctx: AwsContext, arn: str, out: LastGood) -> str | None:
    try:
        return ctx.client("stepfunctions").describe_execution(executionArn=arn).get("input")
    except AWS_ERRORS as exc:
        _gap(out, exc, "states:DescribeExecution", arn)
        return None


def _good_job_facts(
    ctx: AwsContext, arn: str, failed_facts: dict[str, Any], out: LastGood
) -> dict[str, Any] | None:
    """The good execution's SageMaker task: its parameters, or its job described."""
    kind: JobKind = failed_facts.get("sagemaker.job_kind") or "training"
    try:
        resp = ctx.client("stepfunctions").get_execution_history(
            executionArn=arn, reverseOrder=True, maxResults=sfn.PAGE_SIZE,
            includeExecutionData=True,
        )
    except AWS_ERRORS as exc:
        _gap(out, exc, "states:GetExecutionHistory", arn)
        return None
    events = resp.get("events", [])
    candidates = [
        (ev, job)
        for ev in sorted(events, key=lambda e: -int(e["id"]))
        if ev.get("type") == "TaskScheduled"
        and (job := sfn.job_from_params(ev)) is not None
        and job.kind == kind
    ]
    if not candidates:
        return None
    # Compare like with like: the good run's job of the state that failed this time
    # (a pipeline has several jobs, e.g. a preprocessing job and the training job).
    history = sfn.History()
    history.add(events)
    history.exhausted = True  # one page is all we read: an unread event ends the walk
    failed_state = failed_facts.get("sfn.failed_state")
    ev, job = next(
        ((e, j) for e, j in candidates if _state_of(e, history) == failed_state), candidates[0]
    )
    params = sfn.parse_json(sfn.details(ev).get("parameters"))
    if isinstance(params, dict) and "create" in sfn.resource_of(ev).lower():
        return sm.job_facts(redact_value(params), kind)
    return _describe_facts(ctx, job, out)


def _state_of(ev: dict[str, Any], history: sfn.History, hops: int = 10) -> str | None:
    """Name of the state an event belongs to: walk back to its StateEntered event."""
    for _ in range(hops):
        prev = history.prev(ev)
        if prev is None:
            return None
        if prev.get("type", "").endswith("StateEntered"):
            return sfn.details(prev).get("name")
        ev = prev
    return None


def _describe_facts(ctx: AwsContext, job: JobRef, out: LastGood) -> dict[str, Any] | None:
    try:
        return sm.job_facts(sm.describe(ctx, job), job.kind)
    except AWS_ERRORS as exc:
        _gap(out, exc, f"sagemaker:Describe{job.kind.capitalize()}Job", job.name)
        return None


def compare(good: dict[str, Any], failed: dict[str, Any]) -> list[Change]:
    """What differs between the good run's facts and the failed run's (both redacted)."""
    out = []
    for fact, name in COMPARED.items():
        if fact in good or fact in failed:
            before, after = good.get(fact), failed.get(fact)
            if before != after:
                out.append(Change(field=name, before=_short(before), after=_short(after)))
    for fact, name in COMPARED_MAPS.items():
        out += _compare_maps(name, good.get(fact) or {}, failed.get(fact) or {})
    return out


def _compare_maps(prefix: str, before: dict, after: dict) -> list[Change]:
    return [
        Change(field=f"{prefix}.{k}", before=_short(before.get(k)), after=_short(after.get(k)))
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    ]


def _compare_input(good: str | None, failed: str | None) -> list[Change]:
    if good is None or failed is None or good == failed:
        return []
    g, f = _parse(good), _parse(failed)
    if isinstance(g, dict) and isinstance(f, dict):
        return _compare_maps("input", redact_value(g), redact_value(f))
    return [Change(field="input", before=_short(redact_value(good)),
                   after=_short(redact_value(failed)))]


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _short(value: Any) -> Any:
    """Long values are cut so a report stays readable (JSON-encoded when not scalar)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, list | dict) and len(text) <= MAX_VALUE:
        return value
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…"


__all__ = ["LastGood", "base_name", "compare", "for_execution", "for_job"]
