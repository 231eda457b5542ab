"""Where moto falls short of AWS, the demo world fills the gap. Each gap is named here.

`install()` patches moto's classes in this process (idempotent). Every patch changes behaviour
only for state the demo seeded (a seeded execution, a synthetic stream, a denied prefix), so
other code running moto in the same process sees stock moto.

Gaps filled:
1. Step Functions: moto's GetExecutionHistory returns a canned 3-4 event history and ignores
   reverseOrder, maxResults and nextToken. A seeded execution carries `demo_history` (the events
   as AWS's API_HistoryEvent shapes) and is paged like AWS: newest first with reverseOrder,
   maxResults 1..1000 (default 100), opaque nextToken.
2. CloudWatch Logs: moto's FilterLogEvents ignores logStreamNamePrefix (it returns every stream
   of the group, i.e. every other job's lines); the patch expands the prefix into stream names.
3. CloudWatch Logs: moto holds every event as a Python object and has no 1 MB page cap. A
   `SyntheticLogStream` synthesises its events on demand from their index, so a 1 GB stream costs
   no memory, and caps each GetLogEvents page at 10,000 events / 1 MB like AWS.
4. IAM: moto does not enforce IAM by default, so an AccessDenied on one job's logs is injected:
   a log backend may carry `demo_denied` rules that make DescribeLogStreams / GetLogEvents /
   FilterLogEvents on a job's streams raise AccessDeniedException as AWS does.
5. ECR: moto has no GetDownloadUrlForLayer and stores no blobs, so an image's config (platform,
   Entrypoint, Env names, labels) is unreadable. Seeded images keep their config blob in
   `demo_blobs` on the ECR backend; when a demo server serves them (`BLOB_BASE_URL` set) the
   call returns a URL on that server, as ECR returns a presigned S3 URL. In-process `mock_aws`
   has no HTTP server, so there the call stays unimplemented (a ConfigUnavailable gap).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.ecr.responses import ECRResponse
from moto.logs.models import LogGroup, LogStream
from moto.logs.responses import LogsResponse
from moto.stepfunctions.responses import StepFunctionResponse

_LOCK = threading.Lock()
_INSTALLED = False

# GetLogEvents returns at most 10,000 events or 1 MB (CloudWatch Logs API reference); each event
# counts its UTF-8 message plus 26 bytes, as PutLogEvents does.
# Base URL of the demo server that serves seeded ECR blobs (set by investigator.demo.server).
BLOB_BASE_URL: str | None = None
BLOB_PATH = "/_demo/ecr-blobs/"

MAX_PAGE_EVENTS = 10_000
MAX_PAGE_BYTES = 1_048_576
EVENT_OVERHEAD = 26


def install() -> None:
    """Patch moto once per process. Safe to call from every seeding function."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        _patch_history()
        _patch_logs()
        _patch_ecr()
        _INSTALLED = True


# --------------------------------------------------------------------------- Step Functions


class InvalidToken(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidToken", message)


def _encode_token(arn: str, offset: int, reverse: bool) -> str:
    raw = json.dumps({"a": arn, "o": offset, "r": reverse}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, arn: str, reverse: bool) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["a"] != arn or bool(data["r"]) != reverse:
            raise ValueError("token for another request")
        return int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("Invalid Token: 'Invalid token'") from None


def _strip_data(event: dict[str, Any]) -> dict[str, Any]:
    """includeExecutionData=false: drop state input/output. Parameters, error and cause stay.
    [unverified] which fields AWS drops exactly; the API reference says "input or output"."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            value = {k: v for k, v in value.items()
                     if k not in ("input", "output", "inputDetails", "outputDetails")}
        out[key] = value
    return out


def page_history(
    events: Sequence[dict[str, Any]], arn: str, *, reverse: bool, max_results: int | None,
    token: str | None, include_data: bool = True,
) -> dict[str, Any]:
    """One GetExecutionHistory page, as AWS pages it."""
    size = max_results or 100
    if not 1 <= size <= 1000:
        raise JsonRESTError(
            "ValidationException",
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy "
            "constraint: Member must have value less than or equal to 1000",
        )
    start = _decode_token(token, arn, reverse) if token else 0
    ordered = range(len(events) - 1 - start, max(len(events) - 1 - start - size, -1), -1) \
        if reverse else range(start, min(start + size, len(events)))
    page = [events[i] if include_data else _strip_data(events[i]) for i in ordered]
    result: dict[str, Any] = {"events": page}
    if start + size < len(events):
        result["nextToken"] = _encode_token(arn, start + size, reverse)
    return result


def _patch_history() -> None:
    original = StepFunctionResponse.get_execution_history

    def get_execution_history(self: StepFunctionResponse) -> Any:
        from moto.core.responses import ActionResult

        arn = self._get_param("executionArn")
        execution = self.stepfunction_backend.describe_execution(arn)
        history = getattr(execution, "demo_history", None)
        if history is None:
            return original(self)
        include = self._get_param("includeExecutionData")
        return ActionResult(page_history(
            history, arn,
            reverse=bool(self._get_param("reverseOrder", False)),
            max_results=self._get_param("maxResults"),
            token=self._get_param("nextToken"),
            include_data=include is None or bool(include),
        ))

    StepFunctionResponse.get_execution_history = get_execution_history  # type: ignore[method-assign]


# --------------------------------------------------------------------------- CloudWatch Logs


@dataclass(frozen=True)
class DenyRule:
    """An IAM denial for one job's log streams (scoped by stream-name prefix)."""

    group: str
    stream_prefix: str
    principal: str

    def message(self, action: str, region: str, account: str, stream: str | None) -> str:
        resource = f"arn:aws:logs:{region}:{account}:log-group:{self.group}"
        if stream:
            resource += f":log-stream:{stream}"
        return (f"User: {self.principal} is not authorized to perform: {action} on resource: "
                f"{resource} because no identity-based policy allows the {action} action")


def deny_logs(backend: Any, rule: DenyRule) -> None:
    """Make `backend` (a moto LogsBackend) refuse reads of the rule's streams."""
    rules = list(getattr(backend, "demo_denied", []))
    rules.append(rule)
    backend.demo_denied = rules


def _check_denied(resp: LogsResponse, action: str, group: str | None,
                  streams: Sequence[str]) -> None:
    backend = resp.logs_backend
    for rule in getattr(backend, "demo_denied", []):
        if rule.group != group:
            continue
        hit = next((s for s in streams if s.startswith(rule.stream_prefix)), None)
        if hit is not None:
            stream = hit if action == "logs:GetLogEvents" else None
            raise JsonRESTError("AccessDeniedException", rule.message(
                action, backend.region_name, backend.account_id, stream))


def _patch_logs() -> None:
    orig_describe = LogsResponse.describe_log_streams
    orig_get = LogsResponse.get_log_events

    def describe_log_streams(self: LogsResponse) -> str:
        prefix = self._get_param("logStreamNamePrefix", "")
        # Denied when the listing targets the job (prefix) — how the collector lists a job.
        if prefix:
            _check_denied(self, "logs:DescribeLogStreams", self._get_param("logGroupName"),
                          [prefix])
        return orig_describe(self)

    def get_log_events(self: LogsResponse) -> str:
        _check_denied(self, "logs:GetLogEvents", self._get_param("logGroupName"),
                      [self._get_param("logStreamName") or ""])
        return orig_get(self)

    def filter_log_events(self: LogsResponse) -> str:
        group_name = self._get_param("logGroupName")
        names = list(self._get_param("logStreamNames", []) or [])
        prefix = self._get_param("logStreamNamePrefix")
        group = self.logs_backend.groups.get(group_name)
        if prefix and not names and group is not None:
            names = [n for n in group.streams if n.startswith(prefix)]
            if not names:  # AWS: a prefix matching nothing gives an empty result, not everything
                return json.dumps({"events": [], "searchedLogStreams": []})
        _check_denied(self, "logs:FilterLogEvents", group_name,
                      names or ([prefix] if prefix else []))
        events, token, searched = self.logs_backend.filter_log_events(
            group_name, names, self._get_param("startTime"), self._get_param("endTime"),
            self._get_param("limit"), self._get_param("nextToken"),
            self._get_param("filterPattern"), self._get_param("interleaved", False),
        )
        return json.dumps({"events": events, "nextToken": token, "searchedLogStreams": searched})

    LogsResponse.describe_log_streams = describe_log_streams  # type: ignore[method-assign]
    LogsResponse.get_log_events = get_log_events  # type: ignore[method-assign]
    LogsResponse.filter_log_events = filter_log_events  # type: ignore[method-assign]


def _event_size(message: str) -> int:
    return len(message.encode("utf-8")) + EVENT_OVERHEAD


class SyntheticLogStream(LogStream):
    """A log stream whose events exist only as a function of their index.

    Event i is head[i], then `filler(k)` for the long middle, then the tail lines; timestamps
    advance `step_ms` per event from `start_ms`. Nothing is stored, so a 1 GB stream is free.
    """

    def __init__(
        self, log_group: LogGroup, name: str, *, head: Sequence[str], tail: Sequence[str],
        filler: Callable[[int], str], filler_count: int, start_ms: int, step_ms: float,
        stored_bytes: int,
    ) -> None:
        super().__init__(log_group, name)
        self._head = list(head)
        self._tail = list(tail)
        self._filler = filler
        self._filler_count = filler_count
        self._start_ms = start_ms
        self._step_ms = step_ms
        self.count = len(self._head) + filler_count + len(self._tail)
        self.stored_bytes = stored_bytes
        self.first_event_timestamp = start_ms  # type: ignore[assignment]
        self.last_event_timestamp = self.timestamp(self.count - 1)  # type: ignore[assignment]
        # moto's logs backend works in naive UTC datetimes
        self.last_ingestion_time = datetime.fromtimestamp(
            (self.last_event_timestamp + 900) / 1000, tz=UTC).replace(tzinfo=None)
        self.creation_time = datetime.fromtimestamp(
            start_ms / 1000, tz=UTC).replace(tzinfo=None)

    def timestamp(self, i: int) -> int:
        return int(self._start_ms + i * self._step_ms)

    def message(self, i: int) -> str:
        if i < len(self._head):
            return self._head[i]
        j = i - len(self._head)
        if j < self._filler_count:
            return self._filler(j)
        return self._tail[j - self._filler_count]

    def _update(self) -> None:  # moto recomputes from self.events; ours are fixed
        pass

    def to_describe_dict(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "creationTime": self._start_ms,
            "logStreamName": self.log_stream_name,
            "storedBytes": self.stored_bytes,
            "firstEventTimestamp": self.first_event_timestamp,
            "lastEventTimestamp": self.last_event_timestamp,
            "lastIngestionTime": self.last_event_timestamp + 900,
            "uploadSequenceToken": "1",
        }

    def _index_at(self, ts: int | None, default: int, after: bool) -> int:
        if ts is None:
            return default
        k = (int(ts) - self._start_ms) / self._step_ms
        i = int(k) + (1 if after and k != int(k) else 0)
        return max(0, min(self.count - 1, i)) if after else max(-1, min(self.count - 1, i))

    def get_log_events(
        self, start_time: Any, end_time: Any, limit: int | None, next_token: str | None,
        start_from_head: Any,
    ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        lo = self._index_at(start_time, 0, after=True)
        hi = self._index_at(end_time, self.count - 1, after=False)
        limit = min(limit or MAX_PAGE_EVENTS, MAX_PAGE_EVENTS)
        forward = bool(start_from_head)
        if next_token:
            try:
                direction, anchor = next_token[0], int(next_token[2:])
            except ValueError:
                raise JsonRESTError("InvalidParameterException",
                                    "The specified nextToken is invalid.") from None
            forward = direction == "f"
            lo, hi = (anchor + 1, hi) if forward else (lo, anchor - 1)
        if lo > hi:
            edge = min(max(lo, 0), self.count - 1)
            return [], f"b/{edge:056d}", f"f/{edge:056d}"
        picked = self._walk(lo, hi, limit, forward)
        if not forward:
            picked.reverse()
        events = [{"timestamp": self.timestamp(i), "message": m,
                   "ingestionTime": self.timestamp(i) + 900} for i, m in picked]
        return events, f"b/{picked[0][0]:056d}", f"f/{picked[-1][0]:056d}"

    def _walk(self, lo: int, hi: int, limit: int, forward: bool) -> list[tuple[int, str]]:
        """(index, message) of one page: from the anchor end, stop at `limit` events or 1 MB."""
        picked: list[tuple[int, str]] = []
        size = 0
        rng = range(lo, hi + 1) if forward else range(hi, lo - 1, -1)
        for i in rng:
            message = self.message(i)
            size += _event_size(message)
            if picked and (len(picked) >= limit or size > MAX_PAGE_BYTES):
                break
            picked.append((i, message))
        return picked

    def filter_log_events(
        self, start_time: int, end_time: int, filter_pattern: str
    ) -> list[dict[str, Any]]:
        # A full scan of a synthetic gigabyte would take minutes in moto; scan only the head and
        # tail lines (where the failure is) and say so. The bench reports any FilterLogEvents call.
        from moto.logs.utils import EventMessageFilter

        matcher = EventMessageFilter(filter_pattern)
        idx = [*range(len(self._head)), *range(self.count - len(self._tail), self.count)]
        out = []
        for i in idx:
            ts = self.timestamp(i)
            if (start_time and ts < start_time) or (end_time and ts > end_time):
                continue
            if matcher.matches(self.message(i)):
                out.append({"eventId": str(i), "ingestionTime": ts + 900, "timestamp": ts,
                            "message": self.message(i), "logStreamName": self.log_stream_name})
        return out


# --------------------------------------------------------------------------- ECR blobs


def blob_path(account: str, region: str, digest: str) -> str:
    return f"{BLOB_PATH}{account}/{region}/{digest}"


def find_blob(path: str) -> bytes | None:
    """The seeded blob a BLOB_PATH URL names, or None."""
    from moto.ecr.models import ecr_backends

    parts = path[len(BLOB_PATH):].split("/")
    if len(parts) != 3:
        return None
    account, region, digest = parts
    if account not in ecr_backends or region not in ecr_backends[account].regions:
        return None
    return getattr(ecr_backends[account][region], "demo_blobs", {}).get(digest)


def _patch_ecr() -> None:
    def get_download_url_for_layer(self: ECRResponse) -> str:
        digest = self._get_param("layerDigest")
        repo = self._get_param("repositoryName")
        backend = self.ecr_backend
        backend._get_repository(repo, self._get_param("registryId"))  # RepositoryNotFound
        if BLOB_BASE_URL is None:
            raise NotImplementedError("GetDownloadUrlForLayer needs the demo server")
        if digest not in getattr(backend, "demo_blobs", {}):
            raise JsonRESTError("LayersNotFoundException",
                                f"The layer with digest {digest} does not exist in {repo}")
        url = BLOB_BASE_URL + blob_path(backend.account_id, backend.region_name, digest)
        return json.dumps({"downloadUrl": url, "layerDigest": digest})

    ECRResponse.get_download_url_for_layer = get_download_url_for_layer  # type: ignore[attr-defined]
