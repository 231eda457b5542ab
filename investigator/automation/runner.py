"""Report one failure end to end: claim → investigate → store → notify → mark done.

This is the library the Lambda handler calls; it knows nothing about Lambda contexts.
`investigate` is injected (default: investigator.pipeline.investigate_target) so the flow
is testable without the collectors.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from investigator.automation import notify
from investigator.automation.events import Failure
from investigator.automation.store import ClaimResult, ReportLocation, ReportStore
from investigator.automation.sweep import CheckpointStore, SweepConfig, SweepResult, run_sweep
from investigator.errors import AwsError, InputError, InvestigatorError
from investigator.fleet.store import record_failure
from investigator.models import Evidence, Gap, Investigation, Target

log = logging.getLogger("investigator.automation")

Investigate = Callable[..., tuple[Evidence, Investigation]]
LEASE_MARGIN_S = 30.0
OutcomeStatus = Literal["reported", "duplicate", "in_progress", "gave_up"]


class ConfigError(Exception):
    """The function's environment is incomplete: a deployment bug, not an event problem."""


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _number(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class Settings:
    bucket: str
    prefix: str = "reports"
    topic_arn: str | None = None
    state_machine_arns: tuple[str, ...] = ()
    training_job_prefix: str = ""
    checkpoint_parameter: str | None = None
    region: str | None = None
    reserve_s: float = 10.0  # kept back from the Lambda deadline to render, store, notify
    lease_s: float = 960.0  # a claim older than this is presumed dead (> max Lambda timeout)
    sweep: SweepConfig | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        bucket = env.get("REPORT_BUCKET", "").strip()
        if not bucket:
            raise ConfigError("REPORT_BUCKET is not set")
        machines = _csv(env.get("STATE_MACHINE_ARNS"))
        parameter = env.get("CHECKPOINT_PARAMETER", "").strip() or None
        sweep = None
        if parameter:
            sweep = SweepConfig(
                state_machine_arns=machines,
                parameter_name=parameter,
                initial_lookback_s=_number(env, "SWEEP_INITIAL_LOOKBACK_HOURS", 24) * 3600,
                horizon_s=_number(env, "SWEEP_HORIZON_HOURS", 24) * 3600,
                max_pages=int(_number(env, "SWEEP_MAX_PAGES", 5)),
                max_items=int(_number(env, "SWEEP_MAX_ITEMS", 50)),
                min_item_s=_number(env, "SWEEP_MIN_SECONDS_PER_ITEM", 30),
            )
        return cls(
            bucket=bucket,
            prefix=env.get("REPORT_PREFIX", "reports").strip("/") or "reports",
            topic_arn=env.get("TOPIC_ARN", "").strip() or None,
            state_machine_arns=machines,
            training_job_prefix=env.get("TRAINING_JOB_PREFIX", "").strip(),
            checkpoint_parameter=parameter,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            reserve_s=_number(env, "REPORT_RESERVE_SECONDS", 10),
            lease_s=_number(env, "CLAIM_LEASE_SECONDS", 960),
            sweep=sweep,
        )

    def out_of_scope(self, failure: Failure) -> str | None:
        """Why this deployment does not handle `failure` (IAM would deny it anyway)."""
        arn = failure.state_machine_arn
        if arn and self.state_machine_arns and arn not in self.state_machine_arns:
            return f"state machine {arn} is not configured (STATE_MACHINE_ARNS)"
        if (failure.target.kind == "job" and self.training_job_prefix
                and not failure.target.name.startswith(self.training_job_prefix)):
            return f"job name does not start with TRAINING_JOB_PREFIX {self.training_job_prefix!r}"
        return None


@dataclass
class Services:
    """The AWS clients the automation itself uses (the collectors make their own)."""

    s3: Any
    sns: Any = None
    ssm: Any = None
    sfn: Any = None
    session: Any = None

    @classmethod
    def from_session(cls, session: Any, region: str | None = None) -> Services:
        from botocore.config import Config

        cfg = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=5,
                     read_timeout=20, user_agent_extra="investigator-lambda")

        def make(name: str) -> Any:
            return session.client(name, region_name=region, config=cfg)

        return cls(s3=make("s3"), sns=make("sns"), ssm=make("ssm"), sfn=make("stepfunctions"),
                   session=session)


@dataclass
class Outcome:
    status: OutcomeStatus
    key: str
    target: str
    location: ReportLocation | None = None
    category: str | None = None
    rule: str | None = None
    retryable: bool | None = None
    gaps: list[str] = field(default_factory=list)
    notified: bool = False
    elapsed_s: float = 0.0
    api_calls: int = 0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "key": self.key, "target": self.target}
        if self.location:
            out["report"] = self.location.as_dict()
        for name in ("category", "rule", "retryable"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.status == "reported":
            out.update(gaps=self.gaps, notified=self.notified, elapsed_s=round(self.elapsed_s, 3),
                       api_calls=self.api_calls)
        return out


def default_investigate() -> Investigate:
    from investigator.pipeline import investigate_target

    return investigate_target


def _gap_source(target: Target) -> str:
    return "sfn" if target.kind == "execution" else "sagemaker"


def is_permanent(exc: InvestigatorError) -> bool:
    """Will reading the target fail the same way on a retry (gone, denied, a bad ARN)?

    Throttling, an unreachable endpoint or rejected credentials are raised for a retry
    instead: a report saying "could not read" would hide a failure that a retry can read.
    """
    if isinstance(exc, AwsError):
        return not exc.retryable
    return isinstance(exc, InputError)


def _unreadable(failure: Failure, exc: InvestigatorError) -> Evidence:
    """What we know when the target itself cannot be read: the event's own facts."""
    gap = Gap(source=_gap_source(failure.target), code=type(exc).__name__,
              message=f"the {failure.target.kind} could not be read: {exc}")
    return Evidence(target=failure.target, facts=dict(failure.facts), gaps=[gap],
                    collected_at=datetime.now(UTC))


def _with_event_facts(evidence: Evidence, failure: Failure) -> Evidence:
    """Fill facts collection did not get (deadline, AccessDenied) from the event itself."""
    missing = {k: v for k, v in failure.facts.items() if k not in evidence.facts}
    if not missing:
        return evidence
    return evidence.model_copy(update={"facts": {**missing, **evidence.facts}})


def investigate_failure(
    failure: Failure, investigate: Investigate, *, deadline: float | None, session: Any,
    region: str | None,
) -> tuple[Evidence, Investigation]:
    from investigator.classifier import classify

    def progress(line: str) -> None:
        log.info("progress", extra={"key": failure.key, "line": line})

    try:
        evidence, inv = investigate(failure.target, region=failure.target.region or region,
                                    progress=progress, deadline=deadline, session=session)
    except InvestigatorError as exc:  # the target itself is unreadable: still report it
        if not is_permanent(exc):
            raise
        log.warning("target unreadable", extra={"key": failure.key, "error": str(exc)})
        evidence = _unreadable(failure, exc)
        return evidence, classify(evidence)
    enriched = _with_event_facts(evidence, failure)
    if enriched is not evidence:
        return enriched, classify(enriched)
    return evidence, inv


def _render(evidence: Evidence, inv: Investigation) -> tuple[str, str, str]:
    from investigator.redact import redact_model
    from investigator.reporter import render

    bundle = redact_model(evidence).model_dump_json(indent=2) + "\n"
    return render(inv, "html"), render(inv, "json"), bundle


@dataclass
class Reporter:
    """Everything needed to report failures; one per invocation."""

    settings: Settings
    services: Services
    investigate: Investigate
    owner: str = "local"
    deadline: float | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def store(self) -> ReportStore:
        return ReportStore(self.services.s3, self.settings.bucket, prefix=self.settings.prefix,
                           lease_s=self._lease_s(), clock=self.clock)

    def _lease_s(self) -> float:
        """How long a claim we take now may look alive: until this invocation must end."""
        if self.deadline is None:
            return self.settings.lease_s
        ends_in = self.deadline - time.monotonic() + self.settings.reserve_s
        return min(self.settings.lease_s, max(60.0, ends_in + LEASE_MARGIN_S))

    def report(self, failure: Failure) -> Outcome:
        store = self.store
        claimed = store.claim(failure.key, self.owner)
        if claimed.status != "claimed" or claimed.claim is None:
            return self._not_ours(failure, claimed)
        try:
            return self._report_claimed(failure, store, claimed)
        except BaseException as exc:
            store.abandon(claimed.claim, f"{type(exc).__name__}: {exc}")
            raise

    def _not_ours(self, failure: Failure, claimed: ClaimResult) -> Outcome:
        status: OutcomeStatus = "duplicate" if claimed.status == "done" else claimed.status  # type: ignore[assignment]
        rec = claimed.record
        log.info("not reporting", extra={"key": failure.key, "status": status,
                                         "claim_owner": rec.get("owner"),
                                         "report": rec.get("report")})
        return Outcome(status, failure.key, failure.target.name, category=rec.get("category"))

    def _report_claimed(
        self, failure: Failure, store: ReportStore, claimed: ClaimResult
    ) -> Outcome:
        assert claimed.claim is not None
        started = time.monotonic()
        evidence, inv = investigate_failure(
            failure, self.investigate, deadline=self.deadline, session=self.services.session,
            region=self.settings.region)
        loc = store.location(failure.report_name, failure.failed_at)
        inv = record_failure(self.services.s3, self.settings.bucket, inv, failure_key=failure.key,
                             failed_at=failure.failed_at, report=loc.html_uri,
                             state_machine_arn=failure.state_machine_arn)  # fleet index
        html, json_text, bundle = _render(evidence, inv)
        store.write_report(loc, html=html, json_text=json_text, bundle=bundle)
        notified = self._notify(inv, loc, failure)
        result = {"report": loc.as_dict(), "category": inv.finding.category,
                  "rule": inv.finding.rule, "notified": notified}
        if not store.complete(claimed.claim, **result):
            log.warning("claim taken over while reporting", extra={"key": failure.key})
        self._cover_job(failure, inv, store, result)
        return Outcome("reported", failure.key, failure.target.name, location=loc,
                       category=inv.finding.category, rule=inv.finding.rule,
                       retryable=inv.finding.retryable,
                       gaps=[f"{g.source}:{g.code}" for g in inv.gaps], notified=notified,
                       elapsed_s=time.monotonic() - started, api_calls=inv.api_calls)

    def _notify(self, inv: Investigation, loc: ReportLocation, failure: Failure) -> bool:
        if not self.settings.topic_arn or self.services.sns is None:
            return False
        region = failure.target.region or self.settings.region
        notify.publish(self.services.sns, self.settings.topic_arn, inv, loc, region=region)
        return True

    def _cover_job(self, failure: Failure, inv: Investigation, store: ReportStore,
                   result: dict[str, Any]) -> None:
        """A training job inside a reported execution needs no second report and page."""
        job = inv.job
        if failure.target.kind != "execution" or not job or not job.name or job.kind != "training":
            return
        try:
            store.mark_covered(f"job:training:{job.name}", self.owner, covered_by=failure.key,
                               **result)
        except ClientError as exc:  # the report is out; at worst the job's event reports too
            log.warning("could not mark the job reported", extra={"key": failure.key,
                                                                  "error": str(exc)})

    def sweep(self) -> SweepResult:
        from investigator.automation.sweep import monotonic_time_left

        cfg = self.settings.sweep
        if cfg is None or self.services.ssm is None or self.services.sfn is None:
            raise ConfigError("the sweep needs CHECKPOINT_PARAMETER and STATE_MACHINE_ARNS")

        def report(failure: Failure) -> str:
            outcome = self.report(failure)
            log.info("sweep item", extra=outcome.as_dict())
            return outcome.status

        return run_sweep(
            self.services.sfn, CheckpointStore(self.services.ssm, cfg.parameter_name), cfg,
            report=report, time_left=monotonic_time_left(self.deadline),
            region=self.settings.region, now=self.clock(),
        )
