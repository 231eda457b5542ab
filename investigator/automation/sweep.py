"""The scheduled sweep: report failed executions that no event reported.

Step Functions events are best-effort, and failures that happened before the stack was
deployed never produced an event for us. The sweep lists FAILED, TIMED_OUT and ABORTED
executions of each configured state machine that stopped after a checkpoint, reports the
ones not yet reported (the claim in the report store makes a race with the event path
harmless), and moves the checkpoint only over what was handled.

Checkpoint meaning, per state machine: every failed execution that stopped at or before it
has been handled. It is kept as one JSON SSM parameter ({"state_machines": {arn: iso}}).

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

from investigator.automation.events import Failure, SfnExecutionDetail, execution_failure
from investigator.taxonomy import SFN_FAILED_STATUSES as FAILED_STATUSES

HANDLED = frozenset({"reported", "duplicate", "gave_up"})
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
    stopped_early: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "swept",
            "stopped_early": self.stopped_early,
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
        try:
            value = self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return {}
            raise
        try:
            data = json.loads(value)
            machines = data.get("state_machines", {}) if isinstance(data, dict) else {}
            return {str(k): datetime.fromisoformat(str(v)) for k, v in machines.items()}
        except (ValueError, AttributeError, TypeError):
            return {}  # unreadable: start over from the initial lookback, never crash

    def save(self, checkpoints: dict[str, datetime]) -> None:
        value = json.dumps(
            {"version": 1,
             "state_machines": {k: v.astimezone(UTC).isoformat() for k, v in checkpoints.items()}},
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
    result.listed = len(listing.items)
    result.complete = listing.complete
    first_unhandled: datetime | None = None
    ordered = sorted(listing.items, key=lambda i: _when(i, now))
    for index, item in enumerate(ordered):
        if budget[0] <= 0 or time_left() < cfg.min_item_s:
            result.deferred = len(ordered) - index
            first_unhandled = first_unhandled or _when(item, now)
            break
        failure = execution_failure(item, region=region, event_id=None, seen_at=now)
        try:
            status = report(failure)
        except Exception as exc:  # one bad execution must not stop the others
            status = "error"
            result.errors.append(f"{item.execution_arn}: {type(exc).__name__}: {exc}"[:300])
        if status != "duplicate":  # re-seeing a reported failure costs ~nothing
            budget[0] -= 1
        result.outcomes[status] = result.outcomes.get(status, 0) + 1
        if status not in HANDLED and first_unhandled is None:
            first_unhandled = _when(item, now)
    result.checkpoint = _next_checkpoint(since, now, cfg, listing.complete, first_unhandled)
    return result


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
    checkpoints.save(saved)
    return result


def monotonic_time_left(deadline: float | None) -> Callable[[], float]:
    if deadline is None:
        return lambda: float("inf")
    return lambda: deadline - time.monotonic()
