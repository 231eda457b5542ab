"""CloudWatch Logs: every host's stream of a SageMaker job, tail first, bounded.

One DescribeLogStreams call lists the job's streams (prefix "<job>/": one stream per host and
per restart). Each stream is read newest-first with GetLogEvents (a service response is at most
1 MB), then its first lines when the tail did not already reach the start. Pages may be empty
or partial while more remain, so a read pages on until it has what it wants or the service
says it reached the end, within one call budget shared by the job's streams. The number of
calls depends on the number of hosts and CALL_BUDGET, never on the size of the log.

moto gap: FilterLogEvents ignores logStreamNamePrefix, so it is not used here; the
DescribeLogStreams + GetLogEvents pair works the same on AWS and on moto.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import re2

from investigator.aws import AWS_ERRORS, AwsContext, error_code, gap_from_error
from investigator.collectors import Collected, JobRef, as_datetime
from investigator.models import Gap, LogEvent, LogStream, TimelineEvent
from investigator.redact import redact_text

SOURCE = "logs"
GROUPS = {"training": "/aws/sagemaker/TrainingJobs", "processing": "/aws/sagemaker/ProcessingJobs"}
HEAD_EVENTS = 50
TAIL_EVENTS = 2_000  # per stream, when there are few hosts
TOTAL_EVENTS = 8_000  # per investigation, shared by the hosts
STREAM_BYTES = 1_000_000  # one GetLogEvents response at most
TOTAL_BYTES = 8_000_000
MIN_TAIL_EVENTS = 200
CALL_BUDGET = 14  # DescribeLogStreams + one tail per stream + heads while calls remain
MAX_MESSAGE = 32_768  # characters kept of one event (CloudWatch allows 256 KB)
_DIGITS = re2.compile(r"(\d+)")


@dataclass
class _Read:
    name: str
    events: list[dict[str, Any]]
    complete: bool  # the tail reached the first event of the stream


def collect_logs(ctx: AwsContext, job: JobRef, *, container_started: bool | None) -> Collected:
    c = Collected()
    group = GROUPS[job.kind]
    c.facts["logs.group"] = group
    listed = _list_streams(ctx, group, job, c, container_started)
    if listed is None:
        return c
    c.facts["logs.stream_count"] = len(listed)
    if not listed:
        if container_started is not False:
            c.gaps.append(Gap(source=SOURCE, code="NoLogStreams",
                              message=f"no log streams {job.name}/* in {group}"))
        c.summary = "no log streams" + (" (the container never started)"
                                        if container_started is False else "")
        return c
    chosen = listed[: CALL_BUDGET - 1]
    if len(chosen) < len(listed):
        c.gaps.append(Gap(source=SOURCE, code="Budget",
                          message=f"read {len(chosen)} of {len(listed)} log streams of {job.name}"))
    budget = _Budget(CALL_BUDGET - 1)
    reads = _read_tails(ctx, group, chosen, c, budget)
    heads = _read_heads(ctx, group, reads, budget, c)
    for r in reads:
        c.logs.extend(_streams(group, r, heads.get(r.name)))
        c.timeline.extend(_span(r))
    c.facts["logs.streams_read"] = len(reads)
    c.facts["logs.events_read"] = sum(len(s.events) for s in c.logs)
    c.summary = f"{len(reads)} of {len(listed)} streams, {c.facts['logs.events_read']} events"
    return c


def _list_streams(
    ctx: AwsContext, group: str, job: JobRef, c: Collected, container_started: bool | None
) -> list[dict] | None:
    if ctx.out_of_time():
        c.gaps.append(Gap(source=SOURCE, code="Deadline", message="deadline reached before logs"))
        return None
    try:
        resp = ctx.client("logs").describe_log_streams(
            logGroupName=group, logStreamNamePrefix=f"{job.name}/", orderBy="LogStreamName",
            limit=50,
        )
    except AWS_ERRORS as exc:
        if error_code(exc) == "ResourceNotFoundException":
            if container_started is False:  # nothing ever ran, so nothing was ever logged
                c.summary = "no log group (the container never started)"
                return None
            c.gaps.append(Gap(source=SOURCE, code="LogGroupNotFound",
                              message=f"log group {group} does not exist in {ctx.region}"))
        else:
            c.gaps.append(gap_from_error(SOURCE, exc, "logs:DescribeLogStreams", group))
        c.summary = c.gaps[-1].code
        return None
    streams = resp.get("logStreams", [])
    if resp.get("nextToken"):
        c.gaps.append(Gap(source=SOURCE, code="Budget",
                          message=f"more than {len(streams)} log streams for {job.name}; "
                                  "only the first page was listed"))
    return sorted(streams, key=lambda s: _natural(s.get("logStreamName", "")))


def _natural(name: str) -> list[Any]:
    """algo-2 before algo-10."""
    return [int(p) if p.isdigit() else p for p in _DIGITS.split(name)]


class _Budget:
    """GetLogEvents calls left for this job; a call is kept back for each stream not yet read."""

    def __init__(self, calls: int) -> None:
        self.left = calls

    def take(self, reserve: int = 0) -> bool:
        if self.left - reserve <= 0:
            return False
        self.left -= 1
        return True


def _read_tails(ctx: AwsContext, group: str, streams: list[dict], c: Collected,
                budget: _Budget) -> list[_Read]:
    n = len(streams)
    limit = max(MIN_TAIL_EVENTS, min(TAIL_EVENTS, TOTAL_EVENTS // n))
    max_bytes = min(STREAM_BYTES, TOTAL_BYTES // n)
    reads: list[_Read] = []
    for i, s in enumerate(streams):
        name = s["logStreamName"]
        if ctx.out_of_time():
            c.gaps.append(Gap(source=SOURCE, code="Deadline",
                              message=f"deadline reached: {n - len(reads)} log streams not read"))
            break
        try:
            got, complete = _tail(ctx, group, s, limit, max_bytes, budget, reserve=n - i - 1)
        except AWS_ERRORS as exc:
            c.gaps.append(gap_from_error(SOURCE, exc, "logs:GetLogEvents", f"{group}:{name}"))
            if c.gaps[-1].code in {"AccessDenied", "Throttling"}:
                break  # the same answer for every other stream: one gap, not one per host
            continue
        events = _newest_within(got, max_bytes)
        reads.append(_Read(name, events, complete and len(events) == len(got)))
    return reads


def _tail(ctx: AwsContext, group: str, stream: dict, limit: int, max_bytes: int,
          budget: _Budget, *, reserve: int) -> tuple[list[dict[str, Any]], bool]:
    """The newest events of a stream, paging backwards; (events, reached the first event).

    A GetLogEvents page "might only be partially full, or even empty" while more events remain;
    the end is when the returned nextBackwardToken equals the nextToken passed (botocore logs
    model, GetLogEvents). Pages continue until `limit` events or `max_bytes`, within the budget.
    """
    events: list[dict[str, Any]] = []
    size, token = 0, None
    # The first page is always affordable: every later page keeps one back per unread stream.
    while budget.take(0 if token is None else reserve):
        args: dict[str, Any] = {"nextToken": token} if token else {}
        resp = ctx.client("logs").get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=False,
            limit=max(1, limit - len(events)), **args)
        page = resp.get("events", [])
        events = page + events
        size += sum(len(ev.get("message", "").encode("utf-8", "replace")) for ev in page)
        returned = resp.get("nextBackwardToken")
        if (token is not None and returned == token) or _at_first_event(events, stream):
            return events, True
        if len(events) >= limit or size >= max_bytes or not returned or ctx.out_of_time():
            return events, False
        token = returned
    return events, False


def _at_first_event(events: list[dict[str, Any]], stream: dict) -> bool:
    """The read reached the stream's first event (DescribeLogStreams firstEventTimestamp)."""
    first = stream.get("firstEventTimestamp")
    return bool(events) and first is not None and events[0].get("timestamp", 0) <= first


def _span(r: _Read) -> list[TimelineEvent]:
    """The stretch of time the lines read cover, for the timeline."""
    times = [t for e in r.events if (t := as_datetime(e.get("timestamp")))]
    if not times:
        return []
    what = "log" if r.complete else "log tail"
    return [TimelineEvent(time=min(times), end=max(times), source=SOURCE,
                          event=f"{what} {r.name}: {len(r.events)} lines read")]


def _newest_within(events: list[dict[str, Any]], max_bytes: int) -> list[dict[str, Any]]:
    """Keep the newest events whose messages fit in `max_bytes`."""
    kept, size = [], 0
    for ev in reversed(events):
        size += len(ev.get("message", "").encode("utf-8", "replace"))
        if size > max_bytes and kept:
            break
        kept.append(ev)
    kept.reverse()
    return kept


def _read_heads(
    ctx: AwsContext, group: str, reads: list[_Read], budget: _Budget, c: Collected
) -> dict[str, list[dict[str, Any]]]:
    heads: dict[str, list[dict[str, Any]]] = {}
    for r in reads:
        if r.complete:
            continue
        if ctx.out_of_time():
            break
        try:
            head = _head(ctx, group, r.name, budget)
        except AWS_ERRORS as exc:
            c.gaps.append(gap_from_error(SOURCE, exc, "logs:GetLogEvents", f"{group}:{r.name}"))
            break
        if head is None:
            break  # no calls left
        heads[r.name] = head
    return heads


def _head(ctx: AwsContext, group: str, name: str, budget: _Budget) -> list[dict] | None:
    """The first HEAD_EVENTS events, paging forwards past empty or partial pages."""
    events: list[dict[str, Any]] = []
    token = None
    while len(events) < HEAD_EVENTS:
        if not budget.take():
            return events if token else None  # None: not one call left for this head
        args: dict[str, Any] = {"nextToken": token} if token else {}
        resp = ctx.client("logs").get_log_events(
            logGroupName=group, logStreamName=name, startFromHead=True,
            limit=HEAD_EVENTS - len(events), **args)
        events += resp.get("events", [])
        returned = resp.get("nextForwardToken")
        if not returned or returned == token:
            break  # the end of the stream
        token = returned
    return events[:HEAD_EVENTS]


def _streams(group: str, r: _Read, head: list[dict[str, Any]] | None) -> list[LogStream]:
    """One LogStream when the read is contiguous; the head and the tail apart when it is not.

    Line numbers are honest: a tail whose position in the stream is unknown is its own
    stream, named "<stream> (tail)", numbered from its first line read.
    """
    tail = r.events
    if r.complete:
        return [_stream(r.name, group, tail, truncated=False, skipped=0)]
    if head is None:  # no head read (budget/deadline): only the tail
        return [_stream(f"{r.name} (tail)", group, tail, truncated=True, skipped=None)]
    joined = _join(head, tail)
    if joined is not None:
        return [_stream(r.name, group, joined, truncated=False, skipped=0)]
    return [
        _stream(r.name, group, head, truncated=True, skipped=None),
        _stream(f"{r.name} (tail)", group, tail, truncated=True, skipped=None),
    ]


def _join(head: list[dict], tail: list[dict]) -> list[dict] | None:
    """head + tail when they overlap (the stream was read whole after all), else None."""
    if not head or not tail:
        return None
    keys = [_key(e) for e in head]
    first = _key(tail[0])
    for i, k in enumerate(keys):
        if k == first and [_key(e) for e in tail[: len(head) - i]] == keys[i:]:
            return head[:i] + tail
    return None


def _key(e: dict[str, Any]) -> tuple[Any, Any]:
    return e.get("timestamp"), e.get("message")


def _stream(name: str, group: str, events: list[dict[str, Any]], *, truncated: bool,
            skipped: int | None) -> LogStream:
    return LogStream(
        name=name,
        group=group,
        events=[_event(e) for e in events],
        first_line=1,
        truncated=truncated,
        skipped_events=skipped,
    )


def _event(e: dict[str, Any]) -> LogEvent:
    msg = str(e.get("message", ""))
    if len(msg) > MAX_MESSAGE:
        msg = msg[:MAX_MESSAGE] + " …[truncated by investigator]"
    when = as_datetime(e.get("timestamp"))
    return LogEvent(message=redact_text(msg.rstrip("\n")), timestamp=when)


__all__ = ["GROUPS", "SOURCE", "collect_logs"]
