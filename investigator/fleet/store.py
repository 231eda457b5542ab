"""The S3 fleet index the Lambda writes beside each report, and the report's history.

Layout in the report bucket, beside (not under) the reports, so the reports' own listing
and lifecycle stay as they are:
    index/date=YYYY-MM-DD/<sha256 of the failure key>.jsonl   one IndexRecord line
    fleet/fingerprints/<fingerprint>.json                     running summary per fingerprint

The record key is a function of the failure alone, so a redelivered event or a retried
invocation overwrites its own record: the index holds one line per failure. Athena reads
`index/` through partition projection on `date` (infra/template.yaml). The summary gives a
new report its history ("seen N times since ...") with one GET and one conditional PUT
instead of listing the index; it remembers the latest failure keys so a retry is not
counted twice, and `If-Match` on its ETag keeps concurrent invocations from losing counts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from investigator.fleet.records import (
    IndexRecord,
    from_investigation,
    parse_time,
    pipeline_of,
    record_key,
)
from investigator.models import History

if TYPE_CHECKING:
    from investigator.models import Investigation

log = logging.getLogger("investigator.fleet")

RECENT_KEPT = 20
PUT_ATTEMPTS = 3
_LOST_RACE = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_MISSING = frozenset({"NoSuchKey", "404"})


def _code(exc: ClientError) -> str:
    err = exc.response.get("Error", {})
    return str(err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))


def index_prefix(prefix: str) -> str:
    return f"{prefix.strip('/')}/index/" if prefix.strip("/") else "index/"


@dataclass
class FleetIndex:
    s3: Any
    bucket: str
    prefix: str = ""

    def record_object_key(self, record: IndexRecord, failure_key: str) -> str:
        return f"{index_prefix(self.prefix)}date={record.day}/{record_key(failure_key)}.jsonl"

    def summary_key(self, fingerprint: str) -> str:
        base = f"{self.prefix.strip('/')}/" if self.prefix.strip("/") else ""
        return f"{base}fleet/fingerprints/{fingerprint}.json"

    def write_record(self, record: IndexRecord, failure_key: str) -> str:
        key = self.record_object_key(record, failure_key)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=record.to_json_line().encode(),
                           ContentType="application/x-ndjson")
        return key

    def _read_summary(self, fingerprint: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=self.summary_key(fingerprint))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None, None
            raise
        try:
            doc = json.loads(obj["Body"].read())
        except (ValueError, UnicodeDecodeError):
            doc = None  # corrupt: rebuilt from this failure on
        return (doc if isinstance(doc, dict) else None), str(obj.get("ETag", ""))

    def remember(self, record: IndexRecord, failure_key: str) -> History | None:
        """Add this failure to its fingerprint's summary; return what came before it."""
        for _ in range(PUT_ATTEMPTS):
            doc, etag = self._read_summary(record.fingerprint)
            history = history_before(doc, failure_key)
            updated = add_failure(doc, record, failure_key)
            if updated is None:  # already counted (a retry): nothing to write
                return history
            conditions = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                self.s3.put_object(Bucket=self.bucket, Key=self.summary_key(record.fingerprint),
                                   Body=json.dumps(updated, sort_keys=True).encode(),
                                   ContentType="application/json", **conditions)
                return history
            except ClientError as exc:
                if _code(exc) not in _LOST_RACE:
                    raise
        log.warning("fleet summary busy; history may be one behind",
                    extra={"fingerprint": record.fingerprint})
        return history


def _entries(doc: dict[str, Any] | None) -> list[dict[str, Any]]:
    recent = (doc or {}).get("recent")
    return [e for e in recent if isinstance(e, dict)] if isinstance(recent, list) else []


def history_before(doc: dict[str, Any] | None, failure_key: str) -> History | None:
    """The fingerprint's history, this failure left out."""
    if not doc:
        return None
    recent = _entries(doc)
    others = [e for e in recent if e.get("key") != failure_key]
    count = int(doc.get("count") or 0) - (len(recent) - len(others))
    if count <= 0 or not doc.get("first_seen"):
        return None
    last = max(others, key=lambda e: str(e.get("failed_at"))) if others else {}
    return History(
        count=count,
        first_seen=parse_time(doc["first_seen"]),
        last_seen=parse_time(last["failed_at"]) if last.get("failed_at") else None,
        last_target=last.get("target"),
        last_report=last.get("report"),
    )


def add_failure(
    doc: dict[str, Any] | None, record: IndexRecord, failure_key: str
) -> dict[str, Any] | None:
    """The summary with this failure counted; None when it already is."""
    recent = _entries(doc)
    if any(e.get("key") == failure_key for e in recent):
        return None
    entry = {"key": failure_key, "target": record.target, "failed_at": record.failed_at,
             "report": record.report}
    recent = sorted([*recent, entry], key=lambda e: str(e.get("failed_at")))[-RECENT_KEPT:]
    first = min(filter(None, [(doc or {}).get("first_seen"), record.failed_at]))
    last = max(filter(None, [(doc or {}).get("last_seen"), record.failed_at]))
    return {"fingerprint": record.fingerprint, "rule": record.rule,
            "count": int((doc or {}).get("count") or 0) + 1,
            "first_seen": first, "last_seen": last, "recent": recent}


def record_failure(
    s3: Any, bucket: str, inv: Investigation, *, failure_key: str,
    failed_at: datetime | None, report: str | None, state_machine_arn: str | None = None,
    prefix: str = "",
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Investigation:
    """Index this failure and return the investigation with its history attached.

    The one call the Lambda makes before rendering a report. The fleet index is a side
    product: if S3 refuses it, the report still goes out, without history.
    """
    index = FleetIndex(s3, bucket, prefix)
    try:
        record = from_investigation(inv, failed_at=failed_at or clock(), report=report,
                                    pipeline=pipeline_of(state_machine_arn, inv.facts))
        index.write_record(record, failure_key)
        history = index.remember(record, failure_key)
    except (ClientError, BotoCoreError) as exc:
        log.warning("fleet index not written", extra={"key": failure_key, "error": str(exc)})
        return inv
    return inv.replace(history=history) if history else inv
