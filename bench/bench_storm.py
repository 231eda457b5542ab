"""Failure storm: one bad image fails N training jobs in a minute; does on-call get one page each?

    .venv/bin/python bench/bench_storm.py [--jobs 200] [--pipelines 20] [--concurrency 5]
        [--storm-s 60] [--latency-ms 40] [--sagemaker-rate 1.0] [--duplicates 0.10]
        [--lost-sfn 0.20] [--defer-s 30] [--retry-delay-s 5] [--seed 7]

A benchmark, not a test (`make bench-storm`). Everything runs in this process on moto:

* Seeds N failed training jobs from one image that lost a dependency (each with its
  CloudWatch log), the first P of them started by a Step Functions pipeline
  (`createTrainingJob.sync`, the execution failed with the task).
* Puts an AWS-shaped throttling middleware in front of moto (a `before-send` handler that
  runs before moto's): every call costs --latency-ms, and a token bucket per operation answers
  like AWS when it is empty: HTTP 400 `ThrottlingException` (JSON services), S3 `503 SlowDown`,
  SNS `400 Throttling`. Rates are in QUOTAS below; --sagemaker-rate scales SageMaker's.
* Delivers the events as EventBridge would during the storm: each execution's event 2 s
  after its job failed, each job's event after the job-event queue's delay (--defer-s, the
  template's JobPageDeferSeconds; the SQS retry/redrive is modelled like Lambda's
  asynchronous retries); --duplicates of all events twice, --lost-sfn of the Step Functions
  events never (they are best effort).
* Runs the real handler (real collectors, classifier, store, SNS) with at most --concurrency
  invocations at once, each "sandbox" with its own boto3 session. A raised invocation is
  retried twice (after --retry-delay-s, then twice that: Lambda's 1 and 2 minutes, scaled),
  then dead-lettered. Then the sweep runs (until it finds nothing), then the DLQ is replayed.
* Prints failures, reports, pages, duplicates per failure and per incident, final attempts
  (retries ran out: reported with what could not be read), lost, throttled calls, drain time.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import botocore.loaders  # noqa: E402
import botocore.session  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402

BUCKET = "investigator-storm"
PARAMETER = "/investigator-storm/sweep-checkpoint"
STATE_MACHINE = "StormPipeline"

# (refill per second, bucket size) per operation, or per service under "*". Documented:
# S3 3,500 PUT and 5,500 GET per second per prefix (S3 "Best practices design patterns:
# optimizing performance"); CloudWatch Logs GetLogEvents 25/s, DescribeLogStreams and
# FilterLogEvents 5/s (CloudWatch Logs quotas). Assumed (account defaults vary by region and
# are not all published): Step Functions Describe*/GetExecutionHistory 50/s (burst 250),
# ListExecutions 2/s (burst 100); SageMaker Describe*/List* 10/s each; ECR DescribeImages
# 20/s; SNS Publish 9,000/s; SSM GetParameter 40/s, PutParameter 3/s.
QUOTAS: dict[str, dict[str, tuple[float, float]]] = {
    "sfn": {"*": (50, 250), "ListExecutions": (2, 100)},
    "sagemaker": {"*": (10, 10)},
    "cloudwatch-logs": {"*": (25, 25), "DescribeLogStreams": (5, 5), "FilterLogEvents": (5, 5)},
    "ecr": {"*": (20, 20), "BatchGetImage": (2000, 2000), "GetDownloadUrlForLayer": (3000, 3000)},
    "s3": {"*": (5500, 5500), "PutObject": (3500, 3500)},
    "sns": {"*": (9000, 9000)},
    "ssm": {"*": (40, 40), "PutParameter": (3, 3)},
}
_S3_SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
                b"<Message>Please reduce your request rate.</Message></Error>")
_SNS_THROTTLING = (b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error>'
                   b"<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
                   b"</Error><RequestId>storm</RequestId></ErrorResponse>")
_JSON_THROTTLING = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any):
        yield self.body


class Throttle:
    """Token buckets shared by every sandbox (an account's quota is shared)."""

    def __init__(self, latency_s: float, sagemaker_rate: float) -> None:
        self.latency_s = latency_s
        self.quotas = {s: dict(q) for s, q in QUOTAS.items()}
        self.quotas["sagemaker"] = {k: (r * sagemaker_rate, max(1.0, b * sagemaker_rate))
                                    for k, (r, b) in QUOTAS["sagemaker"].items()}
        self.buckets: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    def attach(self, session: boto3.session.Session) -> None:
        session.events.register_first("before-send", self.before_send)

    def _take(self, service: str, operation: str) -> bool:
        quotas = self.quotas.get(service)
        if not quotas:
            return True
        key = operation if operation in quotas else "*"
        rate, burst = quotas[key]
        name = f"{service}.{key if key != '*' else operation}"
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(name, [burst, now])
            tokens = min(burst, tokens + (now - last) * rate)
            ok = tokens >= 1
            self.buckets[name] = [tokens - 1 if ok else tokens, now]
        return ok

    def before_send(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        _, service, operation = [*event_name.split(".", 2), "", ""][:3]
        if service == "sqs":
            return None
        time.sleep(self.latency_s)
        self.calls[f"{service}:{operation}"] += 1
        if self._take(service, operation):
            return None  # on to moto
        self.throttled[f"{service}:{operation}"] += 1
        if service == "s3":
            return AWSResponse(request.url, 503, {"Content-Type": "application/xml"},
                               _Raw(_S3_SLOWDOWN))
        if service == "sns":
            return AWSResponse(request.url, 400, {"Content-Type": "text/xml"},
                               _Raw(_SNS_THROTTLING))
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1",
                                              "x-amzn-ErrorType": "ThrottlingException"},
                           _Raw(_JSON_THROTTLING))


# --------------------------------------------------------------------------- the world


@dataclass
class Storm:
    jobs: list[Any]
    executions: dict[str, str]  # job name → execution ARN
    state_machine_arn: str
    topic: str
    queue_url: str


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def seed_storm(n_jobs: int, n_pipelines: int, start: datetime, storm_s: float,
               region: str) -> Storm:
    from investigator.demo import incident_logs as L
    from investigator.demo import scenarios as S
    from investigator.demo.seed import History, Job, World, put_job, put_job_logs, put_state_machine

    world = World(region=region)
    uri = S.image(world, "trainer", "2025.12.07", start - timedelta(hours=2),
                  extra_tags=["latest"], base_mb=5200, **S.NEXIS_CONFIG)
    definition = {"StartAt": "Train", "States": {"Train": S.sagemaker_task_state(
        "Train", "createTrainingJob", S.training_params(
            "States.Format('storm-{}', $.run_id)", uri, "ml.g5.xlarge"), None)}}
    sm = put_state_machine(world, STATE_MACHINE, definition, created=start - timedelta(days=3))
    jobs, executions = [], {}
    for i in range(n_jobs):
        ends = start + timedelta(seconds=storm_s * i / max(1, n_jobs))
        created = ends - timedelta(seconds=300)
        job = Job(name=f"storm-{i:04d}", image=uri, instance_type="ml.g5.xlarge",
                  created=created, status="Failed", secondary="Failed",
                  transitions=S.lifecycle("Failed", ended=300), started_after=185,
                  ended_after=300, hyperparameters={"epochs": "3"},
                  channels={"train": "s3://storm-data/train/"}, output_path="s3://storm-out/",
                  failure_reason="AlgorithmError: , exit code: 1")
        put_job(world, job)
        put_job_logs(world, job, [L.CUSPARSELT_MISSING])
        jobs.append(job)
        if i < n_pipelines:
            payload = {"run_id": f"{i:04d}", "output_s3_uri": "s3://storm-out/"}
            h = History(created - timedelta(seconds=1))
            h.started(payload)
            h.entered("Task", "Train", payload)
            S.sagemaker_task(h, world, job)
            executions[job.name] = S.failed_task_execution(world, sm, f"run-{i:04d}", h,
                                                           payload)
    _naive_job_times(world)
    return Storm(jobs, executions, sm.arn, "", "")


def _naive_job_times(world: Any) -> None:
    """moto compares List*Jobs time filters with naive UTC times (its own jobs')."""
    for job in world.sagemaker.training_jobs.values():
        for name in ("creation_time", "last_modified_time"):
            value = getattr(job, name)
            if isinstance(value, datetime) and value.tzinfo is not None:
                setattr(job, name, value.astimezone(UTC).replace(tzinfo=None))


def _training_event(job: Any, region: str, account: str) -> dict[str, Any]:
    arn = f"arn:aws:sagemaker:{region}:{account}:training-job/{job.name}"
    return {
        "version": "0", "id": str(uuid.uuid4()), "source": "aws.sagemaker",
        "detail-type": "SageMaker Training Job State Change", "account": account,
        "time": job.ended.isoformat(), "region": region, "resources": [arn],
        "detail": {"TrainingJobName": job.name, "TrainingJobArn": arn,
                   "TrainingJobStatus": "Failed", "SecondaryStatus": "Failed",
                   "FailureReason": job.failure_reason,
                   "AlgorithmSpecification": {"TrainingImage": job.image},
                   "ResourceConfig": {"InstanceType": job.instance_type, "InstanceCount": 1},
                   "CreationTime": str(_ms(job.created)), "TrainingEndTime": str(_ms(job.ended)),
                   "LastModifiedTime": str(_ms(job.ended))},
    }


def _execution_event(arn: str, sm_arn: str, job: Any, region: str,
                     account: str) -> dict[str, Any]:
    stop = job.ended + timedelta(seconds=2)
    return {
        "version": "0", "id": str(uuid.uuid4()), "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change", "account": account,
        "time": stop.isoformat(), "region": region, "resources": [arn],
        "detail": {"executionArn": arn, "stateMachineArn": sm_arn, "name": arn.rsplit(":", 1)[1],
                   "status": "FAILED", "startDate": _ms(job.created), "stopDate": _ms(stop),
                   "error": "SageMaker.AmazonSageMakerException", "cause": "Training job failed"},
    }


# --------------------------------------------------------------------------- Lambda


class Context:
    def __init__(self, timeout_s: float = 300) -> None:
        self.end = time.monotonic() + timeout_s
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return int((self.end - time.monotonic()) * 1000)


@dataclass
class Lambda:
    """Asynchronous invocation: bounded concurrency, two retries, then the DLQ."""

    concurrency: int
    settings: Any
    throttle: Throttle
    region: str
    retry_delay_s: float
    loader: Any
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    dlq: list[dict[str, Any]] = field(default_factory=list)
    raised: int = 0

    def __post_init__(self) -> None:
        self.pool = ThreadPoolExecutor(self.concurrency)
        self.sandboxes: list[Any] = []
        self.lock = threading.Lock()
        self.pending = 0
        self.idle = threading.Condition(self.lock)

    def _services(self) -> Any:
        from investigator.automation.runner import Services

        with self.lock:
            if self.sandboxes:
                return self.sandboxes.pop()
        core = botocore.session.get_session()
        core.register_component("data_loader", self.loader)
        session = boto3.session.Session(botocore_session=core, region_name=self.region)
        self.throttle.attach(session)
        return Services.from_session(session, self.region)

    def invoke(self, event: dict[str, Any], attempt: int = 0, delay: float = 0.0) -> None:
        with self.lock:
            self.pending += 1

        def later() -> None:
            self.pool.submit(self._run, event, attempt)

        if delay > 0:
            threading.Timer(delay, later).start()
        else:
            later()

    def _run(self, event: dict[str, Any], attempt: int) -> None:
        from investigator import lambda_handler

        services = self._services()
        try:
            result = lambda_handler.handle(event, Context(), settings=self.settings,
                                           services=services)
            with self.lock:
                self.outcomes.append(result)
        except Exception:
            with self.lock:
                self.raised += 1
            if attempt < 2:
                self.invoke(event, attempt + 1, self.retry_delay_s * (attempt + 1))
            else:
                with self.lock:
                    self.dlq.append(event)
        finally:
            with self.lock:
                self.sandboxes.append(services)
                self.pending -= 1
                self.idle.notify_all()

    def wait(self) -> None:
        with self.lock:
            while self.pending:
                self.idle.wait(1.0)


# --------------------------------------------------------------------------- run


def _drain_sqs(session: Any, queue_url: str) -> list[dict[str, Any]]:
    sqs = session.client("sqs")
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def _objects(s3: Any, prefix: str) -> list[str]:
    return [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix=prefix) for o in p.get("Contents", [])]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID as ACCOUNT

    from investigator.automation.runner import Settings
    from investigator.automation.store import ReportStore
    from investigator.demo.seed import REGION

    rng = random.Random(args.seed)
    loader = botocore.loaders.create_loader()
    with mock_aws():
        start = datetime.now(UTC) + timedelta(seconds=3)
        storm = seed_storm(args.jobs, args.pipelines, start, args.storm_s, REGION)
        admin = boto3.session.Session(region_name=REGION)
        s3 = admin.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        sns = admin.client("sns")
        topic = sns.create_topic(Name="storm")["TopicArn"]
        sqs = admin.client("sqs")
        queue_url = sqs.create_queue(QueueName="oncall")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        admin.client("ssm").put_parameter(Name=PARAMETER, Value="{}", Type="String")
        settings = Settings.from_env({
            "REPORT_BUCKET": BUCKET, "TOPIC_ARN": topic, "CHECKPOINT_PARAMETER": PARAMETER,
            "STATE_MACHINE_ARNS": storm.state_machine_arn, "AWS_REGION": REGION,
            "SWEEP_INITIAL_LOOKBACK_HOURS": "1", "SWEEP_MIN_SECONDS_PER_ITEM": "1",
            "SWEEP_MAX_ITEMS": "50",
        })
        # The sweep runs right after the storm here; in AWS it runs every 30 minutes.
        settings = replace(settings, sweep=replace(settings.sweep, settle_s=2))
        throttle = Throttle(args.latency_ms / 1000, args.sagemaker_rate)
        lam = Lambda(args.concurrency, settings, throttle, REGION, args.retry_delay_s, loader)

        # EventBridge: each execution's event 2 s after its job failed; each job's event
        # after the delay queue's --defer-s.
        deliveries: list[tuple[datetime, dict[str, Any], str]] = []
        lost = 0
        defer = timedelta(seconds=args.defer_s)
        for job in storm.jobs:
            deliveries.append((job.ended + defer, _training_event(job, REGION, ACCOUNT), "job"))
            arn = storm.executions.get(job.name)
            if arn:
                if rng.random() < args.lost_sfn:
                    lost += 1
                else:
                    event = _execution_event(arn, storm.state_machine_arn, job, REGION, ACCOUNT)
                    deliveries.append((job.ended + timedelta(seconds=2), event, "execution"))
        duplicated = 0
        for when, event, kind in list(deliveries):
            if rng.random() < args.duplicates:
                duplicated += 1
                deliveries.append((when + timedelta(seconds=rng.uniform(0.5, 5)), event, kind))
        deliveries.sort(key=lambda d: d[0])

        t0 = time.monotonic()
        for when, event, _kind in deliveries:
            wait = (when - datetime.now(UTC)).total_seconds()
            if wait > 0:
                time.sleep(wait)
            lam.invoke(event)
        lam.wait()
        drain_s = time.monotonic() - t0
        dlq_before_sweep = len(lam.dlq)

        # The sweep, until it finds nothing more (its budget is 50 items per run).
        t1 = time.monotonic()
        sweeps = 0
        sweep_outcomes: Counter[str] = Counter()
        services = lam._services()
        from investigator import lambda_handler

        for _ in range(10):
            sweeps += 1
            result = lambda_handler.handle(
                {"version": "0", "id": str(uuid.uuid4()), "source": "aws.events",
                 "detail-type": "Scheduled Event", "region": REGION, "detail": {}},
                Context(900), settings=settings, services=services)
            outcomes: Counter[str] = Counter()
            for part in [*result["state_machines"], *result["jobs"]]:
                outcomes.update(part["outcomes"])
            sweep_outcomes.update(outcomes)
            if not (set(outcomes) - {"duplicate", "linked"}) and not result["stopped_early"]:
                break
        sweep_s = time.monotonic() - t1

        # Replay the dead letters (after the sweep, as an operator would).
        replayed: Counter[str] = Counter()
        for event in list(lam.dlq):
            try:
                out = lambda_handler.handle(event, Context(), settings=settings,
                                            services=services)
                replayed[out["status"]] += 1
            except Exception as exc:  # still failing: counted, not hidden
                replayed[f"raised {type(exc).__name__}"] += 1

        return _measure(args, storm, lam, throttle, admin, queue_url, lost, duplicated,
                        deliveries, drain_s, dlq_before_sweep, sweeps, sweep_outcomes, sweep_s,
                        replayed, ReportStore(s3, BUCKET))


def _measure(args, storm, lam, throttle, admin, queue_url, lost, duplicated, deliveries,
             drain_s, dlq_before_sweep, sweeps, sweep_outcomes, sweep_s, replayed,
             store) -> dict[str, Any]:
    s3 = admin.client("s3")
    pages = _drain_sqs(admin, queue_url)
    per_incident: Counter[str] = Counter()
    with_pipeline = 0
    for page in pages:
        m = re.search(r"\((storm-\d+)\)", page["Subject"])
        per_incident[m.group(1) if m else page["Subject"]] += 1
        if "Target: execution" in page["Message"]:
            with_pipeline += 1
    report_keys = [k for k in _objects(s3, "reports/")
                   if k.endswith(".json") and not k.endswith(".bundle.json")
                   and "/_claims/" not in k and "/_incidents/" not in k]
    failures = [f"job:training:{j.name}" for j in storm.jobs] + [
        f"execution:{a}" for a in storm.executions.values()]
    reported_by: Counter[str] = Counter()
    event_outcomes: Counter[str] = Counter()
    finals = 0
    for out in lam.outcomes:
        event_outcomes[f"{out.get('key', '?').split(':')[0]}:{out.get('status')}"] += 1
        if out.get("status") in ("reported", "updated"):
            reported_by[out["key"]] += 1
            finals += bool(out.get("final"))
    not_done = []
    for key in failures:
        found = store.read_claim(key)
        if found is None or found[0].get("state") != "done":
            not_done.append(key)
    gaps: Counter[str] = Counter()
    final_gaps = 0
    for key in report_keys:
        report = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        for g in report.get("gaps", []):
            gaps[f"{g['source']}:{g['code']}"] += 1
            final_gaps += "attempts:" in g.get("message", "") or " attempts: " in g.get(
                "message", "")
    return {
        "config": {k: getattr(args, k) for k in ("jobs", "pipelines", "concurrency", "storm_s",
                                                 "latency_ms", "sagemaker_rate", "duplicates",
                                                 "lost_sfn", "defer_s", "retry_delay_s", "seed")},
        "failures": len(failures), "incidents": len(storm.jobs),
        "events_delivered": len(deliveries), "duplicated_events": duplicated,
        "lost_sfn_events": lost,
        "reports": len(report_keys), "pages": len(pages),
        "pages_with_pipeline_context": with_pipeline,
        "pipelines": len(storm.executions),
        "failures_reported_twice": sum(1 for n in reported_by.values() if n > 1),
        "incidents_paged_twice": sum(1 for n in per_incident.values() if n > 1),
        "incidents_not_paged": len(storm.jobs) - len(per_incident),
        "final_attempt_reports": finals, "reports_naming_their_failed_attempts": final_gaps,
        "lost": len(not_done), "lost_keys": not_done[:5],
        "event_outcomes": dict(event_outcomes),
        "invocations_raised": lam.raised, "dlq_before_sweep": dlq_before_sweep,
        "dlq_replay": dict(replayed),
        "sweeps": sweeps, "sweep_outcomes": dict(sweep_outcomes), "sweep_s": round(sweep_s, 1),
        "throttled_calls": sum(throttle.throttled.values()),
        "throttled_by_operation": dict(throttle.throttled.most_common(8)),
        "calls": sum(throttle.calls.values()),
        "report_gaps": dict(gaps.most_common(8)),
        "drain_s": round(drain_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=200)
    p.add_argument("--pipelines", type=int, default=20)
    p.add_argument("--concurrency", type=int, default=5)
    p.add_argument("--storm-s", type=float, default=60.0, help="the jobs fail over this long")
    p.add_argument("--latency-ms", type=float, default=40.0)
    p.add_argument("--sagemaker-rate", type=float, default=1.0,
                   help="SageMaker quota factor (0.1: an account whose rate others share)")
    p.add_argument("--duplicates", type=float, default=0.10)
    p.add_argument("--lost-sfn", type=float, default=0.20)
    p.add_argument("--defer-s", type=float, default=30.0,
                   help="the job-event queue's delay (JobPageDeferSeconds)")
    p.add_argument("--retry-delay-s", type=float, default=5.0,
                   help="Lambda's async retry delay (60 s in AWS), doubled for the second")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = p.parse_args(argv)
    import logging

    logging.getLogger("investigator").setLevel(logging.ERROR)
    from investigator import lambda_handler

    lambda_handler.configure_logging()
    logging.getLogger("investigator").setLevel(logging.ERROR)
    figures = run(args)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for key, value in figures.items():
        print(f"{key:38} {json.dumps(value) if isinstance(value, dict | list) else value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
