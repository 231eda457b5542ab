"""The scheduled sweep: report failed executions and jobs that no event reported.

Step Functions events are best-effort, and failures that happened before the stack was
deployed never produced an event for us. The sweep lists FAILED, TIMED_OUT and ABORTED
executions of each configured state machine that stopped after a checkpoint, reports the
ones not yet reported (the claim in the report store makes a race with the event path
harmless), and moves the checkpoint only over what was handled.

Checkpoint meaning, per state machine: every failed execution that stopped at or before it
has been handled. Per job kind (training, processing): every failed job last modified at or
before it has been handled. One JSON SSM parameter holds both
({"state_machines": {arn: iso}, "jobs": {"training": iso, "processing": iso}}).

Jobs come after executions: a job inside a failed execution is then already covered by the
execution's report (its claim is done), so it is not reported again. Jobs run outside Step
Functions (SDK, notebooks, SageMaker Pipelines) whose event was lost are reported here.
ListTrainingJobs / ListProcessingJobs take StatusEquals and a LastModifiedTime window
(botocore's sagemaker service-2.json), paged within the same bounds as the executions.

ListExecutions returns newest *start* first, so an execution that started long before the
checkpoint but stopped after it is only seen while paging back `horizon_s` before the
checkpoint (set it to the longest pipeline run). Paging is bounded; when the bound cuts the
listing short the checkpoint is not moved, so nothing is skipped, only looked at again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from investigator.automation.events import (
    TRAINING_TIMEOUT_SECONDARY,
    Failure,
    ProcessingJobDetail,
    SfnExecutionDetail,
    TrainingJobDetail,
    execution_failure,
    processing_job_failure,
    training_job_failure,
)
from investigator.taxonomy import JOB_FAILED_STATUSES
from investigator.taxonomy import SFN_FAILED_STATUSES as FAILED_STATUSES

# Not "in_progress" (another invocation may still fail) and not "error": those hold the
# checkpoint, so the next sweep looks again. Nothing is given up: a failure whose attempts
# ran out is reported by its final attempt (see store.py).
HANDLED = frozenset({"reported", "updated", "linked", "duplicate"})
JOB_KINDS = ("training", "processing")
_EPSILON = timedelta(milliseconds=1)


@dataclass(frozen=True)
class SweepConfig:
    state_machine_arns: tuple[str, ...]
    parameter_name: str
    initial_lookback_s: float = 24 * 3600
    horizon_s: float = 24 * 3600
    max_pages: int = 5
    page_size: int = 100
    max_items: int = 50
    min_item_s: float = 30.0  # do not start an investigation with less time left than this
    settle_s: float = 60.0  # ListExecutions may lag a just-stopped execution by a little
    job_kinds: tuple[str, ...] = JOB_KINDS
    training_job_prefix: str = ""
    processing_job_prefix: str = ""


@dataclass
class MachineResult:
    state_machine_arn: str
    since: datetime
    listed: int = 0
    complete: bool = True
    deferred: int = 0  # listed but not attempted: out of time or over max_items
    outcomes: dict[str, int] = field(default_factory=dict)
    checkpoint: datetime | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class SweepResult:
    machines: list[MachineResult] = field(default_factory=list)
    jobs: list[MachineResult] = field(default_factory=list)  # one per job kind
    stopped_early: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "swept",
            "stopped_early": self.stopped_early,
            "jobs": [
                {"kind": j.state_machine_arn, "since": j.since.isoformat(),
                 "checkpoint": j.checkpoint.isoformat() if j.checkpoint else None,
                 "listed": j.listed, "complete": j.complete, "deferred": j.deferred,
                 "outcomes": j.outcomes, "errors": j.errors}
                for j in self.jobs
            ],
            "state_machines": [
                {
                    "arn": m.state_machine_arn,
                    "since": m.since.isoformat(),
                    "checkpoint": m.checkpoint.isoformat() if m.checkpoint else None,
                    "listed": m.listed,
                    "complete": m.complete,
                    "deferred": m.deferred,
                    "outcomes": m.outcomes,
                    "errors": m.errors,
                }
                for m in self.machines
            ],
        }


class CheckpointStore:
    """Per-state-machine checkpoints in one SSM String parameter."""

    def __init__(self, ssm: Any, name: str) -> None:
        self.ssm = ssm
        self.name = name

    def load(self) -> dict[str, datetime]:
        """State machine ARNs and `job:<kind>` → checkpoint."""
        try:
            value = self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return {}
            raise
        out: dict[str, datetime] = {}
        try:
            data = json.loads(value)
        except ValueError:
            return {}  # unreadable: start over from the initial lookback, never crash
        if not isinstance(data, dict):
            return {}
        for section, prefix in (("state_machines", ""), ("jobs", "job:")):
            try:
                items = data.get(section) or {}
                out.update({f"{prefix}{k}": datetime.fromisoformat(str(v))
                            for k, v in items.items()})
            except (ValueError, AttributeError, TypeError):
                continue
        return out

    def save(self, checkpoints: dict[str, datetime]) -> None:
        def iso(v: datetime) -> str:
            return v.astimezone(UTC).isoformat()

        value = json.dumps(
            {"version": 2,
             "state_machines": {k: iso(v) for k, v in checkpoints.items()
                                if not k.startswith("job:")},
             "jobs": {k.removeprefix("job:"): iso(v) for k, v in checkpoints.items()
                      if k.startswith("job:")}},
            sort_keys=True, separators=(",", ":"),
        )
        self.ssm.put_parameter(Name=self.name, Value=value, Type="String", Overwrite=True)


@dataclass(frozen=True)
class Listing:
    items: list[SfnExecutionDetail]
    complete: bool


def _pages(sfn: Any, arn: str, status: str, cfg: SweepConfig) -> Iterator[tuple[list[dict], bool]]:
    """Pages of one status, newest start first; yields (items, has_more)."""
    token: str | None = None
    for _ in range(cfg.max_pages):
        kwargs: dict[str, Any] = {"stateMachineArn": arn, "statusFilter": status,
                                  "maxResults": cfg.page_size}
        if token:
            kwargs["nextToken"] = token
        resp = sfn.list_executions(**kwargs)
        token = resp.get("nextToken")
        yield resp.get("executions", []), bool(token)
        if not token:
            return


def list_failed(sfn: Any, arn: str, since: datetime, cfg: SweepConfig) -> Listing:
    """Failed executions of `arn` that stopped after `since` (or whose stop is unknown)."""
    oldest_start = since - timedelta(seconds=cfg.horizon_s)
    found: list[SfnExecutionDetail] = []
    complete = True
    for status in FAILED_STATUSES:
        reached_horizon = False
        more = False
        for page, has_more in _pages(sfn, arn, status, cfg):
            more = has_more
            for raw in page:
                try:
                    item = SfnExecutionDetail.model_validate(raw)
                except ValidationError:
                    continue
                if item.start_date and item.start_date < oldest_start:
                    reached_horizon = True
                    break
                if item.stop_date is None or item.stop_date > since:
                    found.append(item)
            if reached_horizon:
                break
        if more and not reached_horizon:
            complete = False
    return Listing(found, complete)


def _when(item: SfnExecutionDetail, listed_at: datetime) -> datetime:
    return item.stop_date or listed_at


def sweep_machine(
    sfn: Any,
    arn: str,
    since: datetime,
    cfg: SweepConfig,
    *,
    report: Callable[[Failure], str],
    time_left: Callable[[], float],
    budget: list[int],
    now: datetime,
    region: str | None,
) -> MachineResult:
    """Report the unreported failures of one state machine; compute its new checkpoint."""
    result = MachineResult(arn, since)
    listing = list_failed(sfn, arn, since, cfg)
    failures = [(_when(i, now), execution_failure(i, region=region, event_id=None, seen_at=now))
                for i in listing.items]
    return _report_all(result, failures, listing.complete, cfg, report=report,
                       time_left=time_left, budget=budget, now=now)


def _report_all(
    result: MachineResult, failures: list[tuple[datetime, Failure]], complete: bool,
    cfg: SweepConfig, *, report: Callable[[Failure], str], time_left: Callable[[], float],
    budget: list[int], now: datetime,
) -> MachineResult:
    """Report failures oldest first within the budget; compute the new checkpoint."""
    result.listed = len(failures)
    result.complete = complete
    first_unhandled: datetime | None = None
    ordered = sorted(failures, key=lambda f: f[0])
    for index, (when, failure) in enumerate(ordered):
        if budget[0] <= 0 or time_left() < cfg.min_item_s:
            result.deferred = len(ordered) - index
            first_unhandled = first_unhandled or when
            break
        try:
            status = report(failure)
        except Exception as exc:  # one bad failure must not stop the others
            status = "error"
            result.errors.append(f"{failure.target.name}: {type(exc).__name__}: {exc}"[:300])
        if status not in ("duplicate", "linked"):  # re-seeing a reported one costs ~nothing
            budget[0] -= 1
        result.outcomes[status] = result.outcomes.get(status, 0) + 1
        if status not in HANDLED and first_unhandled is None:
            first_unhandled = when
    result.checkpoint = _next_checkpoint(result.since, now, cfg, complete, first_unhandled)
    return result


_JOB_API = {"training": "TrainingJobSummaries", "processing": "ProcessingJobSummaries"}


def _job_statuses(kind: str) -> tuple[str, ...]:
    # A training job stopped by its own time limit is Stopped (MaxRuntimeExceeded), a failure.
    return JOB_FAILED_STATUSES if kind == "training" else ("Failed",)


def list_failed_jobs(
    sm: Any, kind: str, since: datetime, until: datetime, cfg: SweepConfig
) -> tuple[list[dict[str, Any]], bool]:
    """Failed jobs of `kind` last modified in (since, until]; False when the bound cut it."""
    key = _JOB_API[kind]
    found: list[dict[str, Any]] = []
    complete = True
    for status in _job_statuses(kind):
        token: str | None = None
        for _ in range(cfg.max_pages):
            kwargs: dict[str, Any] = {
                "StatusEquals": status, "LastModifiedTimeAfter": since,
                "LastModifiedTimeBefore": until, "MaxResults": min(cfg.page_size, 100),
                "SortBy": "CreationTime", "SortOrder": "Ascending"}
            if token:
                kwargs["NextToken"] = token
            resp = (sm.list_training_jobs(**kwargs) if kind == "training"
                    else sm.list_processing_jobs(**kwargs))
            found.extend(resp.get(key, []))
            token = resp.get("NextToken")
            if not token:
                break
        if token:
            complete = False
    return found, complete


def _job_failure(kind: str, summary: dict[str, Any], region: str | None, now: datetime,
                 prefix: str) -> Failure | None:
    try:
        if kind == "training":
            detail = TrainingJobDetail.model_validate(summary)
            if detail.status == "Stopped" and detail.secondary_status not in (
                    TRAINING_TIMEOUT_SECONDARY):
                return None  # stopped on purpose (or unknown why): not a failure
            failure = training_job_failure(detail, region=region, event_id=None, seen_at=now)
        else:
            failure = processing_job_failure(ProcessingJobDetail.model_validate(summary),
                                             region=region, event_id=None, seen_at=now)
    except ValidationError:
        return None
    if prefix and not failure.target.name.startswith(prefix):
        return None
    return failure


def sweep_jobs(
    sm: Any, kind: str, since: datetime, cfg: SweepConfig, *,
    report: Callable[[Failure], str], time_left: Callable[[], float], budget: list[int],
    now: datetime, region: str | None,
) -> MachineResult:
    """Report the unreported failed jobs of one kind since its checkpoint."""
    result = MachineResult(kind, since)
    until = now - timedelta(seconds=cfg.settle_s)
    summaries, complete = list_failed_jobs(sm, kind, since, until, cfg)
    prefix = cfg.training_job_prefix if kind == "training" else cfg.processing_job_prefix
    failures = []
    for summary in summaries:
        failure = _job_failure(kind, summary, region, now, prefix)
        if failure is not None:
            failures.append((failure.failed_at, failure))
    return _report_all(result, failures, complete, cfg, report=report, time_left=time_left,
                       budget=budget, now=now)


def _next_checkpoint(
    since: datetime, now: datetime, cfg: SweepConfig, complete: bool,
    first_unhandled: datetime | None,
) -> datetime:
    if not complete:
        return since
    candidate = now - timedelta(seconds=cfg.settle_s)
    if first_unhandled is not None:
        candidate = min(candidate, first_unhandled - _EPSILON)
    return max(since, candidate)


def run_sweep(
    sfn: Any,
    checkpoints: CheckpointStore,
    cfg: SweepConfig,
    *,
    report: Callable[[Failure], str],
    time_left: Callable[[], float],
    region: str | None = None,
    now: datetime | None = None,
    sagemaker: Any = None,
) -> SweepResult:
    now = now or datetime.now(UTC)
    saved = checkpoints.load()
    result = SweepResult()
    budget = [cfg.max_items]
    for arn in cfg.state_machine_arns:
        since = saved.get(arn) or now - timedelta(seconds=cfg.initial_lookback_s)
        try:
            machine = sweep_machine(sfn, arn, since, cfg, report=report, time_left=time_left,
                                    budget=budget, now=now, region=region)
        except ClientError as exc:  # e.g. a state machine that was deleted or is not allowed
            machine = MachineResult(arn, since, complete=False, checkpoint=since,
                                    errors=[f"ListExecutions: {exc}"[:300]])
        result.machines.append(machine)
        if machine.checkpoint:
            saved[arn] = machine.checkpoint
        result.stopped_early = result.stopped_early or machine.deferred > 0
    if sagemaker is not None:  # after the executions: their jobs are covered by then
        for kind in cfg.job_kinds:
            _sweep_kind(sagemaker, kind, cfg, saved, result, report=report,
                        time_left=time_left, budget=budget, now=now, region=region)
    checkpoints.save(saved)
    return result


def _sweep_kind(
    sm: Any, kind: str, cfg: SweepConfig, saved: dict[str, datetime], result: SweepResult, *,
    report: Callable[[Failure], str], time_left: Callable[[], float], budget: list[int],
    now: datetime, region: str | None,
) -> None:
    if kind not in _JOB_API:
        return
    key = f"job:{kind}"
    since = saved.get(key) or now - timedelta(seconds=cfg.initial_lookback_s)
    try:
        jobs = sweep_jobs(sm, kind, since, cfg, report=report, time_left=time_left,
                          budget=budget, now=now, region=region)
    except ClientError as exc:  # e.g. throttled or denied: the next sweep looks again
        jobs = MachineResult(kind, since, complete=False, checkpoint=since,
                             errors=[f"List {kind} jobs: {exc}"[:300]])
    result.jobs.append(jobs)
    if jobs.checkpoint:
        saved[key] = jobs.checkpoint
    result.stopped_early = result.stopped_early or jobs.deferred > 0


def monotonic_time_left(deadline: float | None) -> Callable[[], float]:
    if deadline is None:
        return lambda: float("inf")
    return lambda: deadline - time.monotonic()
