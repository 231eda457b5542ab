"""One index record per failure: the row every fleet view is computed from.

The same fields come from an Investigation (the Lambda, at report time) or from a JSON
report on disk (`investigate log|execution|job --format json`, or the Lambda's stored
`.json`). Written as one JSON object per line; `failed_at` is always
`YYYY-MM-DDTHH:MM:SSZ`, so string order is time order in pandas, DuckDB and Athena alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import re2

from investigator.fleet.fingerprint import fingerprint_of, fingerprint_of_report, image_digest

if TYPE_CHECKING:
    from investigator.models import Investigation

RECORD_VERSION = 1


@dataclass(frozen=True)
class IndexRecord:
    fingerprint: str
    category: str
    rule: str
    title: str
    confidence: float
    retryable: bool
    target: str
    target_kind: str
    pipeline: str | None
    job: str | None
    failed_state: str | None
    failed_at: str
    report: str | None
    instance_type: str | None = None
    image_digest: str | None = None
    v: int = RECORD_VERSION

    def to_json_line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False) + "\n"

    @property
    def day(self) -> str:
        return self.failed_at[:10]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> IndexRecord:
        """A record read back from the index; raises ValueError when it is not one."""
        missing = {"fingerprint", "category", "rule", "failed_at", "target"} - set(data)
        if missing:
            raise ValueError(f"not an index record (missing {', '.join(sorted(missing))})")
        kwargs = {**_DEFAULTS, "title": data["rule"]}
        kwargs.update((k, v) for k, v in data.items() if k in _FIELDS)
        failed_at = kwargs["failed_at"]
        if not (isinstance(failed_at, str) and _CANONICAL_TIME.match(failed_at)):
            kwargs["failed_at"] = iso_z(parse_time(failed_at))  # written by another tool
        return cls(**kwargs)


_FIELDS = frozenset(f.name for f in fields(IndexRecord))
_DEFAULTS: dict[str, Any] = {"confidence": 0.0, "retryable": False, "target_kind": "",
                             "pipeline": None, "job": None, "failed_state": None, "report": None}
_CANONICAL_TIME = re2.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def iso_z(ts: datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def pipeline_of(target_name: str | None, facts: Mapping[str, Any]) -> str | None:
    """The state machine's name: from the execution ARN, else the fact the collector set."""
    for arn in (facts.get("sfn.state_machine_arn"), target_name, facts.get("sfn.execution_arn")):
        if not isinstance(arn, str):
            continue
        if ":stateMachine:" in arn:
            return arn.split(":stateMachine:", 1)[1].split(":", 1)[0]
        if ":execution:" in arn:
            return arn.split(":execution:", 1)[1].split(":", 1)[0]
    return None


def record_key(failure_key: str) -> str:
    """Deterministic per failure: writing the same failure twice overwrites, never adds."""
    return hashlib.sha256(failure_key.encode("utf-8")).hexdigest()[:32]


def from_investigation(
    inv: Investigation, *, failed_at: datetime, report: str | None,
    pipeline: str | None = None,
) -> IndexRecord:
    f = inv.finding
    job = inv.job
    return IndexRecord(
        fingerprint=fingerprint_of(inv),
        category=f.category,
        rule=f.rule,
        title=f.title,
        confidence=f.confidence,
        retryable=f.retryable,
        target=inv.target.name,
        target_kind=inv.target.kind,
        pipeline=pipeline or pipeline_of(inv.target.name, inv.facts),
        job=(job.name if job else None) or inv.facts.get("sfn.job_name"),
        failed_state=inv.failed_state,
        failed_at=iso_z(failed_at),
        report=report,
        instance_type=(job.instance_type if job else None)
        or inv.facts.get("sagemaker.instance_type"),
        image_digest=image_digest(inv.facts, job.image if job else None),
    )


def _report_time(doc: Mapping[str, Any]) -> datetime | None:
    """When the failure happened, as the report knows it: job end, else the latest event."""
    job = doc.get("job") or {}
    facts = doc.get("facts") or {}
    candidates: list[Any] = [job.get("ended"), facts.get("sagemaker.ended")]
    if not any(candidates):
        candidates = [e.get("end") or e.get("time") for e in doc.get("timeline") or []]
        candidates += [e.get("timestamp") for e in doc.get("evidence") or []]
    times = []
    for value in candidates:
        if value:
            try:
                times.append(parse_time(value))
            except (TypeError, ValueError):
                continue
    return max(times) if times else None


def is_report(doc: Any) -> bool:
    """An investigation JSON report (not an evidence bundle, not some other JSON)."""
    return (isinstance(doc, dict) and isinstance(doc.get("rule"), str)
            and isinstance(doc.get("category"), str) and isinstance(doc.get("target"), dict))


def from_report(doc: Mapping[str, Any], *, report: str, written_at: datetime) -> IndexRecord:
    """`written_at` (the file's time) stands in when the report holds no time at all (a log)."""
    target = doc.get("target") or {}
    facts = doc.get("facts") or {}
    job = doc.get("job") or {}
    failed_at = _report_time(doc) or written_at
    return IndexRecord(
        fingerprint=str(doc.get("fingerprint") or fingerprint_of_report(doc)),
        category=str(doc["category"]),
        rule=str(doc["rule"]),
        title=str(doc.get("title") or doc["rule"]),
        confidence=float(doc.get("confidence") or 0.0),
        retryable=bool(doc.get("retryable")),
        target=str(target.get("name") or doc.get("source") or report),
        target_kind=str(target.get("kind") or ""),
        pipeline=pipeline_of(target.get("name"), facts),
        job=job.get("name") or facts.get("sfn.job_name"),
        failed_state=doc.get("failed_state"),
        failed_at=iso_z(failed_at),
        report=report,
        instance_type=job.get("instance_type") or facts.get("sagemaker.instance_type"),
        image_digest=image_digest(facts, job.get("image")),
    )
