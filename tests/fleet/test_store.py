"""The S3 fleet index the Lambda writes (moto), and the history a new report gets from it."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from investigator.automation import notify
from investigator.automation.runner import Reporter, Services, Settings
from investigator.automation.store import ReportLocation
from investigator.fleet.store import FleetIndex, record_failure
from investigator.reporter import render
from tests.fleet.conftest import REGION, make_inv

BUCKET = "fleet-test-reports"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


def keys(s3: Any, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


def _record(s3: Any, inv, key: str):
    return record_failure(s3, BUCKET, inv, failure_key=key, failed_at=inv.job.ended,
                          report=f"s3://{BUCKET}/reports/{key}.html")


def test_each_failure_is_one_json_lines_record_under_its_date(s3):
    inv = make_inv(random.Random(1))
    _record(s3, inv, "execution:a")
    [key] = keys(s3, "index/")
    assert key.startswith(f"index/date={inv.job.ended:%Y-%m-%d}/") and key.endswith(".jsonl")
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    assert body.endswith("\n") and body.count("\n") == 1
    rec = json.loads(body)
    assert rec["fingerprint"] == inv.fingerprint
    assert rec["target"] == inv.target.name and rec["pipeline"] == "TrainPipeline"
    assert rec["job"] == inv.job.name and rec["category"] == "deps"
    assert rec["rule"] == "deps-module-not-found" and rec["retryable"] is False
    assert rec["report"] == f"s3://{BUCKET}/reports/execution:a.html"


def test_recording_the_same_failure_again_changes_nothing(s3):
    inv = make_inv(random.Random(1))
    first = _record(s3, inv, "execution:a")
    snapshot = {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys(s3)}
    again = _record(s3, inv, "execution:a")  # a redelivered event, a retried invocation
    assert {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys(s3)} == snapshot
    assert first.history is None and again.history is None


def test_a_new_report_knows_how_often_and_where_its_cause_was_seen(s3):
    invs = sorted((make_inv(random.Random(s)) for s in range(4)), key=lambda i: i.job.ended)
    results = [_record(s3, inv, f"execution:{n}") for n, inv in enumerate(invs)]
    assert results[0].history is None
    h = results[3].history
    assert h is not None and h.count == 3
    assert h.first_seen == invs[0].job.ended
    assert h.last_target == invs[2].target.name and h.last_seen == invs[2].job.ended
    # a retry of the fourth does not count it twice, and still sees the same history
    assert _record(s3, invs[3], "execution:3").history == h
    # another cause has its own (empty) history
    assert _record(s3, make_inv(random.Random(9), module="flash_attn"), "execution:x").history is None


def test_history_reaches_every_report_format_and_the_sns_message(s3):
    earlier, now = make_inv(random.Random(1)), make_inv(random.Random(2))
    _record(s3, earlier, "execution:1")
    inv = _record(s3, now, "execution:2")
    line = f"Seen once before, since {earlier.job.ended:%Y-%m-%d}, last in {earlier.target.name}"
    assert line in render(inv, "text") and line in render(inv, "html")
    assert "Seen once before, since" in render(inv, "md")
    assert json.loads(render(inv, "json"))["history"]["count"] == 1
    loc = ReportLocation(BUCKET, "r.html", "r.json", "r.bundle.json")
    assert line in notify.message(inv, loc)


def test_without_the_store_the_report_still_goes_out(s3):
    inv = make_inv(random.Random(1))
    out = record_failure(s3, "no-such-bucket", inv, failure_key="k", failed_at=None, report=None)
    assert out is inv and out.history is None


def test_concurrent_writers_lose_no_count(s3):
    """Two invocations read the summary at once; If-Match makes the slower one re-read."""
    index = FleetIndex(s3, BUCKET)
    invs = [make_inv(random.Random(s)) for s in range(2)]
    from investigator.fleet.records import from_investigation

    recs = [from_investigation(i, failed_at=i.job.ended, report=None) for i in invs]
    index.remember(recs[0], "k0")
    real_read = index._read_summary
    stale = real_read(recs[0].fingerprint)
    calls = {"n": 0}

    def read_stale_once(fp: str):
        calls["n"] += 1
        return stale if calls["n"] == 1 else real_read(fp)

    index.remember(recs[1], "k1")  # another writer gets in first
    index._read_summary = read_stale_once  # type: ignore[method-assign]
    index.remember(make_rec(recs[1], "2"), "k2")
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=index.summary_key(recs[0].fingerprint))
                     ["Body"].read())
    assert doc["count"] == 3 and calls["n"] == 2


def make_rec(rec, suffix: str):
    from dataclasses import replace

    return replace(rec, target=rec.target + suffix)


class FakeInvestigate:
    def __init__(self, invs: dict[str, Any]) -> None:
        self.invs = invs

    def __call__(self, target, **_: Any):
        from investigator.models import Evidence

        return Evidence(target=target), self.invs[target.name]


def test_the_lambda_indexes_each_report_and_its_message_says_seen_before(s3):
    """One call in the Reporter: index record, history in the stored report and in SNS."""
    from investigator.automation.events import Failure

    invs = [make_inv(random.Random(s)) for s in range(3)]
    invs.sort(key=lambda i: i.job.ended)
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="t")["TopicArn"]
    published: list[str] = []
    real_publish = sns.publish
    sns.publish = lambda **kw: published.append(kw["Message"]) or real_publish(**kw)  # type: ignore[method-assign]
    reporter = Reporter(Settings(bucket=BUCKET, topic_arn=topic), Services(s3=s3, sns=sns),
                        investigate=FakeInvestigate({i.target.name: i for i in invs}))
    for n, inv in enumerate(invs):
        failure = Failure(key=f"execution:{inv.target.name}", target=inv.target,
                          report_name=f"r{n}", failed_at=inv.job.ended + timedelta(seconds=1),
                          state_machine_arn=inv.facts["sfn.state_machine_arn"])
        assert reporter.report(failure).status == "reported"
    assert len(keys(s3, "index/")) == 3
    stored = [json.loads(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())
              for k in keys(s3, "reports/") if k.endswith(".json") and "/_claims/" not in k
              and "/_incidents/" not in k
              and not k.endswith(".bundle.json")]
    assert sorted((d["history"] or {}).get("count", 0) for d in stored) == [0, 1, 2]
    assert "Seen" not in published[0]
    assert f"Seen 2 times before, since {invs[0].job.ended + timedelta(seconds=1):%Y-%m-%d}, " \
           f"last in {invs[1].target.name}" in published[2]
