"""The only orchestrator: resolve the target → collect evidence → classify.

Collection order follows the failure: Step Functions (which state failed, which job), then
the SageMaker job, its logs, its image, and the last known good run. Sources the failure
never reached are skipped (an execution that failed before any job ran has no job logs).
A deadline (a time.monotonic() value) stops new sources and pages from starting; what was
not collected is recorded as a Gap with code "Deadline".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import boto3

from investigator.aws import AwsContext, close_context, open_context
from investigator.classifier import classify
from investigator.collectors import (
    REGISTRY,
    Collected,
    JobRef,
    cloudwatch_logs,
    ecr,
    lastgood,
    metrics,
)
from investigator.collectors import sagemaker as sm
from investigator.collectors import stepfunctions as sfn
from investigator.errors import InputError
from investigator.knowledge.instance_types import instance_facts
from investigator.models import Change, Evidence, Gap, Investigation, Target, TimelineEvent
from investigator.taxonomy import JOB_FAILED_STATUSES as FAILED_JOB
from investigator.taxonomy import SFN_FAILED_STATUSES as FAILED_EXECUTION

Progress = Callable[[str], None]
# Facts of a job's *state*: meaningless when only the request (TaskScheduled parameters) is known.
_JOB_STATE_FACTS = {
    "sagemaker.job_name", "sagemaker.job_arn", "sagemaker.status", "sagemaker.secondary_status",
    "sagemaker.created", "sagemaker.started", "sagemaker.ended", "sagemaker.container_started",
    "sagemaker.runtime_s", "sagemaker.failure_reason", "sagemaker.status_messages",
}


class _CarriesCollected(Protocol):
    @property
    def collected(self) -> Collected: ...


R = TypeVar("R", bound=_CarriesCollected)


class _Run:
    """Accumulates what the collectors return and reports one progress line per source."""

    def __init__(self, ctx: AwsContext, progress: Progress | None) -> None:
        self.ctx = ctx
        self.progress = progress
        self.all = Collected()
        self.changes: list[Change] = []
        self.last_good: str | None = None

    def step(self, name: str, fn: Callable[[], R], *, required: bool = False) -> R | None:
        """Run one collector unless the deadline is near; its result, None when it did not run.

        Every collector returns a Collected, or a result that carries one (`.collected`) beside
        what the pipeline needs next (the execution's job, the last good run's changes)."""
        if not required and self.ctx.out_of_time():
            self.skip_for_deadline(name, "deadline reached")
            return None
        before = self.ctx.counter.total
        result = fn()
        got = result.collected
        self.all.merge(got)
        calls = self.ctx.counter.total - before
        self.say(f"{name}: {calls} call{'s' if calls != 1 else ''}"
                 + (f", {got.summary}" if got.summary else ""))
        return result

    def skip_for_deadline(self, name: str, why: str) -> None:
        """A source not collected for lack of time: a named gap and a progress line."""
        self.all.gaps.append(Gap(source=REGISTRY[name], code="Deadline",
                                 message=f"{name} not collected: {why}"))
        self.say(f"{name}: skipped, deadline reached")

    def say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)

    @property
    def facts(self) -> dict[str, Any]:
        return self.all.facts


def investigate_target(
    target: Target,
    *,
    profile: str | None = None,
    region: str | None = None,
    progress: Progress | None = None,
    deadline: float | None = None,
    session: boto3.Session | None = None,
) -> tuple[Evidence, Investigation]:
    """Collect the evidence for an execution or job target from AWS, then classify it."""
    started = time.monotonic()
    collected_at = datetime.now(UTC)
    job: JobRef | None = None
    if target.kind == "execution":
        region = sfn.parse_execution_arn(target.name) or region
    elif target.kind == "job":
        job, arn_region = sm.parse_job_target(target.name, target.job_kind)
        region = arn_region or region
    else:
        raise InputError(f"{target.kind} targets are not collected from AWS")
    ctx = open_context(profile=profile, region=region, deadline=deadline, session=session)
    try:
        run = _Run(ctx, progress)
        if job is None:
            _execution(run, target.name.strip())
        else:
            _job_target(run, job)
    finally:
        close_context(ctx)
    evidence = _evidence(target, run, ctx, started, collected_at)
    return evidence, classify(evidence)


def _execution(run: _Run, arn: str) -> None:
    res = run.step("stepfunctions", lambda: sfn.collect_execution(run.ctx, arn), required=True)
    assert res is not None  # a required step always runs
    cut_short = any(g.code == "Deadline" for g in res.collected.gaps)
    if res.job is None and cut_short:
        # The history read stopped before reaching the task: we do not know that no job ran.
        for name in ("sagemaker", "cloudwatch_logs", "ecr"):
            run.skip_for_deadline(name, "deadline reached before the history named the job")
        return
    if res.job is not None and res.job_started:
        _job_sources(run, res.job, fallback=res.cause_job)
    else:
        if res.job is not None and res.job_params:
            kind = res.job.kind
            requested = sm.job_facts(res.job_params, kind)
            run.facts.update({k: v for k, v in requested.items() if k not in _JOB_STATE_FACTS})
        why = "no job was created" if res.job else "the failure happened before any job ran"
        if res.collected.facts.get("sfn.status") in FAILED_EXECUTION or res.job is not None:
            run.say(f"sagemaker: skipped, {why}")
        _image_and_instance(run)
    if res.collected.facts.get("sfn.status") in FAILED_EXECUTION and res.state_machine_arn:
        sm_arn = res.state_machine_arn
        _last_good(run, lambda: lastgood.for_execution(
            run.ctx, sm_arn, arn, res.start, res.input, run.facts))


def _job_target(run: _Run, job: JobRef) -> None:
    _job_sources(run, job, fallback=None, is_target=True)
    if run.facts.get("sagemaker.status") in FAILED_JOB:
        _last_good(run, lambda: lastgood.for_job(run.ctx, job, run.facts))


def _job_sources(
    run: _Run, job: JobRef, *, fallback: dict[str, Any] | None, is_target: bool = False
) -> None:
    """SageMaker, then the job's logs, its image and the instance knowledge."""

    def collect_sm() -> Collected:
        c = sm.collect_job(run.ctx, job, is_target=is_target)
        if "sagemaker.status" not in c.facts and fallback:
            # DescribeTrainingJob unreadable: the `.sync` cause carries the same description.
            c.facts.update(sm.job_facts(fallback, job.kind))
            c.summary += ", facts from the Step Functions cause"
        return c

    if run.step("sagemaker", collect_sm, required=is_target) is None:
        return
    name = run.facts.get("sagemaker.job_name") or job.name
    logs_job = JobRef(name=name, kind=job.kind)
    started = run.facts.get("sagemaker.container_started")
    run.step("cloudwatch_logs",
             lambda: cloudwatch_logs.collect_logs(run.ctx, logs_job, container_started=started))
    run.facts.update(sm.host_instance_facts(run.facts, run.all.logs))
    if started is not False:  # hosts that never ran the image published no metrics
        now = datetime.now(UTC)
        run.step("metrics", lambda: metrics.collect_metrics(run.ctx, run.facts, now))
    _image_and_instance(run)


def _image_and_instance(run: _Run) -> None:
    image = run.facts.get("sagemaker.image")
    if image:
        start = sm.image_reference_time(run.facts) if "sagemaker.status" in run.facts else None
        run.step("ecr", lambda: ecr.collect_image(run.ctx, image, start))
    run.facts.update(instance_facts(run.facts.get("sagemaker.instance_type")))


# The last good run is optional evidence read from the same SageMaker / Step Functions
# quotas as the failure itself: once this investigation has been throttled that often, it is
# skipped with a named gap instead of spending the account's rate (and the Lambda's time).
OPTIONAL_SKIP_AFTER_THROTTLES = 2


def _last_good(run: _Run, fn: Callable[[], lastgood.LastGood]) -> None:
    throttled = run.ctx.counter.throttled_on("sagemaker", "sfn")
    if throttled >= OPTIONAL_SKIP_AFTER_THROTTLES:
        run.all.gaps.append(Gap(
            source=REGISTRY["lastgood"], code="Throttling",
            message=f"lastgood not collected: AWS throttled {throttled} SageMaker/Step Functions "
                    "calls of this investigation; the optional last good run was skipped"))
        run.say("lastgood: skipped, throttled")
        return
    found = run.step("lastgood", fn)
    if found is not None:
        run.changes = found.changes
        run.last_good = found.last_good


def _stop_facts(facts: dict[str, Any], timeline: list[TimelineEvent]) -> dict[str, Any]:
    """stop.by / stop.at when a person stopped the run: StopExecution (the execution ABORTED,
    and the job, if any, did not fail first) or StopTrainingJob/StopProcessingJob."""
    if facts.get("sfn.status") == "ABORTED" and facts.get("sagemaker.status") != "Failed":
        ends = [t.time for t in timeline if t.source == sfn.SOURCE
                and t.event.startswith("ExecutionAborted")]
        when = max(ends, default=None)
        return {"stop.by": "StopExecution", **({"stop.at": when.isoformat()} if when else {})}
    if facts.get("sagemaker.stopped_by_user"):
        kind = "ProcessingJob" if facts.get("sagemaker.job_kind") == "processing" else "TrainingJob"
        when = facts.get("sagemaker.ended")
        return {"stop.by": f"Stop{kind}", **({"stop.at": when} if when else {})}
    return {}


def _evidence(
    target: Target, run: _Run, ctx: AwsContext, started: float, collected_at: datetime
) -> Evidence:
    run.facts.update(_stop_facts(run.facts, run.all.timeline))
    facts = {"target.kind": target.kind, "target.name": target.name, **run.facts}
    region = target.region or ctx.region
    return Evidence(
        target=target.replace(region=region),
        facts=facts,
        logs=run.all.logs,
        gaps=run.all.gaps,
        timeline=sorted(run.all.timeline, key=lambda t: t.time),
        changes=run.changes,
        last_good=run.last_good,
        api_calls=ctx.counter.total,
        elapsed_s=round(time.monotonic() - started, 3),
        collected_at=collected_at,
    )
