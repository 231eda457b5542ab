"""The S3 report store, and the claim that makes "one report per failure" hold.

Layout under the bucket:
    <prefix>/<yyyy>/<mm>/<dd>/<name>.html | .json | .bundle.json   the report
    <prefix>/_claims/<sha256 of the failure key>.json                  who handles a failure

Idempotency: EventBridge may deliver an event twice (SageMaker says so explicitly) and the
sweep may race the event. Whoever first creates the claim object with a conditional
PutObject (`If-None-Match: *`, S3 conditional writes) investigates; everyone else sees
HTTP 412 and reads the claim instead. S3 decides the race atomically, so no lock table
(DynamoDB) is needed. The claim then moves claimed → done (or → failed when the
investigation crashed) with `If-Match: <etag>`, so a slow owner whose lease was taken over
cannot overwrite the new owner's state. A claim left "claimed" longer than the lease (the
owner timed out or crashed hard) or left "failed" may be taken over. The owner writes its
lease into the claim: its invocation's remaining time plus a margin, so Lambda's own retry of
a timed-out invocation (a minute or more later) finds it expired.

Nothing is given up silently: the MAX_ATTEMPTS-th attempt (and any later one) is `final`:
the runner then reports whatever it could read, with the errors of the earlier attempts
(kept in the claim) as named gaps, instead of raising for another retry.

Incidents: one page per incident. A failed pipeline is one incident seen by up to three
paths (the job's event, the execution's event, the sweep), each with its own claim. The
incident object (<prefix>/_incidents/<sha256>.json), created with `If-None-Match: *`, decides
who pages: its creator writes the report and publishes; later paths for the same incident
update or link that report and never publish (see docs/deploy.md).

moto (5.x, in .venv) implements both If-None-Match: * and If-Match on put_object, but
checks-then-writes without a lock, so a true two-thread race is only atomic on real S3;
the tests drive the interleavings deterministically instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

# Codes S3 uses when a conditional write loses: 412 for a failed precondition, 409 when
# another conditional write to the same key is in flight.
_LOST_RACE = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
MAX_ATTEMPTS = 3  # the third attempt reports what it has instead of raising
MAX_KEPT_ERRORS = 5
CLAIMED = "claimed"

ClaimStatus = Literal["claimed", "done", "in_progress"]


@dataclass(frozen=True)
class ReportLocation:
    bucket: str
    html_key: str
    json_key: str
    bundle_key: str

    @property
    def html_uri(self) -> str:
        return f"s3://{self.bucket}/{self.html_key}"

    @classmethod
    def from_dict(cls, uris: Any) -> ReportLocation | None:
        """The inverse of as_dict (as stored in a claim or an incident)."""
        if not isinstance(uris, dict):
            return None
        parts = {k: str(uris.get(k, "")).removeprefix("s3://").split("/", 1)
                 for k in ("html", "json", "bundle")}
        if any(len(p) != 2 or not p[1] for p in parts.values()):
            return None
        return cls(parts["html"][0], parts["html"][1], parts["json"][1], parts["bundle"][1])

    def as_dict(self) -> dict[str, str]:
        return {
            "html": f"s3://{self.bucket}/{self.html_key}",
            "json": f"s3://{self.bucket}/{self.json_key}",
            "bundle": f"s3://{self.bucket}/{self.bundle_key}",
        }


@dataclass(frozen=True)
class Claim:
    """Ownership of one failure: the claim object's key and the ETag we last wrote."""

    object_key: str
    etag: str
    record: dict[str, Any]

    @property
    def attempts(self) -> int:
        return int(self.record.get("attempts") or 1)

    @property
    def final(self) -> bool:
        """No retry will follow: report what can be read, whatever fails."""
        return self.attempts >= MAX_ATTEMPTS

    @property
    def errors(self) -> list[str]:
        """What made the earlier attempts fail, oldest first."""
        return [str(e) for e in self.record.get("errors") or [] if e]


@dataclass(frozen=True)
class ClaimResult:
    status: ClaimStatus
    claim: Claim | None = None
    # The claim object as found (for done: where the report is).
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IncidentGate:
    """Who pages for an incident. `ours`: we created (or re-own) it and must page."""

    ours: bool
    record: dict[str, Any]
    object_key: str
    etag: str = ""

    @property
    def paged(self) -> bool:
        return self.record.get("state") == "paged"


def _error_code(exc: ClientError) -> str:
    err = exc.response.get("Error", {})
    return str(err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class ReportStore:
    def __init__(
        self,
        s3: Any,
        bucket: str,
        *,
        prefix: str = "reports",
        lease_s: float = 960.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.lease_s = lease_s
        self.clock = clock or (lambda: datetime.now(UTC))

    # -- report objects -------------------------------------------------------------------

    def location(self, name: str, failed_at: datetime) -> ReportLocation:
        day = failed_at.astimezone(UTC)
        base = f"{self.prefix}/{day:%Y}/{day:%m}/{day:%d}/{name}"
        return ReportLocation(self.bucket, f"{base}.html", f"{base}.json", f"{base}.bundle.json")

    def write_report(self, loc: ReportLocation, *, html: str, json_text: str, bundle: str) -> None:
        # The HTML goes last: a reader following the notification finds the others too.
        self._put(loc.bundle_key, bundle, "application/json")
        self._put(loc.json_key, json_text, "application/json")
        self._put(loc.html_key, html, "text/html; charset=utf-8")

    def _put(self, key: str, text: str, content_type: str, **conditions: str) -> str:
        resp = self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type,
            **conditions,
        )
        return str(resp.get("ETag", ""))

    # -- claims ---------------------------------------------------------------------------

    def claim_key(self, failure_key: str) -> str:
        digest = hashlib.sha256(failure_key.encode("utf-8")).hexdigest()[:40]
        return f"{self.prefix}/_claims/{digest}.json"

    def _record(self, failure_key: str, state: str, owner: str, **extra: Any) -> dict[str, Any]:
        return {"key": failure_key, "state": state, "owner": owner,
                "updated_at": _iso(self.clock()), **extra}

    def _put_record(self, key: str, record: dict[str, Any], **conditions: str) -> str:
        return self._put(key, json.dumps(record, sort_keys=True), "application/json", **conditions)

    def _put_unless_raced(self, key: str, record: dict[str, Any], **conditions: str) -> str | None:
        """Write under an S3 condition (IfNoneMatch/IfMatch); None when another writer won."""
        try:
            return self._put_record(key, record, **conditions)
        except ClientError as exc:
            if _error_code(exc) in _LOST_RACE:
                return None
            raise

    def read_claim(self, failure_key: str) -> tuple[dict[str, Any], str] | None:
        return self._read_record(self.claim_key(failure_key))

    def _read_record(self, key: str) -> tuple[dict[str, Any], str] | None:
        """The JSON object at `key` and its ETag; None when there is none."""
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise
        try:
            record = json.loads(obj["Body"].read())
        except (ValueError, UnicodeDecodeError):
            record = {}  # a corrupt claim is treated like a failed one: it may be retaken
        return (record if isinstance(record, dict) else {}), str(obj["ETag"])

    def claim(self, failure_key: str, owner: str) -> ClaimResult:
        """Try to become the one investigator of `failure_key`."""
        key = self.claim_key(failure_key)
        record = self._record(failure_key, CLAIMED, owner, attempts=1, lease_s=self.lease_s)
        for _ in range(2):  # the second pass only if the claim vanished in between
            etag = self._put_unless_raced(key, record, IfNoneMatch="*")
            if etag is not None:
                return ClaimResult("claimed", Claim(key, etag, record))
            found = self.read_claim(failure_key)
            if found is not None:
                return self._existing(failure_key, owner, *found)
        return ClaimResult("in_progress")

    def _existing(
        self, failure_key: str, owner: str, record: dict[str, Any], etag: str
    ) -> ClaimResult:
        state = record.get("state")
        if state == "done":
            return ClaimResult("done", record=record)
        attempts = _int(record.get("attempts"), 1)
        if state == CLAIMED and not self._lease_expired(record):
            return ClaimResult("in_progress", record=record)
        errors = [str(e) for e in record.get("errors") or [] if e][-MAX_KEPT_ERRORS:]
        if state == CLAIMED:  # the owner vanished without a word (timeout, crash)
            errors.append(f"attempt {attempts}: no result before its lease ended")
        new = self._record(failure_key, CLAIMED, owner, attempts=attempts + 1,
                           lease_s=self.lease_s, previous_owner=record.get("owner"),
                           errors=errors[-MAX_KEPT_ERRORS:])
        new_etag = self._put_unless_raced(self.claim_key(failure_key), new, IfMatch=etag)
        if new_etag is None:
            return ClaimResult("in_progress", record=record)
        return ClaimResult("claimed", Claim(self.claim_key(failure_key), new_etag, new))

    def _lease_expired(self, record: dict[str, Any]) -> bool:
        """The owner wrote how long it may take (its Lambda's remaining time and a margin)."""
        try:
            updated = datetime.fromisoformat(str(record.get("updated_at")))  # 3.11 reads "Z"
            lease = float(record.get("lease_s") or self.lease_s)
        except (TypeError, ValueError):
            return True
        return (self.clock() - updated).total_seconds() > lease

    def complete(self, claim: Claim, **result: Any) -> bool:
        """Mark the failure reported. False when our lease was taken over meanwhile."""
        record = {**claim.record, "state": "done", "updated_at": _iso(self.clock()), **result}
        return self._put_unless_raced(claim.object_key, record, IfMatch=claim.etag) is not None

    def abandon(self, claim: Claim, reason: str) -> None:
        """Best effort: let a retry take over at once instead of waiting for the lease.

        The reason joins the claim's error list: a final attempt reports them.
        """
        errors = [*claim.errors, f"attempt {claim.attempts}: {reason[:300]}"]
        record = {**claim.record, "state": "failed", "error": reason[:500],
                  "errors": errors[-MAX_KEPT_ERRORS:], "updated_at": _iso(self.clock())}
        with contextlib.suppress(ClientError):  # if this fails too, the lease expiry covers it
            self._put_record(claim.object_key, record, IfMatch=claim.etag)

    def mark_covered(self, failure_key: str, owner: str, **result: Any) -> bool:
        """Record another failure as already reported (a job inside a reported execution).

        Only creates: never overwrites a claim someone else holds.
        """
        record = self._record(failure_key, "done", owner, attempts=1, **result)
        key = self.claim_key(failure_key)
        return self._put_unless_raced(key, record, IfNoneMatch="*") is not None

    # -- incidents: who pages -------------------------------------------------------------

    def incident_key(self, incident: str) -> str:
        digest = hashlib.sha256(incident.encode("utf-8")).hexdigest()[:40]
        return f"{self.prefix}/_incidents/{digest}.json"

    def read_incident(self, incident: str) -> tuple[dict[str, Any], str] | None:
        return self._read_record(self.incident_key(incident))

    def open_incident(self, incident: str, *, by: str, owner: str,
                      report: dict[str, str], **extra: Any) -> IncidentGate:
        """Become the one path that pages for `incident`, or learn who is.

        `by` is the failure key of the path. The same failure coming back (a retry of an
        attempt that crashed before it paged) re-owns its own unpaged incident.
        """
        key = self.incident_key(incident)
        record = {"incident": incident, "state": "open", "by": by, "owner": owner,
                  "report": report, "updated_at": _iso(self.clock()), **extra}
        for _ in range(2):  # the second pass only if the object vanished in between
            etag = self._put_unless_raced(key, record, IfNoneMatch="*")
            if etag is not None:
                return IncidentGate(True, record, key, etag)
            found = self.read_incident(incident)
            if found is not None:
                existing, etag = found
                mine = existing.get("by") == by and existing.get("state") != "paged"
                return IncidentGate(mine, existing, key, etag)
        return IncidentGate(False, {}, key)

    def incident_paged(self, gate: IncidentGate, message_id: str) -> bool:
        """Record the page, so a retry of the same path never publishes twice.

        A later path may have linked itself meanwhile (new ETag): read again and keep its note.
        """
        current, etag = gate.record, gate.etag
        for _ in range(2):
            record = {**current, "state": "paged", "message_id": message_id,
                      "updated_at": _iso(self.clock())}
            if self._put_unless_raced(gate.object_key, record, IfMatch=etag) is not None:
                return True
            found = self.read_incident(str(gate.record.get("incident", "")))
            if found is None or found[0].get("by") != gate.record.get("by"):
                return False
            current, etag = found
        return False

    def link_incident(self, gate: IncidentGate, by: str, **extra: Any) -> bool:
        """Note a later path (e.g. the pipeline) on the incident; best effort, If-Match."""
        linked = [*gate.record.get("linked", []), by][-10:]
        record = {**gate.record, "linked": linked, **extra, "updated_at": _iso(self.clock())}
        return self._put_unless_raced(gate.object_key, record, IfMatch=gate.etag) is not None
