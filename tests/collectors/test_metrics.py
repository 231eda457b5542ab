"""Instance metrics collector: one GetMetricData call per job, per-host peaks, named gaps.

Contract (botocore cloudwatch model, GetMetricData; SageMaker AI job metrics, namespace
/aws/sagemaker/TrainingJobs with dimension Host = "<job>/algo-<N>":
https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html#cloudwatch-metrics-jobs).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.stub import ANY

from investigator.aws import open_context
from investigator.collectors import metrics
from tests.collectors import helpers as h
from tests.collectors.stubbed import stubbed

NOW = h.T0 + timedelta(days=1)
FACTS = {"sagemaker.job_name": "llm-1", "sagemaker.job_kind": "training",
         "sagemaker.instance_count": 2, "sagemaker.created": h.T0.isoformat(),
         "sagemaker.started": (h.T0 + timedelta(minutes=4)).isoformat(),
         "sagemaker.ended": (h.T0 + timedelta(minutes=34)).isoformat()}


def _result(qid: str, label: str, values: list[float]) -> dict[str, Any]:
    start = h.T0 + timedelta(minutes=5)
    return {"Id": qid, "Label": label, "StatusCode": "Complete",
            "Timestamps": [start + timedelta(minutes=i) for i in range(len(values))],
            "Values": values}


def _capture(ctx: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    ctx.client("cloudwatch").meta.events.register(
        "provide-client-params.cloudwatch.GetMetricData", lambda params, **_: seen.append(params))
    return seen


def test_one_call_reads_every_host_and_metric_into_peaks_and_series() -> None:
    with stubbed("cloudwatch") as (ctx, stubs):
        seen = _capture(ctx)
        stubs["cloudwatch"].add_response("get_metric_data", {"MetricDataResults": [
            _result("h0m1", "MemoryUtilization", [41.0, 63.5, 99.7, 100.0]),
            _result("h1m1", "MemoryUtilization", [40.0, 41.0, 40.5, 39.0]),
            _result("h1m4", "DiskUtilization", [12.0, 12.0, 12.5, 12.5]),
            _result("h0m2", "GPUUtilization", []),  # no data: no series
        ], "Messages": []}, {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY,
                              "ScanBy": "TimestampAscending"})
        c = metrics.collect_metrics(ctx, FACTS, NOW)
        assert ctx.counter.total == 1
    [params] = seen
    queries = params["MetricDataQueries"]
    assert len(queries) == 2 * len(metrics.METRICS)
    dims = {(q["MetricStat"]["Metric"]["MetricName"],
             q["MetricStat"]["Metric"]["Dimensions"][0]["Value"]) for q in queries}
    assert ("MemoryUtilization", "llm-1/algo-2") in dims
    assert {q["MetricStat"]["Metric"]["Namespace"] for q in queries} == {
        "/aws/sagemaker/TrainingJobs"}
    assert params["StartTime"] < h.T0 + timedelta(minutes=4) < params["EndTime"]
    f = c.facts
    assert f["metrics.hosts"]["algo-1"]["memory"] == {"peak": 100.0, "last": 100.0}
    assert f["metrics.hosts"]["algo-2"]["disk"] == {"peak": 12.5, "last": 12.5}
    assert (f["metrics.memory_peak_pct"], f["metrics.memory_peak_host"]) == (100.0, "algo-1")
    assert f["metrics.disk_peak_pct"] == 12.5
    assert len(f["metrics.series"]["algo-1"]["memory"]) == 4
    assert "gpu" not in f["metrics.hosts"]["algo-1"]
    assert [t.event for t in c.timeline] == ["algo-1 memory at 100%"]
    assert c.gaps == []


def test_access_denied_is_a_named_gap_with_the_iam_action() -> None:
    with stubbed("cloudwatch") as (ctx, stubs):
        stubs["cloudwatch"].add_client_error(
            "get_metric_data", "AccessDenied", "User: arn:aws:sts::123456789012:assumed-role/"
            "oncall/me is not authorized to perform: cloudwatch:GetMetricData", 403)
        c = metrics.collect_metrics(ctx, FACTS, NOW)
    assert [(g.source, g.code, g.missing_permission) for g in c.gaps] == [
        ("metrics", "AccessDenied", "cloudwatch:GetMetricData")]
    assert c.facts == {}


def test_a_cut_off_answer_is_a_gap_not_a_second_call() -> None:
    with stubbed("cloudwatch") as (ctx, stubs):
        stubs["cloudwatch"].add_response("get_metric_data", {
            "MetricDataResults": [_result("h0m1", "MemoryUtilization", [50.0])],
            "NextToken": "page-2"})
        c = metrics.collect_metrics(ctx, FACTS, NOW)
        assert ctx.counter.total == 1
    assert [g.code for g in c.gaps] == ["Budget"]
    assert c.facts["metrics.memory_peak_pct"] == 50.0


def test_cost_is_bounded_for_a_large_cluster() -> None:
    with stubbed("cloudwatch") as (ctx, stubs):
        seen = _capture(ctx)
        stubs["cloudwatch"].add_response("get_metric_data", {"MetricDataResults": []})
        metrics.collect_metrics(ctx, {**FACTS, "sagemaker.instance_count": 64}, NOW)
        assert ctx.counter.total == 1
    queries = seen[0]["MetricDataQueries"]
    assert len(queries) == metrics.MAX_HOSTS * len(metrics.METRICS) <= 500
    # a five-day run still fits in one answer (100,800 data points at most per call)
    start, end = h.T0, h.T0 + timedelta(days=5)
    points = (end - start).total_seconds() / metrics._period(start, end)
    assert points <= metrics.POINTS_PER_SERIES
    assert points * len(queries) <= 100_800


def test_processing_jobs_use_their_namespace(aws: boto3.Session) -> None:
    cw = aws.client("cloudwatch", region_name=h.REGION)
    start = datetime.now(h.T0.tzinfo) - timedelta(hours=2)
    cw.put_metric_data(Namespace="/aws/sagemaker/ProcessingJobs", MetricData=[
        {"MetricName": "DiskUtilization", "Dimensions": [{"Name": "Host", "Value": "prep-1/algo-1"}],
         "Timestamp": start + timedelta(minutes=i), "Value": v, "Unit": "Percent"}
        for i, v in enumerate([20.0, 70.0, 99.9])])
    ctx = open_context(profile=None, region=h.REGION, deadline=None, session=aws)
    facts = {"sagemaker.job_name": "prep-1", "sagemaker.job_kind": "processing",
             "sagemaker.started": start.isoformat(),
             "sagemaker.ended": (start + timedelta(minutes=3)).isoformat()}
    c = metrics.collect_metrics(ctx, facts, datetime.now(h.T0.tzinfo))
    assert c.facts["metrics.namespace"] == "/aws/sagemaker/ProcessingJobs"
    assert c.facts["metrics.disk_peak_pct"] == 99.9


def test_a_job_that_never_ran_costs_no_call() -> None:
    with stubbed("cloudwatch") as (ctx, _):
        c = metrics.collect_metrics(ctx, {"sagemaker.job_name": "x"}, NOW)
        assert ctx.counter.total == 0
    assert c.facts == {} and c.gaps == []
