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
from investigator.automation.events import SFN_FAILED_STATUSES, Failure
from investigator.automation.store import (
    Claim,
    ClaimResult,
    IncidentGate,
    ReportLocation,
    ReportStore,
)
from investigator.automation.sweep import CheckpointStore, SweepConfig, SweepResult, run_sweep
from investigator.errors import AwsError, InputError, InvestigatorError
from investigator.fleet.store import record_failure
from investigator.models import Evidence, Gap, Investigation, Target, to_json
from investigator.taxonomy import JOB_FAILED_STATUSES

log = logging.getLogger("investigator.automation")

Investigate = Callable[..., tuple[Evidence, Investigation]]
LEASE_MARGIN_S = 30.0
# reported: this path wrote the incident's report and paged. updated: a pipeline's execution
# rewrote the report its job's event had written (no page). linked: the incident was already
# reported by another path (no report, no page). duplicate / in_progress: see the claim.
OutcomeStatus = Literal["reported", "updated", "linked", "duplicate", "in_progress"]
# Collected facts a stale describe can contradict; the event's terminal value wins.
_TERMINAL_EVENT_FACTS = {
    "sfn.status": SFN_FAILED_STATUSES,
    "sagemaker.status": JOB_FAILED_STATUSES,
}


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
    processing_job_prefix: str = ""
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
                job_kinds=_csv(env.get("SWEEP_JOB_KINDS", "training,processing")),
                training_job_prefix=env.get("TRAINING_JOB_PREFIX", "").strip(),
                processing_job_prefix=env.get("PROCESSING_JOB_PREFIX", "").strip(),
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
            processing_job_prefix=env.get("PROCESSING_JOB_PREFIX", "").strip(),
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
        if failure.target.kind != "job":
            return None
        if failure.target.job_kind == "processing":
            name, prefix = "PROCESSING_JOB_PREFIX", self.processing_job_prefix
        else:
            name, prefix = "TRAINING_JOB_PREFIX", self.training_job_prefix
        if prefix and not failure.target.name.startswith(prefix):
            return f"job name does not start with {name} {prefix!r}"
        return None


@dataclass
class Services:
    """The AWS clients the automation itself uses (the collectors make their own)."""

    s3: Any
    sns: Any = None
    ssm: Any = None
    sfn: Any = None
    session: Any = None
    sagemaker: Any = None  # the sweep's job listing

    @classmethod
    def from_session(cls, session: Any, region: str | None = None) -> Services:
        from investigator.aws import AUTOMATION_CONFIG

        def make(name: str) -> Any:
            return session.client(name, region_name=region, config=AUTOMATION_CONFIG)

        return cls(s3=make("s3"), sns=make("sns"), ssm=make("ssm"), sfn=make("stepfunctions"),
                   session=session, sagemaker=make("sagemaker"))


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
    incident: str | None = None
    final: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "key": self.key, "target": self.target}
        if self.location:
            out["report"] = self.location.as_dict()
        for name in ("category", "rule", "retryable"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.status in ("reported", "updated", "linked"):
            out.update(gaps=self.gaps, notified=self.notified, elapsed_s=round(self.elapsed_s, 3),
                       api_calls=self.api_calls, incident=self.incident, final=self.final)
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


def _unreadable(failure: Failure, exc: BaseException, earlier: list[str] | None = None
                ) -> Evidence:
    """What we know when the target itself cannot be read: the event's own facts.

    After the last attempt the gap names every attempt's error: what could not be read, why.
    """
    what = f"the {failure.target.kind} could not be read"
    now = f"{type(exc).__name__}: {exc}" if not isinstance(exc, InvestigatorError) else str(exc)
    if earlier:
        attempts = len(earlier) + 1
        message = (f"{what} in {attempts} attempts: " + "; ".join(earlier)
                   + f"; attempt {attempts}: {now}")
    else:
        message = f"{what}: {now}"
    gap = Gap(source=_gap_source(failure.target), code=type(exc).__name__, message=message[:2000])
    return Evidence(target=failure.target, facts=dict(failure.facts), gaps=[gap],
                    collected_at=datetime.now(UTC))


def _with_event_facts(evidence: Evidence, failure: Failure) -> Evidence:
    """Fill facts collection did not get (deadline, AccessDenied) from the event itself.

    The event's terminal status also wins over a non-terminal one read back: DescribeExecution
    is eventually consistent ("may not reflect very recent updates", botocore's
    stepfunctions service-2.json, DescribeExecution), so right after the FAILED event it can
    still say RUNNING.
    """
    missing = {k: v for k, v in failure.facts.items() if k not in evidence.facts}
    stale = {k: failure.facts[k] for k, terminal in _TERMINAL_EVENT_FACTS.items()
             if k in evidence.facts and failure.facts.get(k) in terminal
             and evidence.facts[k] not in terminal}
    if not missing and not stale:
        return evidence
    described = {f"{k}_described": evidence.facts[k] for k in stale}
    if stale:
        log.info("stale describe", extra={"key": failure.key, "event": stale,
                                          "described": described})
    facts = {**missing, **evidence.facts, **stale, **described}
    return evidence.replace(facts=facts)


def investigate_failure(
    failure: Failure, investigate: Investigate, *, deadline: float | None, session: Any,
    region: str | None, final: bool = False, earlier_errors: list[str] | None = None,
) -> tuple[Evidence, Investigation]:
    """Investigate; a `final` attempt turns any error into a report saying what failed."""
    from investigator.classifier import classify

    def progress(line: str) -> None:
        log.info("progress", extra={"key": failure.key, "line": line})

    try:
        evidence, inv = investigate(failure.target, region=failure.target.region or region,
                                    progress=progress, deadline=deadline, session=session)
    except Exception as exc:  # the target itself is unreadable: still report it
        permanent = isinstance(exc, InvestigatorError) and is_permanent(exc)
        if not (permanent or final):
            raise
        log.warning("target unreadable", extra={"key": failure.key, "error": str(exc),
                                                "final": final})
        evidence = _unreadable(failure, exc, earlier_errors if final else None)
        return evidence, classify(evidence)
    enriched = _with_event_facts(evidence, failure)
    if enriched is not evidence:
        return enriched, classify(enriched)
    return evidence, inv


def _render(evidence: Evidence, inv: Investigation) -> tuple[str, str, str]:
    from investigator.redact import redact_model
    from investigator.reporter import render

    bundle = to_json(redact_model(evidence), indent=2) + "\n"
    return render(inv, "html"), render(inv, "json"), bundle


def incident_of(failure: Failure, inv: Investigation) -> str:
    """One incident per failed job: a pipeline's execution and its failed job share it."""
    if failure.target.kind == "job":
        return failure.key
    job = inv.job
    if job and job.name and job.kind in ("training", "processing"):
        return f"job:{job.kind}:{job.name}"
    return failure.key


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
            return self._report_claimed(failure, store, claimed.claim)
        except BaseException as exc:
            store.abandon(claimed.claim, f"{type(exc).__name__}: {exc}")
            raise

    def _not_ours(self, failure: Failure, claimed: ClaimResult) -> Outcome:
        status: OutcomeStatus = "duplicate" if claimed.status == "done" else claimed.status  # type: ignore[assignment]
        rec = claimed.record
        log.info("not reporting", extra={"key": failure.key, "status": status,
                                         "claim_owner": rec.get("owner"),
                                         "report": rec.get("report")})
        return Outcome(status, failure.key, failure.target.name, category=rec.get("category"),
                       location=ReportLocation.from_dict(rec.get("report")),
                       incident=rec.get("incident"))

    def _report_claimed(self, failure: Failure, store: ReportStore, claim: Claim) -> Outcome:
        started = time.monotonic()
        evidence, inv = investigate_failure(
            failure, self.investigate, deadline=self.deadline, session=self.services.session,
            region=self.settings.region, final=claim.final, earlier_errors=claim.errors)
        incident = incident_of(failure, inv)
        own = store.location(failure.report_name, failure.failed_at)
        pipeline = failure.target.name if failure.target.kind == "execution" else None
        gate = store.open_incident(incident, by=failure.key, owner=self.owner,
                                   report=own.as_dict(), pipeline=pipeline)
        status, loc, notified = self._publish_or_link(failure, store, gate, own, evidence, inv,
                                                      incident)
        result = {"report": loc.as_dict(), "category": inv.finding.category,
                  "rule": inv.finding.rule, "notified": notified, "incident": incident,
                  "outcome": status}
        if not store.complete(claim, **result):
            log.warning("claim taken over while reporting", extra={"key": failure.key})
        self._cover_job(failure, inv, store, result)
        return Outcome(status, failure.key, failure.target.name, location=loc,
                       category=inv.finding.category, rule=inv.finding.rule,
                       retryable=inv.finding.retryable,
                       gaps=[f"{g.source}:{g.code}" for g in inv.gaps], notified=notified,
                       elapsed_s=time.monotonic() - started, api_calls=inv.api_calls,
                       incident=incident, final=claim.final)

    def _publish_or_link(
        self, failure: Failure, store: ReportStore, gate: IncidentGate, own: ReportLocation,
        evidence: Evidence, inv: Investigation, incident: str,
    ) -> tuple[OutcomeStatus, ReportLocation, bool]:
        """The incident's first path writes and pages; later ones update or link its report."""
        if gate.ours:
            inv = self._index(inv, failure, incident, own)
            self._write(store, own, evidence, inv)
            notified = False
            if not gate.paged:
                message_id = self._notify(inv, own, failure)
                notified = message_id is not None
                if notified:
                    store.incident_paged(gate, message_id or "")
            return "reported", own, notified
        loc = ReportLocation.from_dict(gate.record.get("report")) or own
        by = str(gate.record.get("by", ""))
        if failure.target.kind == "execution" and by.startswith("job:"):
            # The job's event paged first: the pipeline's report replaces the job's, in place.
            inv = self._index(inv, failure, incident, loc)
            self._write(store, loc, evidence, inv)
            store.link_incident(gate, failure.key, pipeline=failure.target.name)
            log.info("incident updated", extra={"key": failure.key, "incident_by": by})
            return "updated", loc, False
        store.link_incident(gate, failure.key)
        log.info("incident linked", extra={"key": failure.key, "incident_by": by})
        return "linked", loc, False

    def _index(self, inv: Investigation, failure: Failure, incident: str,
               loc: ReportLocation) -> Investigation:
        """The fleet index record (one per incident: a pipeline's execution overwrites its
        job's record with the pipeline context) and the history the report then shows."""
        return record_failure(self.services.s3, self.settings.bucket, inv, failure_key=incident,
                              failed_at=failure.failed_at, report=loc.html_uri,
                              state_machine_arn=failure.state_machine_arn)

    def _write(self, store: ReportStore, loc: ReportLocation, evidence: Evidence,
               inv: Investigation) -> None:
        html, json_text, bundle = _render(evidence, inv)
        store.write_report(loc, html=html, json_text=json_text, bundle=bundle)

    def _notify(self, inv: Investigation, loc: ReportLocation, failure: Failure) -> str | None:
        if not self.settings.topic_arn or self.services.sns is None:
            return None
        region = failure.target.region or self.settings.region
        return notify.publish(self.services.sns, self.settings.topic_arn, inv, loc,
                              region=region)

    def _cover_job(self, failure: Failure, inv: Investigation, store: ReportStore,
                   result: dict[str, Any]) -> None:
        """A job inside a reported execution needs no second investigation."""
        job = inv.job
        if failure.target.kind != "execution" or not job or not job.name:
            return
        if job.kind not in ("training", "processing"):
            return
        try:
            store.mark_covered(f"job:{job.kind}:{job.name}", self.owner, covered_by=failure.key,
                               **result)
        except ClientError as exc:  # the incident object still stops a second page
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
            region=self.settings.region, now=self.clock(), sagemaker=self.services.sagemaker,
        )
