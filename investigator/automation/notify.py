"""The on-call notification: a short SNS message that says what broke and where to read more.

Subscribers (email, chat webhooks via Chatbot/Lambda) get plain text; the message
attributes (category, retryable) let an SNS subscription filter policy route, e.g., only
non-retryable failures to a pager. Everything that comes from the investigation is
redacted again here, and the subject is reduced to what SNS accepts (ASCII, one line,
< 100 characters).
"""

from __future__ import annotations

from typing import Any

import re2

from investigator.automation.store import ReportLocation
from investigator.fleet.history import history_line
from investigator.models import Investigation
from investigator.redact import redact_text

_SUBJECT_MAX = 99
_NOT_SUBJECT_SAFE = re2.compile(r"[^\x20-\x7e]+")


def retry_advice(inv: Investigation) -> str:
    f = inv.finding
    if f.category in ("unknown", "none"):
        return "unknown: no rule explained this failure; read the report before retrying"
    if f.retryable:
        return "yes: likely transient, a retry may succeed"
    return "no: a retry will fail the same way until the cause is fixed"


def _partial_note(inv: Investigation) -> str | None:
    unfinished = sorted({g.source for g in inv.gaps if g.code == "Deadline"})
    if unfinished:
        return f"Partial: stopped at the Lambda deadline before reading {', '.join(unfinished)}"
    return None


def subject(inv: Investigation) -> str:
    name = inv.job.name if inv.job and inv.job.name else inv.target.name.rsplit(":", 1)[-1]
    text = f"[{inv.finding.category}] {inv.finding.title} ({name})"
    text = _NOT_SUBJECT_SAFE.sub(" ", redact_text(text)).strip()
    return text if len(text) <= _SUBJECT_MAX else text[: _SUBJECT_MAX - 3].rstrip() + "..."


def message(inv: Investigation, loc: ReportLocation, *, region: str | None = None) -> str:
    f = inv.finding
    lines = [
        f"{f.category}: {f.title}",
        f"Confidence: {f.confidence_label} ({f.confidence:.2f})",
        f"Retry: {retry_advice(inv)}",
        f"Target: {inv.target.kind} {inv.target.name}",
    ]
    if inv.failed_state:
        lines.append(f"Failed state: {inv.failed_state}")
    if inv.job and inv.job.name:
        lines.append(f"Job: {inv.job.name} ({inv.job.status or 'status unknown'})")
    note = _partial_note(inv)
    if note:
        lines.append(note)
    if inv.history:
        lines.append(history_line(inv.history))
    lines.append(f"Report: {loc.html_uri}")
    if region:
        lines.append(
            f"Console: https://{region}.console.aws.amazon.com/s3/object/{loc.bucket}"
            f"?region={region}&prefix={loc.html_key}"
        )
    if f.remediation:
        lines.append(f"First step: {f.remediation[0]}")
    return redact_text("\n".join(lines)) + "\n"


def attributes(inv: Investigation) -> dict[str, Any]:
    return {
        "category": {"DataType": "String", "StringValue": inv.finding.category},
        "retryable": {"DataType": "String", "StringValue": str(inv.finding.retryable).lower()},
    }


def publish(sns: Any, topic_arn: str, inv: Investigation, loc: ReportLocation,
            *, region: str | None = None) -> str:
    resp = sns.publish(
        TopicArn=topic_arn,
        Subject=subject(inv),
        Message=message(inv, loc, region=region),
        MessageAttributes=attributes(inv),
    )
    return str(resp.get("MessageId", ""))
