"""Step Functions: DescribeExecution, then the history newest-first, stopping at the failure.

Only the end of a history matters: GetExecutionHistory is read with reverseOrder=True and
paging stops as soon as the failure event, the state it happened in and the task attempts
that led to it are known. A 25,000-event history therefore costs one or two calls. The
analysis of what was read is in `sfn_history` (no API calls); this module makes the calls:
the history, the child execution a failed `startExecution.sync` task or Distributed Map
ran, and the failed training jobs of a tuning job.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import re2

from investigator.aws import AWS_ERRORS, AwsContext, error_code, gap_from_error, target_error
from investigator.collectors import Collected, JobKind, JobRef, as_datetime, iso
from investigator.collectors.sfn_history import (
    CONTAINER_FAILURES,
    EXECUTION_END,
    ROOT_FAILURES,
    SCHEDULED,
    Analysis,
    History,
    analyse,
    attempt_labels,
    details,
    job_from_arn,
    job_from_params,
    job_kind_of,
    other_attempts,
    parse_json,
    resource_of,
    state_from_cause,
    submitted_job_arn,
)
from investigator.errors import AwsError
from investigator.models import Gap, TimelineEvent
from investigator.redact import redact_text, redact_value

SOURCE = "sfn"
# Every page asks for the same maxResults: AWS wants all arguments but nextToken unchanged
# across pages (botocore GetExecutionHistoryInput.nextToken). The failure is nearly always
# within the newest few dozen events.
PAGE_SIZE = 200
# 3,000 events newest-first at most: 16 history calls in the worst case, which still leaves
# the rest of the 30-call budget to the job, its logs, its image and the last good run.
MAX_PAGES = 15
MAX_DEPTH = 2  # nested executions followed (parent → child → grandchild)
MAX_TIMELINE = 150
MAP_CHILDREN = 100  # failed children of a Distributed Map run listed (one call)
TUNING_JOBS = 10  # failed training jobs of a tuning job listed (one call)
FAIL_CAUSE_CHARS = 200  # the Fail state's Cause as quoted in a title

__all__ = [
    "CONTAINER_FAILURES", "EXECUTION_END", "ROOT_FAILURES", "SCHEDULED", "Analysis",
    "ExecutionResult", "History", "analyse", "collect_execution", "details", "job_from_params",
    "job_kind_of", "parse_execution_arn", "parse_json", "read_history", "resource_of",
    "timeline",
]

_EXECUTION_ARN = re2.compile(
    r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:(?:execution|express):[^:\s]+:[^:\s]+$"
)
_STATE_MACHINE_ARN = re2.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:")


def parse_execution_arn(arn: str) -> str:
    """Validate an execution ARN; return its region. InputError when it is not one."""
    from investigator.errors import InputError

    arn = arn.strip()
    if _EXECUTION_ARN.search(arn):
        return arn.split(":")[3]
    if _STATE_MACHINE_ARN.search(arn):
        raise InputError(f"{arn} is a state machine ARN; pass the ARN of one of its executions")
    raise InputError(
        f"not a Step Functions execution ARN: {arn!r} "
        "(expected arn:aws:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME)"
    )


@dataclass
class ExecutionResult:
    collected: Collected
    job: JobRef | None = None
    job_started: bool = False
    state_machine_arn: str | None = None
    start: datetime | None = None
    input: str | None = None
    # Parameters of the SageMaker task that failed (CreateTrainingJob request shape), redacted.
    job_params: dict[str, Any] | None = None
    # The DescribeTrainingJob-shaped JSON a `.sync` task puts in its cause, redacted.
    cause_job: dict[str, Any] | None = None
    calls: int = 0


# --- collection ----------------------------------------------------------------------------


def collect_execution(ctx: AwsContext, arn: str, *, depth: int = 0) -> ExecutionResult:
    """Collect one execution (the target when depth is 0; raises AwsError if unreadable)."""
    sfn = ctx.client("stepfunctions")
    before = ctx.counter.total
    try:
        desc = sfn.describe_execution(executionArn=arn)
    except AWS_ERRORS as exc:
        if depth == 0:
            raise _target_error(exc, arn, ctx.region) from None
        res = ExecutionResult(collected=Collected())
        res.collected.gaps.append(_sfn_gap(exc, "states:DescribeExecution", arn))
        return res
    history, gaps = read_history(ctx, arn, str(desc.get("status", "")))
    a = analyse(history, str(desc.get("status", "")))
    res = _result(desc, history, a)
    res.collected.gaps.extend(gaps)
    _follow_child(ctx, res, a, depth)
    _follow_map_run(ctx, res, a, depth)
    _follow_tuning_job(ctx, res, a)
    res.calls = ctx.counter.total - before
    return res


def read_history(ctx: AwsContext, arn: str, status: str) -> tuple[History, list[Gap]]:
    sfn = ctx.client("stepfunctions")
    history = History()
    token: str | None = None
    # includeExecutionData: False would drop every event's input/output, where the job's
    # name and ARN are found (botocore GetExecutionHistoryInput); ask for it explicitly.
    request: dict[str, Any] = {"executionArn": arn, "reverseOrder": True,
                               "maxResults": PAGE_SIZE, "includeExecutionData": True}
    for page_no in range(MAX_PAGES):
        if page_no > 0 and ctx.out_of_time():  # the newest page is part of the target
            return history, [_gap("Deadline", f"deadline reached after {len(history.by_id)} "
                                              f"history events of {arn}")]
        try:
            resp = sfn.get_execution_history(**request, **({"nextToken": token} if token else {}))
        except AWS_ERRORS as exc:
            return history, [_sfn_gap(exc, "states:GetExecutionHistory", arn)]
        history.add(resp.get("events", []))
        token = resp.get("nextToken")
        if not token:
            history.exhausted = True
            return history, []
        if analyse(history, status).done:
            return history, []
    return history, [_gap("HistoryBudget", f"stopped after {len(history.by_id)} newest history "
                                           f"events of {arn} without finding the failure")]


def _target_error(exc: BaseException, arn: str, region: str) -> AwsError:
    """The target unreadable; a customer managed key refusing is named as such."""
    code = error_code(exc)
    if code == "KmsAccessDeniedException":
        return AwsError(f"access denied by the KMS key of execution {arn}: the caller needs "
                        "kms:Decrypt on the state machine's customer managed key")
    if code == "KmsThrottlingException":
        return AwsError(f"KMS throttled the decryption of execution {arn}; retry later",
                        retryable=True)
    if code == "KmsInvalidStateException":
        return AwsError(f"the KMS key of execution {arn} is disabled or pending deletion")
    return target_error(exc, f"execution {arn}", region, "states:DescribeExecution")


def _gap(code: str, message: str, permission: str | None = None) -> Gap:
    return Gap(source=SOURCE, code=code, message=message, missing_permission=permission)


def _sfn_gap(exc: BaseException, action: str, arn: str) -> Gap:
    """A Step Functions read error as a gap. A state machine encrypted with a customer managed
    key answers with KmsAccessDeniedException, KmsThrottlingException or
    KmsInvalidStateException (botocore GetExecutionHistory/DescribeExecution errors; Step
    Functions guide "Data at rest encryption": readers need kms:Decrypt on the key)."""
    code = error_code(exc)
    if code == "KmsAccessDeniedException":
        return _gap("AccessDenied", f"access denied by the KMS key of {arn}: {action} needs "
                                    "kms:Decrypt on the state machine's customer managed key",
                    "kms:Decrypt")
    if code == "KmsThrottlingException":
        return _gap("Throttling", f"KMS throttled the decryption of {arn} ({action}); "
                                  "retry later")
    if code == "KmsInvalidStateException":
        return _gap("KmsInvalidState", f"the KMS key of {arn} is disabled or pending deletion "
                                       f"({action}); its history cannot be decrypted")
    return gap_from_error(SOURCE, exc, action, arn)


# --- facts ---------------------------------------------------------------------------------


def _result(desc: dict[str, Any], history: History, a: Analysis) -> ExecutionResult:
    c = Collected()
    f = c.facts
    f["sfn.execution_arn"] = desc.get("executionArn")
    f["sfn.state_machine_arn"] = desc.get("stateMachineArn")
    f["sfn.status"] = a.status or desc.get("status")
    f["sfn.events_read"] = len(history.by_id)
    term = details(a.terminal) if a.terminal else {}
    exec_error = term.get("error") or desc.get("error")
    exec_cause = term.get("cause") or desc.get("cause")
    f["sfn.execution_error"] = redact_text(exec_error) if exec_error else None
    f["sfn.execution_cause"] = _redact_cause(exec_cause)
    f["sfn.redrive_count"] = a.redrive_count
    f["sfn.map_run_arn"] = a.map_run_arn
    cause: Any = None
    if a.status == "ABORTED":
        _stop_facts(f, desc, a)
    else:
        cause = _failure_facts(f, a, exec_error, exec_cause)
    res = ExecutionResult(
        collected=c,
        state_machine_arn=desc.get("stateMachineArn"),
        start=as_datetime(desc.get("startDate")),
        input=desc.get("input"),
    )
    _job(res, a, cause)
    c.timeline = timeline(history.by_id.values(), attempt_labels(a))
    c.facts = {k: v for k, v in f.items() if v is not None}
    c.summary = _summary(c.facts)
    return res


def _failure_facts(f: dict[str, Any], a: Analysis, exec_error: Any, exec_cause: Any) -> Any:
    """Where and how it failed; returns the decisive cause (raw, for the job lookup)."""
    root = details(a.root) if a.root else {}
    error, cause = root.get("error") or exec_error, root.get("cause") or exec_cause
    f["sfn.error"] = redact_text(error) if error else None
    f["sfn.cause"] = _redact_cause(cause)
    # History unreadable or cut short: a runtime error's cause still names the state.
    f["sfn.failed_state"] = a.state or (state_from_cause(exec_cause) if a.failed else None)
    f["sfn.fail_state"] = a.fail_state
    if a.fail_state is not None:  # a Fail state's Error/Cause become the execution's
        f["sfn.fail_error"] = f["sfn.execution_error"]
        short = redact_text(str(exec_cause))[:FAIL_CAUSE_CHARS] if exec_cause else None
        f["sfn.fail_cause"] = short
    f["sfn.map_state"] = a.map_state
    f["sfn.map_iteration"] = a.map_iteration
    f["sfn.parallel_state"] = a.parallel_state
    if a.deliberate_fail:
        f["sfn.failed_event_type"] = "FailStateEntered"
    elif a.root is not None or a.entered is not None:
        f["sfn.failed_event_type"] = (a.root or a.terminal or {}).get("type")
    if a.scheduled is not None or a.root is not None:
        f["sfn.task_resource"] = resource_of(a.scheduled or a.root or {}) or None
    if a.attempts:
        f["sfn.attempts"] = len(a.attempts)
        f["sfn.retry_count"] = len(a.attempts) - 1
        f["sfn.attempt_errors"] = [f"attempt {n}: {_short_failure(ev)}"
                                   for n, ev in other_attempts(a)] or None
    return cause


def _stop_facts(f: dict[str, Any], desc: dict[str, Any], a: Analysis) -> None:
    """StopExecution (ExecutionAborted) is not a failure: when it stopped and what was running."""
    stopped = as_datetime(desc.get("stopDate")) or as_datetime((a.terminal or {}).get("timestamp"))
    f["sfn.stopped_at"] = iso(stopped)
    f["sfn.stopped_state"] = a.stopped_state
    if a.scheduled is not None:
        f["sfn.task_resource"] = resource_of(a.scheduled) or None


def _short_failure(ev: dict[str, Any]) -> str:
    """`error: cause` of one attempt, the cause cut to its telling part (FailureReason)."""
    d = details(ev)
    cause = d.get("cause") or ""
    parsed = parse_json(cause)
    if isinstance(parsed, dict) and parsed.get("FailureReason"):
        cause = str(parsed["FailureReason"])
    text = f"{d.get('error') or ev.get('type')}: {cause}".strip().rstrip(":")
    return redact_text(" ".join(text.split())[:300])


def _redact_cause(cause: Any) -> str | None:
    if not cause:
        return None
    parsed = parse_json(cause)
    if isinstance(parsed, dict | list):
        return json.dumps(redact_value(parsed), ensure_ascii=False)
    return redact_text(str(cause))


def _job(res: ExecutionResult, a: Analysis, cause: Any) -> None:
    """Which SageMaker job the failure is about, and whether it was created at all."""
    task = a.scheduled or a.job_task
    job = job_from_params(task) if task else None
    params = parse_json(details(task).get("parameters")) if task else None
    parsed = parse_json(cause) if a.root is not None else None
    if isinstance(parsed, dict) and (
        parsed.get("TrainingJobName") or parsed.get("ProcessingJobName")
    ):
        kind: JobKind = "training" if parsed.get("TrainingJobName") else "processing"
        name = parsed.get("TrainingJobName") or parsed.get("ProcessingJobName")
        job = job or JobRef(name=str(name), kind=kind)
        res.cause_job = redact_value(parsed)
    arn = submitted_job_arn(a.submitted)
    if job is None:
        job = job_from_arn(arn)
    started = job is not None and (
        a.job_task is not None  # found by a describe/poll task: the job exists
        or a.submitted is not None
        or res.cause_job is not None
        or a.terminal is None
        or "describe" in (resource_of(task) if task else "").lower()
    )
    if job is not None and job.arn is None and arn is not None:
        job = JobRef(job.name, job.kind, arn)
    res.job, res.job_started = job, bool(started)
    _set_job_facts(res, params)


def _set_job_facts(res: ExecutionResult, params: Any) -> None:
    facts = res.collected.facts
    if res.job is not None:
        facts["sfn.job_name"] = res.job.name
        facts["sfn.job_kind"] = res.job.kind
        if isinstance(params, dict):
            res.job_params = redact_value(params)
    facts["sfn.job_started"] = res.job_started


# --- following: child executions, Distributed Map runs, tuning jobs ----------------------


def _follow_child(ctx: AwsContext, res: ExecutionResult, a: Analysis, depth: int) -> None:
    """`states:startExecution(.sync)` failed: investigate the child execution, once."""
    resource = res.collected.facts.get("sfn.task_resource", "")
    if ":states:" not in resource or "startexecution" not in resource.lower():
        return
    child = _child_arn(a)
    if child is not None:
        _investigate_child(ctx, res, child, depth)


def _follow_map_run(ctx: AwsContext, res: ExecutionResult, a: Analysis, depth: int) -> None:
    """A Distributed Map run failed (MapRunFailed, e.g. States.ExceedToleratedFailureThreshold):
    its iterations are child executions, listed by ListExecutions(mapRunArn=...,
    statusFilter=FAILED) (botocore ListExecutionsInput; guide "Examining Map Run"). The
    earliest failed child is investigated like a startExecution.sync child."""
    if a.root is None or a.root.get("type") != "MapRunFailed" or not a.map_run_arn:
        return
    try:
        listed = ctx.client("stepfunctions").list_executions(
            mapRunArn=a.map_run_arn, statusFilter="FAILED", maxResults=MAP_CHILDREN)
    except AWS_ERRORS as exc:
        res.collected.gaps.append(_sfn_gap(exc, "states:ListExecutions", a.map_run_arn))
        return
    children = listed.get("executions") or []
    if not children:
        res.collected.gaps.append(_gap("MapRunChildNotFound", f"no failed child execution "
                                       f"listed for the Map Run {a.map_run_arn}"))
        return
    first = min(children, key=lambda e: as_datetime(e.get("startDate")) or datetime.max)
    _investigate_child(ctx, res, str(first["executionArn"]), depth)


def _investigate_child(ctx: AwsContext, res: ExecutionResult, child: str, depth: int) -> None:
    if depth + 1 > MAX_DEPTH:
        res.collected.gaps.append(_gap("NestingLimit", f"did not follow {child}: "
                                                       f"more than {MAX_DEPTH} levels deep"))
        return
    sub = collect_execution(ctx, child, depth=depth + 1)
    parent = res.collected.facts
    res.collected.gaps += sub.collected.gaps
    if not sub.collected.facts.get("sfn.failed_state"):
        _child_unread(res, child)
        return
    merged = {k: v for k, v in parent.items() if k in _PARENT_FACTS}
    for k, v in sub.collected.facts.items():
        if k not in _PARENT_FACTS:
            merged[k] = v
    merged["sfn.parent_failed_state"] = parent.get("sfn.failed_state")
    merged["sfn.map_state"] = merged.get("sfn.map_state") or parent.get("sfn.map_state")
    # The deepest execution followed (a grandchild when the child itself nested one).
    merged["sfn.nested_execution_arn"] = sub.collected.facts.get("sfn.nested_execution_arn", child)
    res.collected.facts = {k: v for k, v in merged.items() if v is not None}
    res.collected.timeline += [
        TimelineEvent(time=t.time, end=t.end, source=t.source, event=f"child: {t.event}")
        for t in sub.collected.timeline
    ]
    res.job, res.job_started = sub.job, sub.job_started
    res.job_params, res.cause_job = sub.job_params, sub.cause_job
    res.collected.summary = _summary(res.collected.facts) + f", child {child.rsplit(':', 1)[-1]}"


def _child_unread(res: ExecutionResult, child: str) -> None:
    """The child could not be read (another account's or team's state machine): keep the
    parent's failure, and read the child's error from the parent's cause, which holds the
    child's DescribeExecution output (Step Functions guide connect-stepfunctions)."""
    facts = res.collected.facts
    facts["sfn.nested_execution_arn"] = child
    parsed = parse_json(facts.get("sfn.cause"))
    if not isinstance(parsed, dict):
        return
    if parsed.get("Error"):
        facts["sfn.child_error"] = redact_text(str(parsed["Error"]))
    if parsed.get("Cause"):
        facts["sfn.child_cause"] = _redact_cause(parsed["Cause"])
    inner = parse_json(parsed.get("Cause"))
    if isinstance(inner, dict) and (inner.get("TrainingJobName") or inner.get("ProcessingJobName")):
        kind: JobKind = "training" if inner.get("TrainingJobName") else "processing"
        name = str(inner.get("TrainingJobName") or inner.get("ProcessingJobName"))
        res.job = JobRef(name=name, kind=kind, arn=inner.get("TrainingJobArn")
                         or inner.get("ProcessingJobArn"))
        res.job_started, res.cause_job, res.job_params = True, redact_value(inner), None
        _set_job_facts(res, None)


def _follow_tuning_job(ctx: AwsContext, res: ExecutionResult, a: Analysis) -> None:
    """createHyperParameterTuningJob(.sync) failed: its FailureReason only says training jobs
    failed; ListTrainingJobsForHyperParameterTuningJob(StatusEquals=Failed) names them
    (SageMaker API reference), and the earliest is diagnosed as the job."""
    facts = res.collected.facts
    if "hyperparametertuningjob" not in str(facts.get("sfn.task_resource", "")).lower():
        return
    name = _tuning_job_name(a)
    if name is None:
        return
    facts["sfn.tuning_job_name"] = name
    try:
        listed = ctx.client("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, StatusEquals="Failed", SortBy="CreationTime",
            SortOrder="Ascending", MaxResults=TUNING_JOBS)
    except AWS_ERRORS as exc:
        res.collected.gaps.append(gap_from_error(
            SOURCE, exc, "sagemaker:ListTrainingJobsForHyperParameterTuningJob", name))
        return
    jobs = listed.get("TrainingJobSummaries") or []
    if not jobs:
        res.collected.gaps.append(_gap("TuningJobsNotFound",
                                       f"no failed training job listed for tuning job {name}"))
        return
    first = jobs[0]
    res.job = JobRef(name=str(first["TrainingJobName"]), kind="training",
                     arn=first.get("TrainingJobArn"))
    res.job_started, res.job_params, res.cause_job = True, None, None
    _set_job_facts(res, None)


def _tuning_job_name(a: Analysis) -> str | None:
    for source in (details(a.scheduled).get("parameters") if a.scheduled else None,
                   details(a.root).get("cause") if a.root else None):
        parsed = parse_json(source)
        if isinstance(parsed, dict) and isinstance(parsed.get("HyperParameterTuningJobName"), str):
            return str(parsed["HyperParameterTuningJobName"])
    return None


# Facts that describe the execution the user asked about, not the child it started.
_PARENT_FACTS = {"sfn.execution_arn", "sfn.state_machine_arn", "sfn.status", "sfn.events_read",
                 "sfn.map_run_arn", "sfn.redrive_count"}


def _child_arn(a: Analysis) -> str | None:
    for source in (details(a.root).get("cause") if a.root else None,
                   details(a.submitted).get("output") if a.submitted else None):
        parsed = parse_json(source)
        if isinstance(parsed, dict):
            arn = parsed.get("ExecutionArn") or parsed.get("executionArn")
            if isinstance(arn, str) and _EXECUTION_ARN.search(arn):
                return arn
    return None


def _summary(facts: dict[str, Any]) -> str:
    if facts.get("sfn.failed_state"):
        return f"failed state {facts['sfn.failed_state']}"
    if facts.get("sfn.stopped_state"):
        return f"stopped in state {facts['sfn.stopped_state']}"
    return f"status {facts.get('sfn.status', '?')}"


# --- timeline ------------------------------------------------------------------------------


def timeline(events: Iterable[dict[str, Any]],
             attempts: dict[int, str] | None = None) -> list[TimelineEvent]:
    """States as spans (entered → exited), plus failures and the execution's start and end.

    `attempts` labels the failure of each try of a retried task ("Train attempt 1 of 3"),
    so every attempt's error stays visible, not only the last one's.
    """
    out: list[TimelineEvent] = []
    open_states: dict[str, list[datetime]] = {}
    for ev in sorted(events, key=lambda e: int(e["id"])):
        out.extend(_timeline_event(ev, open_states, (attempts or {}).get(int(ev["id"]))))
    for name, opened in open_states.items():
        for when in opened:
            out.append(TimelineEvent(time=when, source=SOURCE, event=f"state {name} (no exit)"))
    out.sort(key=lambda t: t.time)
    return out[-MAX_TIMELINE:]


def _timeline_event(
    ev: dict[str, Any], open_states: dict[str, list[datetime]], attempt: str | None = None
) -> Iterator[TimelineEvent]:
    when = as_datetime(ev.get("timestamp"))
    if when is None:
        return
    t, d = ev.get("type", ""), details(ev)
    if t.endswith("StateEntered"):
        open_states.setdefault(str(d.get("name")), []).append(when)
    elif t.endswith("StateExited"):
        opened = open_states.get(str(d.get("name")))
        if opened:
            start = opened.pop(0)
            yield TimelineEvent(time=start, end=when, source=SOURCE, event=f"state {d.get('name')}")
    elif attempt is not None:
        yield TimelineEvent(time=when, source=SOURCE, event=f"{attempt} failed: "
                                                              f"{_short_failure(ev)}")
    elif t in ROOT_FAILURES or t in EXECUTION_END or t == "ExecutionStarted":
        text = t
        if d.get("error"):
            text += f": {redact_text(str(d['error']))}"
        yield TimelineEvent(time=when, source=SOURCE, event=text)
    elif t == "MapIterationFailed":
        yield TimelineEvent(time=when, source=SOURCE,
                            event=f"map {d.get('name')} iteration {d.get('index')} failed")
