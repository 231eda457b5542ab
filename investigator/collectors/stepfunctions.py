"""Step Functions: DescribeExecution, then the history newest-first, stopping at the failure.

Only the end of a history matters: GetExecutionHistory is read with reverseOrder=True and
paging stops as soon as the failure event, the state it happened in and the task attempts
that led to it are known. A 25,000-event history therefore costs one or two calls.

Walking the history uses `previousEventId` (each event names the event that caused it);
where that link is missing (0 on a non-start event, as in some emulators) the event with the
preceding id is used instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import re2

from investigator.aws import AWS_ERRORS, AwsContext, gap_from_error, target_error
from investigator.collectors import Collected, JobKind, JobRef, as_datetime
from investigator.models import Gap, TimelineEvent
from investigator.redact import redact_text, redact_value
from investigator.taxonomy import SFN_FAILED_STATUSES

SOURCE = "sfn"
FIRST_PAGE = 200  # the failure is nearly always within the last few dozen events
NEXT_PAGE = 1000  # the API maximum
MAX_PAGES = 6  # 5,200 events newest-first at most
MAX_DEPTH = 2  # nested executions followed (parent → child → grandchild)
MAX_TIMELINE = 150

EXECUTION_END = {"ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted", "ExecutionSucceeded"}
# Events that carry the error that ended a state (the "root" failure).
ROOT_FAILURES = {
    "TaskFailed",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "TaskTimedOut",
    "LambdaFunctionFailed",
    "LambdaFunctionStartFailed",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionTimedOut",
    "ActivityFailed",
    "ActivityScheduleFailed",
    "ActivityTimedOut",
    "EvaluationFailed",
    "MapRunFailed",
}
# Failures of a container state: the cause is deeper, keep walking.
CONTAINER_FAILURES = {
    "MapStateFailed",
    "MapIterationFailed",
    "ParallelStateFailed",
    "MapStateAborted",
    "ParallelStateAborted",
}
SCHEDULED = {"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"}

_EXECUTION_ARN = re2.compile(
    r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:(?:execution|express):[^:\s]+:[^:\s]+$"
)
_STATE_MACHINE_ARN = re2.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:")
_RUNTIME_STATE = re2.compile(r"executing the state '([^']{1,200})'")
_JOB_ARN = re2.compile(r":(training|processing)-job/([A-Za-z0-9-]{1,63})$")


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


class History:
    """The events read so far, newest-first pages merged by id."""

    def __init__(self) -> None:
        self.by_id: dict[int, dict[str, Any]] = {}
        self.exhausted = False  # ExecutionStarted (the oldest event) has been read

    def add(self, page: list[dict[str, Any]]) -> None:
        for ev in page:
            self.by_id[int(ev["id"])] = ev
            if ev.get("type") == "ExecutionStarted":
                self.exhausted = True

    def newest_first(self) -> list[dict[str, Any]]:
        return [self.by_id[i] for i in sorted(self.by_id, reverse=True)]

    def prev(self, ev: dict[str, Any]) -> dict[str, Any] | None:
        """The event that led to `ev`; None at the start; raises _Missing when not read yet."""
        pid = int(ev.get("previousEventId") or 0)
        if pid <= 0 and ev.get("type") != "ExecutionStarted":
            pid = int(ev["id"]) - 1  # missing link: fall back to the preceding event
        if pid <= 0:
            return None
        if pid not in self.by_id:
            if self.exhausted:
                return None
            raise _Missing
        return self.by_id[pid]


class _Missing(Exception):
    """The analysis needs an older event than the pages read so far."""


@dataclass
class Analysis:
    terminal: dict[str, Any] | None = None
    root: dict[str, Any] | None = None
    state: str | None = None
    entered: dict[str, Any] | None = None
    scheduled: dict[str, Any] | None = None  # TaskScheduled of the last attempt
    submitted: dict[str, Any] | None = None  # TaskSubmitted of the last attempt
    attempts: int = 0
    fail_state: str | None = None
    job_task: dict[str, Any] | None = None  # most recent SageMaker task (no root failure)
    map_state: str | None = None
    map_iteration: int | None = None
    parallel_state: str | None = None
    done: bool = False
    notes: list[str] = field(default_factory=list)


def details(ev: dict[str, Any]) -> dict[str, Any]:
    """The `<type>EventDetails` member of a history event (empty when absent)."""
    t = ev.get("type", "")
    key = t[0].lower() + t[1:] + "EventDetails" if t else ""
    found = ev.get(key)
    if isinstance(found, dict):
        return found
    for k, v in ev.items():  # StateEntered/StateExited types share one details member
        if k.endswith("EventDetails") and isinstance(v, dict):
            return v
    return {}


def resource_of(ev: dict[str, Any]) -> str:
    d = details(ev)
    rtype, res = d.get("resourceType") or "", d.get("resource") or ""
    if res.startswith("arn:"):
        return res
    return f"arn:aws:states:::{rtype}:{res}" if rtype else res


def job_kind_of(resource: str) -> JobKind | None:
    low = resource.lower()
    if "sagemaker" not in low:
        return None
    if "processingjob" in low:
        return "processing"
    if "trainingjob" in low and "hyperparameter" not in low:
        return "training"
    return None


def parse_json(text: Any) -> Any:
    if not isinstance(text, str) or not text.strip().startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def job_from_params(ev: dict[str, Any]) -> JobRef | None:
    kind = job_kind_of(resource_of(ev))
    params = parse_json(details(ev).get("parameters"))
    if kind is None or not isinstance(params, dict):
        return None
    key = "TrainingJobName" if kind == "training" else "ProcessingJobName"
    name = params.get(key)
    return JobRef(name=name, kind=kind) if isinstance(name, str) and name else None


def _job_from_arn(arn: Any) -> JobRef | None:
    m = _JOB_ARN.search(arn) if isinstance(arn, str) else None
    if not m:
        return None
    kind: JobKind = "training" if m.group(1) == "training" else "processing"
    return JobRef(name=m.group(2), kind=kind, arn=arn)


# --- analysis ------------------------------------------------------------------------------


def analyse(history: History, status: str) -> Analysis:
    """Find the failure in what has been read. `done` says whether more pages are needed."""
    a = Analysis()
    events = history.newest_first()
    a.terminal = next((e for e in events if e.get("type") in EXECUTION_END), None)
    try:
        if status in SFN_FAILED_STATUSES and a.terminal is not None:
            _find_failure(history, a)
        else:
            # Running or succeeded: only the most recent SageMaker job matters; one page.
            a.job_task = next((e for e in events if job_from_params(e)), None)
        a.done = True
    except _Missing:
        a.done = history.exhausted
    return a


def _find_failure(history: History, a: Analysis) -> None:
    assert a.terminal is not None
    ev = history.prev(a.terminal)
    container: dict[str, Any] | None = None  # first Map/Parallel failure on the chain
    while ev is not None:
        t = ev.get("type", "")
        _note_container(history, ev, a)
        if t in ROOT_FAILURES:
            a.root = ev
            _walk_attempts(history, ev, a)
            return
        if t == "FailStateEntered":
            a.fail_state = details(ev).get("name")
            _search(history, ev, a)
            return
        if t in CONTAINER_FAILURES:
            container = container or ev
        elif t.endswith("StateEntered"):
            if container is not None:  # the failing branch is not on this chain: scan for it
                _search(history, container, a)
                return
            # Failed while entering/running this state: States.Runtime, a bad JSONPath, an
            # execution timeout or abort while the task ran.
            a.entered, a.state = ev, details(ev).get("name")
            _walk_attempts(history, a.terminal, a, stop_at=ev)
            return
        ev = history.prev(ev)
    cause = str(details(a.terminal).get("cause") or "")
    m = _RUNTIME_STATE.search(cause)
    a.state = m.group(1) if m else None


def _search(history: History, below: dict[str, Any], a: Analysis) -> None:
    """Newest-first scan below `below` for a caught failure or the most recent SageMaker task."""
    retried = {int(e.get("previousEventId") or 0) for e in history.by_id.values()
               if e.get("type") in SCHEDULED}
    for ev in history.newest_first():
        if int(ev["id"]) >= int(below["id"]):
            continue
        _note_container(history, ev, a)
        t = ev.get("type", "")
        if t in ROOT_FAILURES and int(ev["id"]) not in retried:
            a.root = ev
            _walk_attempts(history, ev, a)
            return
        if t == "TaskScheduled" and job_from_params(ev):
            a.job_task = ev
            return
    if not history.exhausted:
        raise _Missing


def _walk_attempts(
    history: History, start: dict[str, Any], a: Analysis, stop_at: dict[str, Any] | None = None
) -> None:
    """From a failure back to its StateEntered: the state name, attempts, last TaskScheduled."""
    ev: dict[str, Any] | None = start
    while ev is not None:
        t = ev.get("type", "")
        if t in SCHEDULED:
            a.attempts += 1
            a.scheduled = a.scheduled or ev
        elif t == "TaskSubmitted" and a.scheduled is None:
            a.submitted = a.submitted or ev
        elif (t.endswith("StateEntered") and ev is not start) or ev is stop_at:
            a.entered = ev
            a.state = a.state or details(ev).get("name")
            return
        ev = history.prev(ev)
    if a.root is not None and a.root.get("type") == "EvaluationFailed":
        a.state = a.state or details(a.root).get("state")


def _note_container(history: History, ev: dict[str, Any], a: Analysis) -> None:
    t = ev.get("type")
    if t == "MapIterationFailed" and a.map_state is None:
        d = details(ev)
        a.map_state = d.get("name")
        idx = d.get("index")
        a.map_iteration = int(idx) if isinstance(idx, int | str) and str(idx).isdigit() else None
    elif t == "ParallelStateFailed" and a.parallel_state is None:
        a.parallel_state = _open_parallel(history, ev)


def _open_parallel(history: History, failed: dict[str, Any]) -> str | None:
    """ParallelStateFailed carries no name: the newest Parallel state entered and not exited."""
    exited: set[str] = set()
    for ev in history.newest_first():
        if int(ev["id"]) >= int(failed["id"]):
            continue
        name = details(ev).get("name")
        if ev.get("type") == "ParallelStateExited":
            exited.add(str(name))
        elif ev.get("type") == "ParallelStateEntered" and str(name) not in exited:
            return str(name)
    return None


# --- collection ----------------------------------------------------------------------------


def collect_execution(ctx: AwsContext, arn: str, *, depth: int = 0) -> ExecutionResult:
    """Collect one execution (the target when depth is 0; raises AwsError if unreadable)."""
    sfn = ctx.client("stepfunctions")
    before = ctx.counter.total
    try:
        desc = sfn.describe_execution(executionArn=arn)
    except AWS_ERRORS as exc:
        if depth == 0:
            raise target_error(
                exc, f"execution {arn}", ctx.region, "states:DescribeExecution"
            ) from None
        res = ExecutionResult(collected=Collected())
        res.collected.gaps.append(gap_from_error(SOURCE, exc, "states:DescribeExecution", arn))
        return res
    history, gaps = read_history(ctx, arn, str(desc.get("status", "")))
    a = analyse(history, str(desc.get("status", "")))
    res = _result(desc, history, a)
    res.collected.gaps.extend(gaps)
    _follow_child(ctx, res, a, depth)
    res.calls = ctx.counter.total - before
    return res


def read_history(ctx: AwsContext, arn: str, status: str) -> tuple[History, list[Gap]]:
    sfn = ctx.client("stepfunctions")
    history = History()
    token: str | None = None
    for page_no in range(MAX_PAGES):
        if page_no > 0 and ctx.out_of_time():  # the newest page is part of the target
            return history, [_gap("Deadline", f"deadline reached after {len(history.by_id)} "
                                              f"history events of {arn}")]
        kwargs: dict[str, Any] = {
            "executionArn": arn,
            "reverseOrder": True,
            "maxResults": FIRST_PAGE if page_no == 0 else NEXT_PAGE,
            "includeExecutionData": True,
        }
        if token:
            kwargs["nextToken"] = token
        try:
            resp = sfn.get_execution_history(**kwargs)
        except AWS_ERRORS as exc:
            return history, [gap_from_error(SOURCE, exc, "states:GetExecutionHistory", arn)]
        history.add(resp.get("events", []))
        token = resp.get("nextToken")
        if not token:
            history.exhausted = True
            return history, []
        if analyse(history, status).done:
            return history, []
    return history, [_gap("HistoryBudget", f"stopped after {len(history.by_id)} newest history "
                                           f"events of {arn} without finding the failure")]


def _gap(code: str, message: str) -> Gap:
    return Gap(source=SOURCE, code=code, message=message)


def _result(desc: dict[str, Any], history: History, a: Analysis) -> ExecutionResult:
    c = Collected()
    f = c.facts
    f["sfn.execution_arn"] = desc.get("executionArn")
    f["sfn.state_machine_arn"] = desc.get("stateMachineArn")
    f["sfn.status"] = desc.get("status")
    f["sfn.events_read"] = len(history.by_id)
    term = details(a.terminal) if a.terminal else {}
    exec_error = term.get("error") or desc.get("error")
    exec_cause = term.get("cause") or desc.get("cause")
    root = details(a.root) if a.root else {}
    error, cause = root.get("error") or exec_error, root.get("cause") or exec_cause
    f["sfn.error"] = redact_text(error) if error else None
    f["sfn.cause"] = _redact_cause(cause)
    f["sfn.execution_error"] = redact_text(exec_error) if exec_error else None
    f["sfn.execution_cause"] = _redact_cause(exec_cause)
    f["sfn.failed_state"] = a.state
    f["sfn.fail_state"] = a.fail_state
    f["sfn.map_state"] = a.map_state
    f["sfn.map_iteration"] = a.map_iteration
    f["sfn.parallel_state"] = a.parallel_state
    if a.root is not None or a.entered is not None:
        f["sfn.failed_event_type"] = (a.root or a.terminal or {}).get("type")
    if a.scheduled is not None or a.root is not None:
        f["sfn.task_resource"] = resource_of(a.scheduled or a.root or {}) or None
    if a.attempts:
        f["sfn.attempts"] = a.attempts
        f["sfn.retry_count"] = a.attempts - 1
    res = ExecutionResult(
        collected=c,
        state_machine_arn=desc.get("stateMachineArn"),
        start=as_datetime(desc.get("startDate")),
        input=desc.get("input"),
    )
    _job(res, a, cause)
    c.timeline = timeline(history.by_id.values())
    c.facts = {k: v for k, v in f.items() if v is not None}
    c.summary = _summary(c.facts)
    return res


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
    if job is None and a.submitted is not None:
        out = parse_json(details(a.submitted).get("output")) or {}
        job = _job_from_arn(out.get("TrainingJobArn") or out.get("ProcessingJobArn"))
    started = job is not None and (
        a.job_task is not None  # found by a describe/poll task: the job exists
        or a.submitted is not None
        or res.cause_job is not None
        or a.terminal is None
        or "describe" in (resource_of(task) if task else "").lower()
    )
    if job is not None and a.submitted is not None and job.arn is None:
        out = parse_json(details(a.submitted).get("output")) or {}
        arn = out.get("TrainingJobArn") or out.get("ProcessingJobArn")
        job = JobRef(job.name, job.kind, arn if isinstance(arn, str) else None)
    res.job, res.job_started = job, bool(started)
    if job is not None:
        res.collected.facts["sfn.job_name"] = job.name
        res.collected.facts["sfn.job_kind"] = job.kind
        if isinstance(params, dict):
            res.job_params = redact_value(params)
    res.collected.facts["sfn.job_started"] = res.job_started


def _follow_child(ctx: AwsContext, res: ExecutionResult, a: Analysis, depth: int) -> None:
    """`states:startExecution(.sync)` failed: investigate the child execution, once."""
    resource = res.collected.facts.get("sfn.task_resource", "")
    if ":states:" not in resource or "startexecution" not in resource.lower():
        return
    child = _child_arn(a)
    if child is None:
        return
    if depth + 1 > MAX_DEPTH:
        res.collected.gaps.append(_gap("NestingLimit", f"did not follow {child}: "
                                                       f"more than {MAX_DEPTH} levels deep"))
        return
    sub = collect_execution(ctx, child, depth=depth + 1)
    parent = res.collected.facts
    merged = {k: v for k, v in parent.items() if k in _PARENT_FACTS}
    for k, v in sub.collected.facts.items():
        if k not in _PARENT_FACTS:
            merged[k] = v
    merged["sfn.parent_failed_state"] = parent.get("sfn.failed_state")
    # The deepest execution followed (a grandchild when the child itself nested one).
    merged["sfn.nested_execution_arn"] = sub.collected.facts.get("sfn.nested_execution_arn", child)
    res.collected.facts = {k: v for k, v in merged.items() if v is not None}
    res.collected.timeline += [
        TimelineEvent(time=t.time, end=t.end, source=t.source, event=f"child: {t.event}")
        for t in sub.collected.timeline
    ]
    res.collected.gaps += sub.collected.gaps
    res.job, res.job_started = sub.job, sub.job_started
    res.job_params, res.cause_job = sub.job_params, sub.cause_job
    res.collected.summary = _summary(res.collected.facts) + f", child {child.rsplit(':', 1)[-1]}"


# Facts that describe the execution the user asked about, not the child it started.
_PARENT_FACTS = {"sfn.execution_arn", "sfn.state_machine_arn", "sfn.status", "sfn.events_read"}


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
    return f"status {facts.get('sfn.status', '?')}"


# --- timeline ------------------------------------------------------------------------------


def timeline(events: Iterable[dict[str, Any]]) -> list[TimelineEvent]:
    """States as spans (entered → exited), plus failures and the execution's start and end."""
    out: list[TimelineEvent] = []
    open_states: dict[str, list[datetime]] = {}
    for ev in sorted(events, key=lambda e: int(e["id"])):
        out.extend(_timeline_event(ev, open_states))
    for name, opened in open_states.items():
        for when in opened:
            out.append(TimelineEvent(time=when, source=SOURCE, event=f"state {name} (no exit)"))
    out.sort(key=lambda t: t.time)
    return out[-MAX_TIMELINE:]


def _timeline_event(
    ev: dict[str, Any], open_states: dict[str, list[datetime]]
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
    elif t in ROOT_FAILURES or t in EXECUTION_END or t == "ExecutionStarted":
        text = t
        if d.get("error"):
            text += f": {redact_text(str(d['error']))}"
        yield TimelineEvent(time=when, source=SOURCE, event=text)
    elif t == "MapIterationFailed":
        yield TimelineEvent(time=when, source=SOURCE,
                            event=f"map {d.get('name')} iteration {d.get('index')} failed")
