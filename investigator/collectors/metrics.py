"""CloudWatch metrics: each host's CPU, memory, GPU and disk utilisation, in one call.

SageMaker publishes instance metrics for training and processing jobs in the namespaces
`/aws/sagemaker/TrainingJobs` and `/aws/sagemaker/ProcessingJobs`, one series per host with the
dimension `Host` = `<job-name>/algo-<N>`, at a 1-minute frequency ("Amazon SageMaker AI metrics
in Amazon CloudWatch", SageMaker AI job metrics:
https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html#cloudwatch-metrics-jobs).
Memory and disk are percentages of the host; CPU and GPU utilisation sum over cores / GPUs,
so they may exceed 100.

One GetMetricData call reads every (host, metric) pair of the job's run: up to 500 queries and
100,800 data points per call (botocore cloudwatch model, GetMetricData), so the period is
chosen to keep every series within POINTS_PER_SERIES. A cut-off answer (NextToken) is a gap,
never a second call.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from investigator.aws import AWS_ERRORS, AwsContext, gap_from_error
from investigator.collectors import Collected, JobKind, as_datetime
from investigator.models import Gap, TimelineEvent

SOURCE = "metrics"
ACTION = "cloudwatch:GetMetricData"
NAMESPACES = {"training": "/aws/sagemaker/TrainingJobs",
              "processing": "/aws/sagemaker/ProcessingJobs"}
# Metric name → short key used in facts and plots.
METRICS = {
    "CPUUtilization": "cpu",
    "MemoryUtilization": "memory",
    "GPUUtilization": "gpu",
    "GPUMemoryUtilization": "gpu_memory",
    "DiskUtilization": "disk",
}
MAX_HOSTS = 16  # 80 queries, well under the 500 a call allows
POINTS_PER_SERIES = 240
MIN_PERIOD_S = 60  # the metrics are published every minute
MARGIN = timedelta(minutes=2)
MAX_SPAN = timedelta(days=15)  # points older than 15 days exist only at 5-minute periods
FULL_PCT = 95.0  # memory or disk this full is marked on the timeline


def collect_metrics(ctx: AwsContext, facts: dict[str, Any], now: datetime) -> Collected:
    c = Collected()
    job = facts.get("sagemaker.job_name")
    kind: JobKind = "processing" if facts.get("sagemaker.job_kind") == "processing" else "training"
    start = as_datetime(facts.get("sagemaker.started") or facts.get("sagemaker.created"))
    if not job or start is None:
        c.summary = "no job run to read"
        return c
    end = as_datetime(facts.get("sagemaker.ended")) or now
    start, end = max(start - MARGIN, end - MAX_SPAN), min(end + MARGIN, now)
    hosts = [f"algo-{i}" for i in range(1, min(_host_count(facts), MAX_HOSTS) + 1)]
    period = _period(start, end)
    queries, keys = _queries(NAMESPACES[kind], str(job), hosts, period)
    try:
        resp = ctx.client("cloudwatch").get_metric_data(
            MetricDataQueries=queries, StartTime=start, EndTime=end,
            ScanBy="TimestampAscending")
    except AWS_ERRORS as exc:
        c.gaps.append(gap_from_error(SOURCE, exc, ACTION, f"{NAMESPACES[kind]} metrics of {job}"))
        c.summary = c.gaps[-1].code
        return c
    if resp.get("NextToken"):
        c.gaps.append(Gap(source=SOURCE, code="Budget",
                          message=f"metrics of {job} cut off after one GetMetricData page"))
    series = _series(resp.get("MetricDataResults") or [], keys)
    c.facts = metric_facts(series, NAMESPACES[kind], period)
    c.timeline = _peaks(series)
    c.summary = (f"{len(series)} host{'s' if len(series) != 1 else ''} with metrics"
                 if series else "no metrics published")
    return c


def _host_count(facts: dict[str, Any]) -> int:
    count = facts.get("sagemaker.instance_count")
    return count if isinstance(count, int) and count > 0 else 1


def _period(start: datetime, end: datetime) -> int:
    seconds = max(1.0, (end - start).total_seconds())
    minutes = math.ceil(seconds / POINTS_PER_SERIES / MIN_PERIOD_S)
    return max(MIN_PERIOD_S, minutes * MIN_PERIOD_S)


def _queries(namespace: str, job: str, hosts: list[str],
             period: int) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    """One query per (host, metric); ids map back to (host, short metric key)."""
    queries: list[dict[str, Any]] = []
    keys: dict[str, tuple[str, str]] = {}
    for h, host in enumerate(hosts):
        for m, (name, key) in enumerate(METRICS.items()):
            qid = f"h{h}m{m}"  # ids must start with a lower-case letter
            keys[qid] = (host, key)
            queries.append({"Id": qid, "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": name,
                           "Dimensions": [{"Name": "Host", "Value": f"{job}/{host}"}]},
                "Period": period, "Stat": "Maximum"}})
    return queries, keys


Series = dict[str, dict[str, list[tuple[datetime, float]]]]


def _series(results: list[dict[str, Any]], keys: dict[str, tuple[str, str]]) -> Series:
    out: Series = {}
    for r in results:
        key = keys.get(str(r.get("Id")))
        points = sorted(
            (t, float(v)) for ts, v in zip(r.get("Timestamps") or [], r.get("Values") or [],
                                          strict=False)
            if (t := as_datetime(ts)) is not None and isinstance(v, int | float)
        )
        if key is None or not points:
            continue
        host, metric = key
        out.setdefault(host, {})[metric] = points
    return out


def metric_facts(series: Series, namespace: str, period: int) -> dict[str, Any]:
    """metrics.* facts: peak and last per host and metric, the series, the fullest host."""
    if not series:
        return {"metrics.namespace": namespace}
    hosts = {host: {m: {"peak": round(max(v for _, v in pts), 1), "last": round(pts[-1][1], 1)}
                    for m, pts in metrics.items()} for host, metrics in sorted(series.items())}
    facts: dict[str, Any] = {
        "metrics.namespace": namespace,
        "metrics.period_s": period,
        "metrics.hosts": hosts,
        "metrics.series": {host: {m: [[t.isoformat(), round(v, 1)] for t, v in pts]
                                  for m, pts in metrics.items()}
                           for host, metrics in sorted(series.items())},
    }
    for metric in ("memory", "disk", "gpu_memory"):
        peaks = [(s[metric]["peak"], host) for host, s in hosts.items() if metric in s]
        if peaks:
            peak, host = max(peaks)
            facts[f"metrics.{metric}_peak_pct"] = peak
            facts[f"metrics.{metric}_peak_host"] = host
    return facts


def _peaks(series: Series) -> list[TimelineEvent]:
    """Memory or disk at (nearly) 100% on a host: worth a line on the timeline."""
    out = []
    for host, metrics in sorted(series.items()):
        for metric in ("memory", "disk"):
            full = next(((t, v) for t, v in metrics.get(metric, []) if v >= FULL_PCT), None)
            if full:
                out.append(TimelineEvent(time=full[0], source=SOURCE,
                                         event=f"{host} {metric} at {full[1]:.0f}%"))
    return out


__all__ = ["ACTION", "METRICS", "NAMESPACES", "SOURCE", "collect_metrics", "metric_facts"]
