"""Issue 18 item 4: throttling is counted per service, and the optional last good run is
skipped with a named gap once an investigation is being throttled."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError

from investigator import aws as aws_mod
from investigator import pipeline
from investigator.aws import ApiCounter

from .conftest import fresh_session


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any):
        yield self.body


def _throttle_everything(request: Any, **_: Any) -> AWSResponse:
    # What SageMaker answers over its quota: HTTP 400, JSON protocol, ThrottlingException.
    return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "ThrottlingException"},
                       _Raw(b'{"__type":"ThrottlingException","message":"Rate exceeded"}'))


def test_throttled_responses_are_counted_per_service_including_retries():
    session = fresh_session("us-east-1")
    counter = ApiCounter()
    counter.attach(session)
    session.events.register_first("before-send", _throttle_everything)
    client = session.client("sagemaker", config=Config(
        retries={"mode": "standard", "total_max_attempts": 2}))
    with pytest.raises(ClientError) as err:
        client.describe_training_job(TrainingJobName="x")
    assert aws_mod.is_throttled(err.value)
    assert counter.throttled == {"sagemaker": 2} and counter.throttled_on("sagemaker", "sfn") == 2
    assert counter.calls == 1 and counter.requests == 2


def test_the_clients_retry_mode_and_attempts_are_the_documented_ones():
    assert aws_mod.CONFIG.retries == {"mode": "adaptive", "total_max_attempts": 4}
    assert aws_mod.MAX_ATTEMPTS == 4
    assert aws_mod.AUTOMATION_CONFIG.retries == {"mode": "adaptive", "total_max_attempts": 6}


class _Ctx:
    def __init__(self, throttled: dict[str, int]) -> None:
        self.counter = ApiCounter(throttled=throttled)

    def out_of_time(self, margin: float = 0) -> bool:
        return False


@pytest.mark.parametrize(("throttled", "skipped"), [
    ({}, False), ({"sagemaker": 1}, False), ({"sagemaker": 2}, True),
    ({"sfn": 1, "sagemaker": 1}, True), ({"ecr": 5}, False)])
def test_the_last_good_run_is_skipped_with_a_gap_once_the_investigation_is_throttled(
        throttled, skipped):
    run = pipeline._Run(_Ctx(throttled), progress=None)
    called = []

    def read_last_good():
        called.append(True)
        raise AssertionError("not under test")

    if skipped:
        pipeline._last_good(run, read_last_good)
        [gap] = run.all.gaps
        assert (gap.source, gap.code) == ("lastgood", "Throttling")
        assert "optional last good run was skipped" in gap.message
        assert called == []
    else:
        with pytest.raises(AssertionError, match="not under test"):
            pipeline._last_good(run, read_last_good)
