"""The S3 store: report layout and the conditional-write claim that prevents double reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from investigator.automation.store import MAX_ATTEMPTS, ReportLocation, ReportStore

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


def test_the_third_attempt_is_final_and_carries_the_earlier_errors(store):
    assert MAX_ATTEMPTS == 3  # pinned: docs/deploy.md promises "the third attempt reports"
    seen = []
    for attempt in (1, 2, 3):
        result = store.claim(KEY, f"req-{attempt}")
        assert result.status == "claimed", attempt
        seen.append((result.claim.attempts, result.claim.final, result.claim.errors))
        store.abandon(result.claim, f"AwsError: throttled #{attempt}")
    assert seen == [
        (1, False, []),
        (2, False, ["attempt 1: AwsError: throttled #1"]),
        (3, True, ["attempt 1: AwsError: throttled #1", "attempt 2: AwsError: throttled #2"]),
    ]
    # nothing is ever given up: a replay after the final attempt failed gets another final one
    again = store.claim(KEY, "req-replay")
    assert again.status == "claimed" and again.claim.final and again.claim.attempts == 4


def test_a_claim_whose_owner_vanished_records_that_as_the_attempts_error(store, clock):
    store.claim(KEY, "req-timed-out")
    clock.now += timedelta(seconds=901)
    taken = store.claim(KEY, "req-retry")
    assert taken.claim.errors == ["attempt 1: no result before its lease ended"]


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


# -- issue 19: the claim as another invocation reads it ---------------------------------------


class _Interleave:
    """Runs `before` once, just before the first put_object matching `when` goes out."""

    def __init__(self, s3: Any, when, before) -> None:
        self.s3, self.when, self.before, self.fired = s3, when, before, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def put_object(self, **kwargs: Any) -> Any:
        if not self.fired and self.when(kwargs):
            self.fired = True
            self.before()
        return self.s3.put_object(**kwargs)


def _is_takeover(kwargs: dict[str, Any]) -> bool:
    return "/_claims/" in kwargs["Key"] and "IfNoneMatch" not in kwargs


def test_two_racers_for_an_expired_lease_cannot_both_win(aws, clock):
    base = ReportStore(aws.services.s3, BUCKET, lease_s=900, clock=clock)
    base.claim(KEY, "req-dead")
    clock.now += timedelta(seconds=901)
    rival = ReportStore(aws.services.s3, BUCKET, lease_s=900, clock=clock)
    results = {}
    # We read the expired claim; the rival takes it over before our write lands.
    racer = ReportStore(_Interleave(aws.services.s3, _is_takeover,
                                    lambda: results.setdefault("rival", rival.claim(KEY, "req-rival"))),
                        BUCKET, lease_s=900, clock=clock)
    ours = racer.claim(KEY, "req-ours")
    assert results["rival"].status == "claimed"
    assert ours.status == "in_progress" and ours.claim is None
    record, _ = base.read_claim(KEY)
    assert (record["owner"], record["state"], record["attempts"]) == ("req-rival", "claimed", 2)
    assert rival.complete(results["rival"].claim, report={"html": "s3://b/r.html"})
    assert base.claim(KEY, "req-late").status == "done"


def test_a_takeover_is_a_live_claim_for_the_next_invocation(store, clock):
    store.claim(KEY, "req-dead")
    clock.now += timedelta(seconds=901)
    assert store.claim(KEY, "req-new").status == "claimed"
    record, _ = store.read_claim(KEY)
    assert record["state"] == "claimed" and record["previous_owner"] == "req-dead"
    third = store.claim(KEY, "req-third")
    assert third.status == "in_progress" and third.record["owner"] == "req-new"


def test_a_slow_owner_abandoning_cannot_reset_the_new_owners_claim(store, clock):
    slow = store.claim(KEY, "req-slow")
    clock.now += timedelta(seconds=901)
    new = store.claim(KEY, "req-new")
    store.abandon(slow.claim, "Timeout")  # must be If-Match on the slow owner's ETag
    record, _ = store.read_claim(KEY)
    assert (record["state"], record["owner"]) == ("claimed", "req-new")
    # so a third invocation still sees it busy instead of taking it over at once
    assert store.claim(KEY, "req-third").status == "in_progress"
    assert store.complete(new.claim)


def test_abandon_lets_the_next_invocation_take_over_at_once(store):
    first = store.claim(KEY, "req-a")
    store.abandon(first.claim, "RuntimeError: boom")
    record, _ = store.read_claim(KEY)
    assert record["state"] == "failed" and record["error"] == "RuntimeError: boom"
    assert store.claim(KEY, "req-b").status == "claimed"


class _VanishingClaim:
    """Create loses with 412, then the claim is gone when read (expired, deleted)."""

    def __init__(self, s3: Any, vanish: int) -> None:
        self.s3, self.vanish = s3, vanish

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def put_object(self, **kwargs: Any) -> Any:
        if kwargs.get("IfNoneMatch") == "*" and self.vanish > 0:
            raise ClientError({"Error": {"Code": "PreconditionFailed"},
                               "ResponseMetadata": {"HTTPStatusCode": 412}}, "PutObject")
        return self.s3.put_object(**kwargs)

    def get_object(self, **kwargs: Any) -> Any:
        if self.vanish > 0:
            self.vanish -= 1
            raise ClientError({"Error": {"Code": "NoSuchKey"},
                               "ResponseMetadata": {"HTTPStatusCode": 404}}, "GetObject")
        return self.s3.get_object(**kwargs)


def test_a_claim_that_vanished_between_create_and_read_is_created_again(aws, clock):
    store = ReportStore(_VanishingClaim(aws.services.s3, vanish=1), BUCKET, clock=clock)
    result = store.claim(KEY, "req-a")
    assert result.status == "claimed"
    record, _ = ReportStore(aws.services.s3, BUCKET).read_claim(KEY)
    assert (record["owner"], record["state"]) == ("req-a", "claimed")


def test_a_claim_that_keeps_vanishing_is_left_to_a_retry(aws, clock):
    store = ReportStore(_VanishingClaim(aws.services.s3, vanish=2), BUCKET, clock=clock)
    assert store.claim(KEY, "req-a").status == "in_progress"
    assert ReportStore(aws.services.s3, BUCKET).read_claim(KEY) is None


def _put_raw_claim(store: ReportStore, body: bytes) -> None:
    store.s3.put_object(Bucket=BUCKET, Key=store.claim_key(KEY), Body=body)


@pytest.mark.parametrize("updated_at", ["yesterday", None, 42])
def test_an_unparsable_updated_at_makes_the_lease_expired(store, updated_at):
    _put_raw_claim(store, json.dumps({"key": KEY, "state": "claimed", "owner": "req-old",
                                      "updated_at": updated_at, "attempts": 1}).encode())
    taken = store.claim(KEY, "req-new")
    assert taken.status == "claimed" and taken.claim.attempts == 2
    assert store.read_claim(KEY)[0]["owner"] == "req-new"


def test_an_unparsable_lease_makes_the_lease_expired(store):
    _put_raw_claim(store, json.dumps({"key": KEY, "state": "claimed", "owner": "req-old",
                                      "updated_at": "2024-05-01T12:00:00Z",
                                      "lease_s": "long"}).encode())
    assert store.claim(KEY, "req-new").status == "claimed"


def test_a_fresh_claim_within_its_lease_is_respected(store, clock):
    _put_raw_claim(store, json.dumps({"key": KEY, "state": "claimed", "owner": "req-old",
                                      "updated_at": "2024-05-01T11:59:00Z",
                                      "lease_s": 120}).encode())
    assert store.claim(KEY, "req-new").status == "in_progress"
    clock.now += timedelta(seconds=61)  # 121 s after the owner's update: its lease is over
    assert store.claim(KEY, "req-new").status == "claimed"


@pytest.mark.parametrize("body", [b"[1, 2, 3]", b'"done"', b"not json", b"\xff\xfe"])
def test_a_claim_body_that_is_not_an_object_is_retaken(store, body):
    _put_raw_claim(store, body)
    assert store.read_claim(KEY)[0] == {}
    taken = store.claim(KEY, "req-new")
    assert taken.status == "claimed"
    record, _ = store.read_claim(KEY)
    assert (record["owner"], record["state"], record["attempts"]) == ("req-new", "claimed", 2)


def test_a_failed_mark_covered_leaves_the_existing_claim_alone_and_raises_other_errors(aws, clock):
    store = ReportStore(aws.services.s3, "no-such-bucket", clock=clock)
    with pytest.raises(ClientError):
        store.mark_covered(KEY, "req-a")


def test_complete_records_the_result_for_later_deliveries(store):
    first = store.claim(KEY, "req-a")
    assert store.complete(first.claim, report={"html": "s3://b/k.html"}, category="deps")
    record, _ = store.read_claim(KEY)
    assert record["state"] == "done" and record["category"] == "deps"
    assert record["key"] == KEY and record["updated_at"] == "2024-05-01T12:00:00Z"


# -- incidents: who pages ---------------------------------------------------------------------

INCIDENT = "job:training:train-1"
LOC = {"html": "s3://b/reports/x.html", "json": "s3://b/reports/x.json",
       "bundle": "s3://b/reports/x.bundle.json"}


def test_the_first_path_of_an_incident_pages_and_the_others_link(store):
    job = store.open_incident(INCIDENT, by=INCIDENT, owner="req-job", report=LOC)
    execution = store.open_incident(INCIDENT, by="execution:arn:x", owner="req-exec",
                                    report={"html": "s3://b/other.html"})
    assert job.ours and not execution.ours
    assert execution.record["by"] == INCIDENT and execution.record["report"] == LOC
    assert store.incident_paged(job, "msg-1")
    assert store.read_incident(INCIDENT)[0]["state"] == "paged"


def test_a_retry_of_the_same_path_reowns_its_unpaged_incident_but_never_pages_twice(store):
    first = store.open_incident(INCIDENT, by=INCIDENT, owner="req-1", report=LOC)
    retry = store.open_incident(INCIDENT, by=INCIDENT, owner="req-2", report=LOC)
    assert first.ours and retry.ours and not retry.paged  # crashed before paging: page now
    assert store.incident_paged(retry, "msg-1")
    after = store.open_incident(INCIDENT, by=INCIDENT, owner="req-3", report=LOC)
    assert not after.ours and after.paged


def test_paging_survives_a_link_written_meanwhile(store):
    gate = store.open_incident(INCIDENT, by=INCIDENT, owner="req-job", report=LOC)
    other = store.open_incident(INCIDENT, by="execution:arn:x", owner="req-exec", report=LOC)
    assert store.link_incident(other, "execution:arn:x", pipeline="arn:x")
    assert store.incident_paged(gate, "msg-1")  # its ETag is stale: read again, keep the link
    record, _ = store.read_incident(INCIDENT)
    assert record["state"] == "paged" and record["linked"] == ["execution:arn:x"]
    assert record["pipeline"] == "arn:x"


def test_report_location_round_trips_through_a_record(store):
    loc = store.location("a.b", datetime(2024, 5, 1, tzinfo=UTC))
    assert ReportLocation.from_dict(loc.as_dict()) == loc
    assert ReportLocation.from_dict({"html": "s3://b"}) is None
    assert ReportLocation.from_dict("s3://b/k") is None


def test_a_lease_ends_strictly_after_its_length(store, clock):
    store.claim(KEY, "req-a")  # lease_s 900 from 12:00:00Z
    clock.now += timedelta(seconds=900)
    assert store.claim(KEY, "req-b").status == "in_progress"
    clock.now += timedelta(seconds=1)
    assert store.claim(KEY, "req-b").status == "claimed"


def test_abandon_records_when_and_why_within_bounds(store, clock):
    first = store.claim(KEY, "req-a")
    clock.now += timedelta(seconds=5)
    store.abandon(first.claim, "x" * 2000)
    record, _ = store.read_claim(KEY)
    assert record["updated_at"] == "2024-05-01T12:00:05Z"
    assert len(record["error"]) == 500
    assert record["errors"] == ["attempt 1: " + "x" * 300]


def test_only_the_last_errors_are_kept(store):
    from investigator.automation.store import MAX_KEPT_ERRORS

    assert MAX_KEPT_ERRORS == 5
    for i in range(7):
        store.abandon(store.claim(KEY, f"req-{i}").claim, f"e{i}")
    errors = store.claim(KEY, "req-last").claim.errors
    assert errors == [f"attempt {i + 1}: e{i}" for i in range(2, 7)]


def test_reading_an_incident_that_does_not_exist_or_cannot_be_read(aws, store):
    assert store.read_incident(INCIDENT) is None
    store.s3.put_object(Bucket=BUCKET, Key=store.incident_key(INCIDENT), Body=b"[]")
    record, etag = store.read_incident(INCIDENT)
    assert record == {} and etag.strip('"')
    broken = ReportStore(aws.services.s3, "no-such-bucket")
    with pytest.raises(ClientError):
        broken.read_incident(INCIDENT)
    with pytest.raises(ClientError):
        broken.open_incident(INCIDENT, by=INCIDENT, owner="req", report=LOC)


def test_a_link_with_a_stale_view_does_not_overwrite_the_incident(store):
    gate = store.open_incident(INCIDENT, by=INCIDENT, owner="req-job", report=LOC)
    assert store.incident_paged(gate, "msg-1")
    # `gate` still holds the ETag from before the page: linking with it must fail
    assert not store.link_incident(gate, "execution:arn:x")
    record, _ = store.read_incident(INCIDENT)
    assert record["state"] == "paged" and "linked" not in record


def test_links_accumulate_up_to_ten(store, clock):
    store.open_incident(INCIDENT, by=INCIDENT, owner="req-job", report=LOC)
    for i in range(12):
        clock.now += timedelta(seconds=1)
        gate = store.open_incident(INCIDENT, by=f"execution:{i}", owner="r", report=LOC)
        assert store.link_incident(gate, f"execution:{i}")
    record, _ = store.read_incident(INCIDENT)
    assert record["linked"] == [f"execution:{i}" for i in range(2, 12)]
    assert record["updated_at"] == "2024-05-01T12:00:12Z"


def test_paging_is_refused_when_another_path_owns_the_incident(store):
    gate = store.open_incident(INCIDENT, by=INCIDENT, owner="req-job", report=LOC)
    # the incident was reset and re-created by another path meanwhile
    store.s3.put_object(Bucket=BUCKET, Key=store.incident_key(INCIDENT), Body=json.dumps(
        {"incident": INCIDENT, "state": "open", "by": "execution:other"}).encode())
    assert not store.incident_paged(gate, "msg-1")
    assert store.read_incident(INCIDENT)[0]["state"] == "open"


def test_a_takeover_record_names_the_failure_and_the_new_owners_lease(aws, clock):
    ReportStore(aws.services.s3, BUCKET, lease_s=120, clock=clock).claim(KEY, "req-dead")
    clock.now += timedelta(seconds=121)
    ReportStore(aws.services.s3, BUCKET, lease_s=600, clock=clock).claim(KEY, "req-new")
    record, _ = ReportStore(aws.services.s3, BUCKET).read_claim(KEY)
    assert (record["key"], record["owner"], record["lease_s"]) == (KEY, "req-new", 600)


def test_a_covered_job_reads_as_done_by_its_coverer(store):
    job = "job:training:train-9"
    assert store.mark_covered(job, "req-exec", covered_by=KEY)
    record, _ = store.read_claim(job)
    assert (record["key"], record["state"], record["owner"], record["attempts"]) == (
        job, "done", "req-exec", 1)
    assert record["covered_by"] == KEY


class _BareStatus412:
    """Some S3 front ends answer a failed precondition with a bare 412 and no error body."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def put_object(self, **kwargs: Any) -> Any:
        if kwargs.get("IfNoneMatch") == "*":
            raise ClientError({"ResponseMetadata": {"HTTPStatusCode": 412}}, "PutObject")
        return self.s3.put_object(**kwargs)


def test_a_bare_412_counts_as_losing_the_race(aws, clock):
    ReportStore(aws.services.s3, BUCKET, clock=clock).claim(KEY, "req-first")
    store = ReportStore(_BareStatus412(aws.services.s3), BUCKET, clock=clock)
    result = store.claim(KEY, "req-second")
    assert result.status == "in_progress" and result.record["owner"] == "req-first"


def test_a_first_claim_is_attempt_one_with_the_default_lease(aws, clock):
    store = ReportStore(aws.services.s3, BUCKET, clock=clock)  # CLAIM_LEASE_SECONDS default
    claimed = store.claim(KEY, "req-a")
    record, _ = store.read_claim(KEY)
    assert (record["attempts"], record["lease_s"], record["state"]) == (1, 960, "claimed")
    assert claimed.claim.attempts == 1 and not claimed.claim.final


def test_a_custom_prefix_keeps_reports_claims_and_incidents_under_it(aws, clock):
    store = ReportStore(aws.services.s3, BUCKET, prefix="/team-a/reports/", clock=clock)
    assert store.claim_key(KEY).startswith("team-a/reports/_claims/")
    assert store.incident_key(KEY).startswith("team-a/reports/_incidents/")
    loc = store.location("x", datetime(2024, 5, 1, 23, 0, tzinfo=UTC))
    assert loc.html_key == "team-a/reports/2024/05/01/x.html"


def test_reports_are_served_with_their_content_types(aws, store):
    loc = store.location("x", datetime(2024, 5, 1, tzinfo=UTC))
    store.write_report(loc, html="<!doctype html>é", json_text="{}", bundle="{}")
    head = {k: aws.services.s3.head_object(Bucket=BUCKET, Key=k)["ContentType"]
            for k in (loc.html_key, loc.json_key, loc.bundle_key)}
    assert head == {loc.html_key: "text/html; charset=utf-8", loc.json_key: "application/json",
                    loc.bundle_key: "application/json"}
    body = aws.services.s3.get_object(Bucket=BUCKET, Key=loc.html_key)["Body"].read()
    assert body.decode("utf-8") == "<!doctype html>é"
    store.claim(KEY, "req-a")
    claim_key = store.claim_key(KEY)
    assert aws.services.s3.head_object(Bucket=BUCKET, Key=claim_key)["ContentType"] == \
        "application/json"
