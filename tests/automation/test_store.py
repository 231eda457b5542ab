"""The S3 store: report layout and the conditional-write claim that prevents double reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from investigator.automation.store import MAX_ATTEMPTS, ReportStore

from .conftest import BUCKET

KEY = "execution:arn:aws:states:us-east-1:123456789012:execution:training-pipeline:run-1"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(aws, clock) -> ReportStore:
    return ReportStore(aws.services.s3, BUCKET, lease_s=900, clock=clock)


def test_report_keys_follow_the_dated_layout(store):
    loc = store.location("training-pipeline.run-1", datetime(2024, 5, 1, 23, 59, tzinfo=UTC))
    assert loc.html_key == "reports/2024/05/01/training-pipeline.run-1.html"
    assert loc.json_key == "reports/2024/05/01/training-pipeline.run-1.json"
    assert loc.bundle_key == "reports/2024/05/01/training-pipeline.run-1.bundle.json"
    assert loc.as_dict()["html"] == f"s3://{BUCKET}/{loc.html_key}"


def test_only_the_first_claim_wins_and_done_is_seen_by_later_deliveries(store):
    first = store.claim(KEY, "req-a")
    assert first.status == "claimed"
    assert store.claim(KEY, "req-b").status == "in_progress"
    assert store.complete(first.claim, report={"html": "s3://b/k.html"})
    again = store.claim(KEY, "req-c")
    assert again.status == "done"
    assert again.record["report"] == {"html": "s3://b/k.html"}
    assert again.record["owner"] == "req-a"


def test_a_claim_older_than_the_lease_is_taken_over_and_the_slow_owner_cannot_finish(
    store, clock
):
    slow = store.claim(KEY, "req-slow")
    clock.now += timedelta(seconds=901)
    taken = store.claim(KEY, "req-new")
    assert taken.status == "claimed"
    assert taken.claim.record["attempts"] == 2
    assert not store.complete(slow.claim, report={})  # If-Match on a stale ETag fails
    assert store.complete(taken.claim, report={})
    assert store.read_claim(KEY)[0]["owner"] == "req-new"


def test_a_crashed_investigation_can_be_retried_at_once_but_not_forever(store):
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = store.claim(KEY, f"req-{attempt}")
        assert result.status == "claimed", attempt
        store.abandon(result.claim, "boom")
    assert store.claim(KEY, "req-last").status == "gave_up"


def test_mark_covered_never_overwrites_an_existing_claim(store):
    held = store.claim(KEY, "req-a")
    assert not store.mark_covered(KEY, "req-b", covered_by="x")
    assert store.read_claim(KEY)[0]["state"] == "claimed"
    assert store.complete(held.claim)
    other = "job:training:train-1"
    assert store.mark_covered(other, "req-b", covered_by=KEY)
    assert store.claim(other, "req-c").status == "done"


def test_claim_keys_are_opaque_and_inside_the_report_prefix(store):
    key = store.claim_key("job:training:../../x")
    assert key.startswith("reports/_claims/") and ".." not in key


class _ConflictOnce:
    """S3 answers 409 ConditionalRequestConflict when two conditional writes overlap."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self.raised = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def put_object(self, **kwargs: Any) -> Any:
        if kwargs.get("IfNoneMatch") == "*" and not self.raised:
            self.raised = True
            # the other writer's object lands, we get the conflict
            self.s3.put_object(**{**kwargs, "Body": json.dumps(
                {"key": KEY, "state": "claimed", "owner": "req-other",
                 "updated_at": "2024-05-01T12:00:00Z", "attempts": 1}).encode()})
            raise ClientError({"Error": {"Code": "ConditionalRequestConflict"},
                               "ResponseMetadata": {"HTTPStatusCode": 409}}, "PutObject")
        return self.s3.put_object(**kwargs)


def test_a_409_conflict_counts_as_losing_the_race(aws, clock):
    store = ReportStore(_ConflictOnce(aws.services.s3), BUCKET, lease_s=900, clock=clock)
    result = store.claim(KEY, "req-me")
    assert result.status == "in_progress"
    assert result.record["owner"] == "req-other"


def test_other_s3_errors_are_not_mistaken_for_a_lost_race(aws, clock):
    store = ReportStore(aws.services.s3, "no-such-bucket", clock=clock)
    with pytest.raises(ClientError):
        store.claim(KEY, "req-a")


def test_the_owner_sets_its_own_lease(aws, clock):
    short = ReportStore(aws.services.s3, BUCKET, lease_s=120, clock=clock)
    long = ReportStore(aws.services.s3, BUCKET, lease_s=900, clock=clock)
    assert short.claim(KEY, "req-short-lived").status == "claimed"
    clock.now += timedelta(seconds=121)
    # judged by the owner's 120 s, not by the newcomer's 900 s
    assert long.claim(KEY, "req-retry").status == "claimed"
