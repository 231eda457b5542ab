"""Step Functions history analysis: which state failed, with which error, after which attempts.

Pure functions over HistoryEvent dicts as GetExecutionHistory returns them (shapes in the
botocore model, botocore/data/stepfunctions/2016-11-23/service-2.json, and the API reference
https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html); no
boto3 here, the API calls live in `stepfunctions`.

Walking the history uses `previousEventId` (each event names the event that caused it);
where that link is missing (0 on a non-start event, as in some emulators) the event with the
preceding id is used instead. A failure event that names its state (EvaluationFailed's
`state` member) is believed over the link: AWS records some of those with a previousEventId
pointing at the previous state's exit.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import re2

from investigator.collectors import JobKind, JobRef
from investigator.taxonomy import SFN_FAILED_STATUSES

EXECUTION_END = {"ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted", "ExecutionSucceeded"}
# The execution's status as its terminal event records it (the history is authoritative:
# DescribeExecution is eventually consistent, botocore DescribeExecution documentation).
TERMINAL_STATUS = {"ExecutionFailed": "FAILED", "ExecutionTimedOut": "TIMED_OUT",
                   "ExecutionAborted": "ABORTED", "ExecutionSucceeded": "SUCCEEDED"}
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
# A container state failed: the failing branch may sit on another chain, keep looking.
CONTAINER_FAILURES = {"MapStateFailed", "MapIterationFailed", "ParallelStateFailed"}
SCHEDULED = {"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"}

_RUNTIME_STATE = re2.compile(r"executing the state '([^']{1,200})'")
_JOB_ARN = re2.compile(r":(training|processing)-job/([A-Za-z0-9-]{1,63})$")
# CreateTrainingJob refused because the (fixed) name is taken: SageMaker's ResourceInUse,
# "Training job names must be unique within an AWS account and region" (see
# aws/aws-step-functions-data-science-sdk-python#140: Retry re-sends the same name).
_NAME_IN_USE = re2.compile(r"ResourceInUse|names must be unique|with this name already exists")


class Missing(Exception):
    """The analysis needs an older event than the pages read so far."""


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
        """The event that led to `ev`; None at the start; raises Missing when not read yet."""
        pid = int(ev.get("previousEventId") or 0)
        if pid <= 0 and ev.get("type") != "ExecutionStarted":
            pid = int(ev["id"]) - 1  # missing link: fall back to the preceding event
        if pid <= 0:
            return None
        if pid not in self.by_id:
            if self.exhausted:
                return None
            raise Missing
        return self.by_id[pid]


@dataclass
class Attempt:
    """One try of a task state: scheduled, maybe submitted, maybe failed."""

    scheduled: dict[str, Any] | None = None
    submitted: dict[str, Any] | None = None
    failed: dict[str, Any] | None = None


@dataclass
class Analysis:
    status: str = ""
    terminal: dict[str, Any] | None = None
    root: dict[str, Any] | None = None
    state: str | None = None
    entered: dict[str, Any] | None = None
    scheduled: dict[str, Any] | None = None  # TaskScheduled of the decisive attempt
    submitted: dict[str, Any] | None = None  # TaskSubmitted of the decisive attempt
    attempts: list[Attempt] = field(default_factory=list)  # oldest first
    decisive: int = -1  # index in `attempts` of the attempt the diagnosis is about
    fail_state: str | None = None
    job_task: dict[str, Any] | None = None  # most recent SageMaker task (no root failure)
    map_state: str | None = None
    map_iteration: int | None = None
    map_run_arn: str | None = None
    parallel_state: str | None = None
    stopped_state: str | None = None  # ABORTED: the state that was running
    redrive_count: int | None = None
    done: bool = False

    @property
    def failed(self) -> bool:
        return self.status in {"FAILED", "TIMED_OUT"}

    @property
    def deliberate_fail(self) -> bool:
        """Ended in a Fail state with no failed task before it (a quality gate, a check)."""
        return self.fail_state is not None and self.root is None


# --- event accessors -----------------------------------------------------------------------


def details(ev: dict[str, Any]) -> dict[str, Any]:
    """The `...EventDetails` member of a history event (empty when absent).

    A HistoryEvent carries at most one such member, named after its type or shared by a
    family of types (every `*StateEntered` has `stateEnteredEventDetails`; botocore's
    HistoryEvent shape), so the first one found is the event's.
    """
    for k, v in ev.items():
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


def job_from_arn(arn: Any) -> JobRef | None:
    m = _JOB_ARN.search(arn) if isinstance(arn, str) else None
    if not m:
        return None
    kind: JobKind = "training" if m.group(1) == "training" else "processing"
    return JobRef(name=m.group(2), kind=kind, arn=arn)


def submitted_job_arn(submitted: dict[str, Any] | None) -> str | None:
    """The job ARN CreateTrainingJob/CreateProcessingJob returned, from TaskSubmitted's output."""
    out = parse_json(details(submitted).get("output")) if submitted else None
    if not isinstance(out, dict):
        return None
    arn = out.get("TrainingJobArn") or out.get("ProcessingJobArn")
    return arn if isinstance(arn, str) else None


def state_from_cause(cause: Any) -> str | None:
    m = _RUNTIME_STATE.search(cause) if isinstance(cause, str) else None
    return m.group(1) if m else None


# --- analysis ------------------------------------------------------------------------------


def terminal_event(history: History) -> dict[str, Any] | None:
    """The newest end of the execution, unless a redrive started it again since."""
    for ev in history.newest_first():
        t = ev.get("type")
        if t == "ExecutionRedriven":
            return None
        if t in EXECUTION_END:
            return ev
    return None


def analyse(history: History, described_status: str) -> Analysis:
    """Find the failure in what has been read. `done` says whether more pages are needed."""
    a = Analysis()
    a.terminal = terminal_event(history)
    a.status = TERMINAL_STATUS.get(str((a.terminal or {}).get("type")), described_status)
    try:
        if a.status in SFN_FAILED_STATUSES and a.terminal is not None:
            if a.status == "ABORTED":
                _find_stop(history, a)
            else:
                _find_failure(history, a)
            _note_runs(history, a)
        else:
            # Running or succeeded: only the most recent SageMaker job matters; one page.
            a.job_task = next((e for e in history.newest_first() if job_from_params(e)), None)
        a.done = True
    except Missing:
        a.done = history.exhausted
    return a


def _find_failure(history: History, a: Analysis) -> None:
    assert a.terminal is not None
    named = _named_failure_before(history, a.terminal)
    if named is not None:
        _take_root(history, named, a)
        return
    ev, later = history.prev(a.terminal), a.terminal
    container: dict[str, Any] | None = None  # first Map/Parallel failure on the chain
    while ev is not None:
        t = ev.get("type", "")
        _note_container(history, ev, a)
        # A failure the chain reaches through its own retry (a Scheduled event linked to it)
        # was handled: what ended the run happened while the retry ran (e.g. a timeout).
        if t in ROOT_FAILURES and later.get("type") not in SCHEDULED:
            _take_root(history, ev, a)
            return
        if t == "FailStateEntered":
            a.fail_state = details(ev).get("name")
            _search(history, ev, a)
            if a.root is None:  # nothing failed before it: the workflow chose to stop here
                a.entered, a.state = ev, a.fail_state
            return
        if t in CONTAINER_FAILURES:
            container = container or ev
        elif t.endswith("StateEntered"):
            if container is not None:  # the failing branch is not on this chain: scan for it
                _search(history, container, a)
                return
            # Failed while entering/running this state: States.Runtime, a bad JSONPath, an
            # execution timeout while the task ran.
            a.entered, a.state = ev, details(ev).get("name")
            _walk_attempts(history, a.terminal, a, stop_at=ev)
            return
        ev, later = history.prev(ev), ev
    a.state = state_from_cause(details(a.terminal).get("cause"))


def _named_failure_before(history: History, terminal: dict[str, Any]) -> dict[str, Any] | None:
    """A failure event naming its state written just before the end (container failures and
    aborts in between): believed even when the links around it point elsewhere."""
    for i in range(int(terminal["id"]) - 1, 0, -1):
        ev = history.by_id.get(i)
        t = str((ev or {}).get("type", ""))
        if ev is None or (t not in CONTAINER_FAILURES and not t.endswith("Aborted")):
            named = details(ev).get("state") if ev is not None else None
            return ev if t in ROOT_FAILURES and isinstance(named, str) and named else None
    return None


def _find_stop(history: History, a: Analysis) -> None:
    """ABORTED (StopExecution): which state was running, and its task's job. Not a failure."""
    closed: Counter[str] = Counter()
    for ev in history.newest_first():
        t, name = ev.get("type", ""), str(details(ev).get("name"))
        if t.endswith("StateExited"):
            closed[name] += 1
        elif t.endswith("StateEntered"):
            if closed[name]:
                closed[name] -= 1
                continue
            a.stopped_state, a.entered = details(ev).get("name"), ev
            break
    if a.entered is None:
        if not history.exhausted:
            raise Missing
        return
    newer = [e for e in history.newest_first() if int(e["id"]) > int(a.entered["id"])]
    a.scheduled = next((e for e in newer if e.get("type") in SCHEDULED), None)
    if a.scheduled is not None:
        a.submitted = next((e for e in newer if e.get("type") == "TaskSubmitted"
                            and int(e["id"]) > int(a.scheduled["id"])), None)


def _take_root(history: History, ev: dict[str, Any], a: Analysis) -> None:
    a.root = ev
    named = details(ev).get("state")
    if isinstance(named, str) and named:
        a.state = named  # the event names its state: believe it over previousEventId
    _walk_attempts(history, ev, a)


def _search(history: History, below: dict[str, Any], a: Analysis) -> None:
    """Newest-first scan below `below` for a caught failure or the most recent SageMaker task.

    A failure followed by a retry (a Scheduled event whose previousEventId is the failure)
    was not the end of its state and is skipped.
    """
    retried = {int(e.get("previousEventId") or 0) for e in history.by_id.values()
               if e.get("type") in SCHEDULED}
    for ev in history.newest_first():
        if int(ev["id"]) >= int(below["id"]):
            continue
        _note_container(history, ev, a)
        t = ev.get("type", "")
        if t in ROOT_FAILURES and int(ev["id"]) not in retried:
            _take_root(history, ev, a)
            return
        if t == "TaskScheduled" and job_from_params(ev):
            a.job_task = ev
            return
    if not history.exhausted:
        raise Missing


def _walk_attempts(
    history: History, start: dict[str, Any], a: Analysis, stop_at: dict[str, Any] | None = None
) -> None:
    """From a failure back to its StateEntered: the state name and every attempt of its task."""
    named = a.state if a.root is start else None
    attempts: list[Attempt] = []  # newest first while walking back
    current = Attempt(failed=start if start.get("type") in ROOT_FAILURES else None)
    ev: dict[str, Any] | None = start
    while ev is not None:
        t = ev.get("type", "")
        if t in SCHEDULED:
            current.scheduled = ev
            attempts.append(current)
            current = Attempt()
        elif t == "TaskSubmitted":
            current.submitted = current.submitted or ev
        elif t in ROOT_FAILURES and ev is not start:
            current.failed = current.failed or ev  # an earlier attempt's failure
        elif (t.endswith("StateEntered") and ev is not start) or ev is stop_at:
            if named and details(ev).get("name") != named:
                attempts = []  # walked into another state: these tries are not this state's
                break
            a.entered = ev
            a.state = a.state or details(ev).get("name")
            break
        elif named and t.endswith("StateExited"):
            attempts = []  # the link led out of the state the failure names
            break
        ev = history.prev(ev)
    a.attempts = attempts[::-1]
    _choose_attempt(a)


def _choose_attempt(a: Analysis) -> None:
    """The attempt to diagnose: the last, unless it was refused because its fixed job name was
    taken by an earlier attempt's job (then that job is the one that ran and failed)."""
    if not a.attempts:
        return
    a.decisive = len(a.attempts) - 1
    last = a.attempts[-1]
    if last.submitted is None and last.failed is not None and _NAME_IN_USE.search(
            f"{details(last.failed).get('error')} {details(last.failed).get('cause')}"):
        ran = [i for i, at in enumerate(a.attempts) if at.submitted is not None]
        if ran:
            a.decisive = ran[-1]
            if a.attempts[a.decisive].failed is not None:
                a.root = a.attempts[a.decisive].failed
    chosen = a.attempts[a.decisive]
    a.scheduled, a.submitted = chosen.scheduled, chosen.submitted


def _note_container(history: History, ev: dict[str, Any], a: Analysis) -> None:
    t = ev.get("type")
    if t == "MapIterationFailed" and a.map_state is None:
        d = details(ev)
        a.map_state = d.get("name")
        idx = d.get("index")
        a.map_iteration = int(idx) if isinstance(idx, int | str) and str(idx).isdigit() else None
    elif t == "ParallelStateFailed" and a.parallel_state is None:
        a.parallel_state = _open_parallel(history, ev)


def _note_runs(history: History, a: Analysis) -> None:
    """Distributed Map run and redrive count: MapRunStarted/MapRunRedriven carry the
    mapRunArn (botocore MapRunStartedEventDetails, MapRunRedrivenEventDetails)."""
    for ev in history.newest_first():
        t, d = ev.get("type"), details(ev)
        if t in ("MapRunStarted", "MapRunRedriven") and a.map_run_arn is None:
            a.map_run_arn = d.get("mapRunArn")
        elif t == "ExecutionRedriven" and a.redrive_count is None:
            count = d.get("redriveCount")
            a.redrive_count = int(count) if isinstance(count, int) else None
    if a.root is not None and a.root.get("type") == "MapRunFailed":
        a.map_state = a.map_state or a.state


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


def attempt_labels(a: Analysis) -> dict[int, str]:
    """Event id of each attempt's failure → "<state> attempt N of M" (for the timeline)."""
    n = len(a.attempts)
    if n < 2:
        return {}
    return {int(at.failed["id"]): f"{a.state or 'task'} attempt {i + 1} of {n}"
            for i, at in enumerate(a.attempts) if at.failed is not None}


def other_attempts(a: Analysis) -> list[tuple[int, dict[str, Any]]]:
    """(attempt number, failure event) of every attempt but the one diagnosed, oldest first."""
    return [(i + 1, at.failed) for i, at in enumerate(a.attempts)
            if i != a.decisive and at.failed is not None]
