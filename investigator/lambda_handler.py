"""The Lambda edge: parse the EventBridge event, call the library, log one JSON line per step.

Events (see investigator/automation/events.py): a failed Step Functions execution, a failed
or timed-out SageMaker training job, a failed processing job, or the sweep schedule.
SageMaker job events arrive through an SQS delay queue (infra/template.yaml), as a batch of
records whose bodies are the EventBridge events; a record that raises is reported back as a
batch item failure, so SQS retries it (then its redrive policy dead-letters it). Anything
else, or anything malformed, is logged and acknowledged: raising would make Lambda retry an
event that can never succeed and then park it in the dead-letter queue.

Errors that a retry can fix (throttling after the SDK's retries, an S3 outage, a bug fixed
by a redeploy) are raised: Lambda retries the asynchronous invocation twice, then the event
lands in the DLQ, and the sweep reports the execution later anyway.

Logging: the standard library, one JSON object per line on stdout, rather than
aws-lambda-powertools. Powertools' Logger would give the same lines plus cold-start and
correlation-id helpers, but it is a ~10 MB dependency (with its typing extras) for about
40 lines of formatter here; the zip stays small, the code has no Lambda-only import path,
and CloudWatch Logs Insights discovers the JSON fields either way. The function keeps the
runtime's default Text log format, so our JSON lines are stored as written.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from investigator.automation.events import Failure, Ignored, SweepRequest, parse_event
from investigator.automation.runner import (
    ConfigError,
    Investigate,
    Reporter,
    Services,
    Settings,
    default_investigate,
)

log = logging.getLogger("investigator.automation")

_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName",
}


class JsonLineFormatter(logging.Formatter):
    """level, time, logger, message, then every `extra=` field, as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "level": record.levelname,
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class _StdoutHandler(logging.Handler):
    """Writes to the *current* sys.stdout (Lambda captures it; tests can capture it too)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


def configure_logging() -> None:
    root = logging.getLogger("investigator")
    if any(isinstance(h, _StdoutHandler) for h in root.handlers):
        return
    handler = _StdoutHandler()
    handler.setFormatter(JsonLineFormatter())
    root.addHandler(handler)
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    root.propagate = False  # the runtime's root handler would print every line a second time


_SERVICES: dict[str | None, Services] = {}


def _default_services(region: str | None) -> Services:
    """Kept across warm invocations: a new session would parse the service models again."""
    if region not in _SERVICES:
        import boto3

        _SERVICES[region] = Services.from_session(boto3.session.Session(), region)
    return _SERVICES[region]


def deadline_from(context: Any, reserve_s: float) -> float | None:
    """time.monotonic() value by which collection must stop; None without a Lambda context."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return time.monotonic() + max(0.0, remaining() / 1000.0 - reserve_s)


def _sqs_records(event: Any) -> list[dict[str, Any]] | None:
    records = event.get("Records") if isinstance(event, dict) else None
    if isinstance(records, list) and records and all(
            isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records):
        return records
    return None


def handle_records(records: list[dict[str, Any]], context: Any, **deps: Any) -> dict[str, Any]:
    """An SQS batch: each body is one EventBridge event. Failed records are retried by SQS
    (ReportBatchItemFailures); the others are deleted."""
    failures, results = [], []
    for record in records:
        try:
            body = json.loads(record.get("body") or "")
        except ValueError:
            body = record.get("body")  # parse_event acknowledges it as malformed
        try:
            results.append(handle(body, context, **deps))
        except Exception:
            log.exception("record failed; SQS will deliver it again",
                          extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures, "results": results}


def handle(
    event: Any,
    context: Any = None,
    *,
    settings: Settings | None = None,
    services: Services | None = None,
    investigate: Investigate | None = None,
) -> dict[str, Any]:
    """The handler with its dependencies injectable (tests pass fakes)."""
    configure_logging()
    records = _sqs_records(event)
    if records is not None:
        return handle_records(records, context, settings=settings, services=services,
                              investigate=investigate)
    request_id = getattr(context, "aws_request_id", None) or "local"
    parsed = parse_event(event)
    if isinstance(parsed, Ignored):
        log.info("ignored", extra={"request_id": request_id, **parsed.model_dump()})
        return {"status": "ignored", "reason": parsed.reason}
    try:
        settings = settings or Settings.from_env()
    except ConfigError as exc:
        log.error("configuration error", extra={"request_id": request_id, "error": str(exc)})
        raise
    if isinstance(parsed, Failure) and (why := settings.out_of_scope(parsed)):
        log.info("ignored", extra={"request_id": request_id, "key": parsed.key, "reason": why})
        return {"status": "ignored", "reason": why}
    services = services or _default_services(settings.region)
    reporter = Reporter(settings, services, investigate or default_investigate(),
                        owner=request_id, deadline=deadline_from(context, settings.reserve_s))
    if isinstance(parsed, SweepRequest):
        result = reporter.sweep().as_dict()
        log.info("sweep done", extra={"request_id": request_id, **result})
        return result
    log.info("investigating", extra={"request_id": request_id, "key": parsed.key,
                                     "event_id": parsed.event_id})
    outcome = reporter.report(parsed).as_dict()
    log.info(outcome["status"], extra={"request_id": request_id, **outcome})
    return outcome


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Entry point named in infra/template.yaml."""
    try:
        return handle(event, context)
    except Exception:
        log.exception("invocation failed; Lambda will retry, then the DLQ keeps the event")
        raise
