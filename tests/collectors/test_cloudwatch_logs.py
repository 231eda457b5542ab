"""CloudWatch Logs collector: every host, tail first, bounded cost, honest line numbers."""

from __future__ import annotations

import boto3
import pytest

from investigator.aws import AwsContext, close_context, open_context
from investigator.collectors import Collected, JobRef
from investigator.collectors import cloudwatch_logs as cw
from investigator.redact import MASK
from tests.collectors import helpers as h


def _collect(session: boto3.Session, job: str = "job-1", started: bool | None = True,
             kind: str = "training") -> tuple[Collected, AwsContext]:
    ctx = open_context(profile=None, region=h.REGION, deadline=None, session=session)
    try:
        return cw.collect_logs(ctx, JobRef(job, kind=kind), container_started=started), ctx
    finally:
        close_context(ctx)


def _messages(c: Collected) -> list[str]:
    return [e.message for s in c.logs for e in s.events]


def test_small_stream_is_read_whole_in_one_call(aws: boto3.Session) -> None:
    h.log_stream(aws, "job-1/algo-1-1700000000", ["booting", "epoch 1", "RuntimeError: boom"])
    c, ctx = _collect(aws)
    assert len(c.logs) == 1
    s = c.logs[0]
    assert s.name == "job-1/algo-1-1700000000"
    assert (s.first_line, s.truncated, s.skipped_events) == (1, False, 0)
    assert [e.message for e in s.events] == ["booting", "epoch 1", "RuntimeError: boom"]
    assert s.events[0].timestamp is not None
    assert ctx.counter.total == 2  # DescribeLogStreams + one GetLogEvents
    assert not c.gaps


def test_every_host_is_read_in_host_order(aws: boto3.Session) -> None:
    for host in (10, 2, 1):
        h.log_stream(aws, f"job-1/algo-{host}-1700000000", [f"host {host} NCCL error"])
    h.log_stream(aws, "job-1-other/algo-1-1700000000", ["another job's log"])
    c, _ = _collect(aws)
    assert [s.name for s in c.logs] == [f"job-1/algo-{n}-1700000000" for n in (1, 2, 10)]
    assert c.facts["logs.stream_count"] == 3
    assert "another job's log" not in _messages(c)


def test_big_stream_reads_head_and_tail_apart(aws: boto3.Session) -> None:
    lines = [f"step {i} loss 0.5" for i in range(6_000)] + ["CUDA out of memory. Tried to allocate"]
    h.log_stream(aws, "job-1/algo-1-1700000000", lines)
    c, ctx = _collect(aws)
    head, tail = c.logs
    assert head.name == "job-1/algo-1-1700000000" and head.first_line == 1
    assert [e.message for e in head.events[:2]] == ["step 0 loss 0.5", "step 1 loss 0.5"]
    assert len(head.events) == cw.HEAD_EVENTS and head.truncated
    # The tail's position in the stream is unknown, so it is numbered as its own read.
    assert tail.name == "job-1/algo-1-1700000000 (tail)" and tail.truncated
    assert tail.skipped_events is None
    assert tail.events[-1].message == "CUDA out of memory. Tried to allocate"
    assert len(tail.events) == cw.TAIL_EVENTS
    assert ctx.counter.total == 3


def test_cost_does_not_grow_with_log_size(aws: boto3.Session) -> None:
    """A stream 20x bigger costs the same calls and returns the same bounded amount."""
    h.log_stream(aws, "small/algo-1-1", [f"line {i}" for i in range(2_100)])
    h.log_stream(aws, "large/algo-1-1", [f"line {i}" for i in range(42_000)])
    small, ctx_s = _collect(aws, "small")
    large, ctx_l = _collect(aws, "large")
    assert ctx_s.counter.total == ctx_l.counter.total == 3
    assert large.facts["logs.events_read"] == small.facts["logs.events_read"]
    assert _messages(large)[-1] == "line 41999"


def test_stream_just_over_the_tail_budget_is_joined(aws: boto3.Session) -> None:
    """Head and tail overlap: the stream was read whole after all, one contiguous stream."""
    h.log_stream(aws, "job-1/algo-1-1", [f"line {i}" for i in range(cw.TAIL_EVENTS + 20)])
    c, _ = _collect(aws)
    assert len(c.logs) == 1
    s = c.logs[0]
    assert (s.truncated, s.skipped_events, len(s.events)) == (False, 0, cw.TAIL_EVENTS + 20)
    assert [e.message for e in s.events[:3]] == ["line 0", "line 1", "line 2"]


def test_many_hosts_share_the_budget(aws: boto3.Session) -> None:
    for host in range(1, 21):
        h.log_stream(aws, f"job-1/algo-{host}-1", [f"h{host} {i}" for i in range(300)])
    c, ctx = _collect(aws)
    assert ctx.counter.total <= cw.CALL_BUDGET
    assert c.facts["logs.stream_count"] == 20
    assert c.facts["logs.streams_read"] == cw.CALL_BUDGET - 1
    assert [g.code for g in c.gaps] == ["Budget"]
    assert c.facts["logs.events_read"] <= cw.TOTAL_EVENTS + cw.HEAD_EVENTS * 20


def test_missing_log_group_is_a_gap(aws: boto3.Session) -> None:
    c, _ = _collect(aws)
    assert [(g.source, g.code) for g in c.gaps] == [("logs", "LogGroupNotFound")]
    assert c.logs == []


def test_no_streams_when_the_container_never_started_is_not_a_gap(aws: boto3.Session) -> None:
    h.log_stream(aws, "other/algo-1-1", ["x"])
    c, _ = _collect(aws, started=False)
    assert c.gaps == [] and c.facts["logs.stream_count"] == 0
    c2, _ = _collect(aws, started=True)
    assert [g.code for g in c2.gaps] == ["NoLogStreams"]


def test_access_denied_gives_one_gap_for_all_hosts(aws: boto3.Session) -> None:
    for host in (1, 2, 3):
        h.log_stream(aws, f"job-1/algo-{host}-1", ["x"])
    h.deny(aws, "GetLogEvents")
    c, _ = _collect(aws)
    assert [(g.source, g.code, g.missing_permission) for g in c.gaps] == [
        ("logs", "AccessDenied", "logs:GetLogEvents")]
    assert c.logs == []


def test_describe_denied_names_its_permission(aws: boto3.Session) -> None:
    h.log_stream(aws, "job-1/algo-1-1", ["x"])
    h.deny(aws, "DescribeLogStreams")
    c, _ = _collect(aws)
    assert c.gaps[0].missing_permission == "logs:DescribeLogStreams"


def test_secrets_in_log_lines_are_redacted(aws: boto3.Session) -> None:
    key = "AKIA" + "Q" * 16
    h.log_stream(aws, "job-1/algo-1-1", [f"export AWS_ACCESS_KEY_ID={key}",
                                         "HF_TOKEN=hf_abcdefghijklmnopqrstuvwx1234 loaded",
                                         "Traceback (most recent call last):"])
    c, _ = _collect(aws)
    text = "\n".join(_messages(c))
    assert key not in text and "hf_abcdefghijklmnopqrstuvwx1234" not in text
    assert MASK in text and "Traceback" in text


def test_processing_jobs_read_their_own_group(aws: boto3.Session) -> None:
    h.log_stream(aws, "prep-1/algo-1-1", ["processing"], group="/aws/sagemaker/ProcessingJobs")
    c, _ = _collect(aws, "prep-1", kind="processing")
    assert c.logs[0].group == "/aws/sagemaker/ProcessingJobs"


@pytest.mark.parametrize("n", [1, 8])
def test_read_is_bounded_per_stream(aws: boto3.Session, n: int) -> None:
    """Tails of every host first, then heads while the call budget lasts."""
    for host in range(1, n + 1):
        h.log_stream(aws, f"job-1/algo-{host}-1", [f"{host}:{i}" for i in range(2_300)])
    c, ctx = _collect(aws)
    assert ctx.counter.total == min(1 + 2 * n, cw.CALL_BUDGET)
    per_stream = max(cw.MIN_TAIL_EVENTS, min(cw.TAIL_EVENTS, cw.TOTAL_EVENTS // n))
    tails = [s for s in c.logs if s.name.endswith("(tail)")]
    assert len(tails) == n and all(len(s.events) == per_stream for s in tails)
    assert all(s.events[-1].message.endswith(":2299") for s in tails)  # the newest line


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: object) -> list[bytes]:
        return [self.body]


def _throttle(session: boto3.Session, operation: str, times: int) -> list[int]:
    """Answer the first `times` HTTP attempts of `operation` with a 400 ThrottlingException."""
    from botocore.awsrequest import AWSResponse

    seen = [0]

    def handler(request: object = None, **kw: object) -> AWSResponse | None:
        event = str(kw.get("event_name", ""))
        if not event.endswith(f".{operation}") or seen[0] >= times:
            return None
        seen[0] += 1
        body = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
        return AWSResponse("https://logs", 400, {"x-amzn-RequestId": "r"}, _Raw(body))

    # First in line, so it answers before moto's own before-send handler.
    session.events.register_first("before-send", handler)
    return seen


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without real waiting: botocore's backoff sleep and adaptive token bucket."""
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda _s: None)
    monkeypatch.setattr("botocore.retries.bucket.TokenBucket.acquire",
                        lambda self, amount=1, block=True: True)


def test_retries_are_counted_as_requests(aws: boto3.Session, no_backoff: None) -> None:
    h.log_stream(aws, "job-1/algo-1-1", ["line"])
    seen = _throttle(aws, "DescribeLogStreams", 2)
    c, ctx = _collect(aws)
    assert seen == [2] and c.gaps == [] and len(c.logs) == 1
    assert (ctx.counter.calls, ctx.counter.requests, ctx.counter.retries) == (2, 4, 2)
    assert ctx.counter.total == 4


def test_throttled_after_all_attempts_is_a_gap(aws: boto3.Session, no_backoff: None) -> None:
    from investigator.aws import MAX_ATTEMPTS

    h.log_stream(aws, "job-1/algo-1-1", ["line"])
    _throttle(aws, "DescribeLogStreams", 100)
    c, ctx = _collect(aws)
    assert [(g.source, g.code) for g in c.gaps] == [("logs", "Throttling")]
    assert ctx.counter.requests == MAX_ATTEMPTS


# Item 6 of issue 11. botocore's logs model, GetLogEvents: "A returned page might only be
# partially full, or even empty ... Partially full or empty pages don't necessarily mean that
# pagination is finished. As long as the nextBackwardToken or nextForwardToken returned is NOT
# equal to the nextToken that you passed into the API call, there might be more log events."
STREAM = "job-1/algo-1-1740830000"
GROUP = "/aws/sagemaker/TrainingJobs"


def _ev(i: int, text: str) -> dict:
    return {"timestamp": 1_740_830_000_000 + i, "message": text, "ingestionTime": 1_740_830_000_500}


def _page(events: list[dict], back: str, fwd: str = "f/x") -> dict:
    return {"events": events, "nextBackwardToken": back, "nextForwardToken": fwd}


def _listing(stubs: dict, **stream: object) -> None:
    stubs["logs"].add_response("describe_log_streams", {"logStreams": [{
        "logStreamName": STREAM, "creationTime": 1_740_830_000_000, **stream}]})


def test_empty_and_partial_pages_are_paged_through_until_the_token_repeats() -> None:
    from tests.collectors.stubbed import stubbed

    with stubbed("logs") as (ctx, stubs):
        _listing(stubs)
        base = {"logGroupName": GROUP, "logStreamName": STREAM, "startFromHead": False}
        stubs["logs"].add_response("get_log_events", _page([], "b/3"),
                                   {**base, "limit": cw.TAIL_EVENTS})
        stubs["logs"].add_response("get_log_events", _page(
            [_ev(2, "RuntimeError: CUDA error: no kernel image is available"),
             _ev(3, "Reporting training FAILURE")], "b/2"),
            {**base, "limit": cw.TAIL_EVENTS, "nextToken": "b/3"})
        stubs["logs"].add_response("get_log_events", _page([_ev(1, "Invoking user script")],
                                                           "b/1"),
                                   {**base, "limit": cw.TAIL_EVENTS - 2, "nextToken": "b/2"})
        stubs["logs"].add_response("get_log_events", _page([], "b/1"),
                                   {**base, "limit": cw.TAIL_EVENTS - 3, "nextToken": "b/1"})
        c = cw.collect_logs(ctx, JobRef("job-1"), container_started=True)
        calls = ctx.counter.total
    assert [e.message for e in c.logs[0].events] == [
        "Invoking user script", "RuntimeError: CUDA error: no kernel image is available",
        "Reporting training FAILURE"]
    assert (c.logs[0].name, c.logs[0].truncated) == (STREAM, False)  # read whole: no head call
    assert calls == 5 and c.gaps == []


def test_first_event_timestamp_ends_the_backward_read_without_an_extra_call() -> None:
    from tests.collectors.stubbed import stubbed

    with stubbed("logs") as (ctx, stubs):
        _listing(stubs, firstEventTimestamp=1_740_830_000_001)
        stubs["logs"].add_response("get_log_events", _page([], "b/2"))
        stubs["logs"].add_response("get_log_events", _page([_ev(1, "start"), _ev(2, "boom")],
                                                           "b/1"))
        c = cw.collect_logs(ctx, JobRef("job-1"), container_started=True)
    assert [e.message for e in c.logs[0].events] == ["start", "boom"]


def test_empty_head_pages_are_paged_forwards() -> None:
    from tests.collectors.stubbed import stubbed

    tail = [_ev(10_000 + i, f"step {i}") for i in range(cw.TAIL_EVENTS)]
    with stubbed("logs") as (ctx, stubs):
        _listing(stubs, firstEventTimestamp=1_740_830_000_000)
        stubs["logs"].add_response("get_log_events", _page(tail, "b/9"))
        head = {"logGroupName": GROUP, "logStreamName": STREAM, "startFromHead": True}
        stubs["logs"].add_response("get_log_events", _page([], "b/0", "f/1"),
                                   {**head, "limit": cw.HEAD_EVENTS})
        stubs["logs"].add_response("get_log_events", _page([_ev(0, "Training Env: {}")],
                                                           "b/0", "f/2"),
                                   {**head, "limit": cw.HEAD_EVENTS, "nextToken": "f/1"})
        stubs["logs"].add_response("get_log_events", _page([], "b/0", "f/2"),
                                   {**head, "limit": cw.HEAD_EVENTS - 1, "nextToken": "f/2"})
        c = cw.collect_logs(ctx, JobRef("job-1"), container_started=True)
    assert [e.message for e in c.logs[0].events] == ["Training Env: {}"]
    assert c.logs[1].events[-1].message == f"step {cw.TAIL_EVENTS - 1}"


def test_endless_empty_pages_stop_at_the_call_budget() -> None:
    from tests.collectors.stubbed import stubbed

    with stubbed("logs") as (ctx, stubs):
        _listing(stubs)
        for i in range(cw.CALL_BUDGET - 1):
            stubs["logs"].add_response("get_log_events", _page([], f"b/{1000 - i}"))
        c = cw.collect_logs(ctx, JobRef("job-1"), container_started=True)
        assert ctx.counter.total == cw.CALL_BUDGET
    assert c.logs[0].truncated
