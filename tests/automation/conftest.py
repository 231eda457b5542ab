"""Fixtures for the automation tests: moto for AWS, fake contexts, event fixtures."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from investigator.automation.runner import Services, Settings
from investigator.classifier import classify
from investigator.models import Evidence, Gap, Investigation, LogEvent, LogStream, Target

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "events"
REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "investigator-reports-test"
SM_NAME = "training-pipeline"
SM_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{SM_NAME}"
CHECKPOINT = "/investigator-test/sweep-checkpoint"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@dataclass
class FakeContext:
    """The two things the handler reads from a Lambda context."""

    remaining_ms: int = 300_000
    aws_request_id: str = "req-0001"
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.remaining_ms - (time.monotonic() - self.started) * 1000))


def job_of(target: Target) -> str:
    """The job the fake finds: the job itself, or run-X's training job train-X."""
    name = target.name.rsplit(":", 1)[-1]
    return name if target.kind == "job" else "train-" + name.removeprefix("run-")


@dataclass
class FakeInvestigate:
    """Stands in for investigator.pipeline.investigate_target; records every call.

    Evidence is a realistic missing-module log so the classifier has something to find.
    Honours the deadline the way the pipeline contract says: sources not started before it
    become Gap(code="Deadline").
    """

    calls: list[dict[str, Any]] = field(default_factory=list)
    log_line: str = "ModuleNotFoundError: No module named 'transformers'"
    raise_exc: BaseException | None = None

    def __call__(self, target: Target, **kwargs: Any) -> tuple[Evidence, Investigation]:
        self.calls.append({"target": target, **kwargs})
        if self.raise_exc is not None:
            raise self.raise_exc
        deadline = kwargs.get("deadline")
        if deadline is not None and time.monotonic() >= deadline:
            evidence = Evidence(target=target, gaps=[
                Gap(source=s, code="Deadline", message="not collected before the deadline")
                for s in ("sfn", "sagemaker", "logs", "ecr")
            ])
        else:
            job = job_of(target)
            facts = {"sagemaker.job_name": job, "sagemaker.status": "Failed",
                     "sagemaker.job_kind": target.job_kind or "training"}
            if target.kind == "execution":
                facts.update({"sfn.failed_state": "Train", "sfn.status": "FAILED"})
            evidence = Evidence(
                target=target,
                facts=facts,
                logs=[LogStream(name=f"{job}/algo-1-1714556020",
                                events=[LogEvent(message="Traceback (most recent call last):"),
                                        LogEvent(message=self.log_line)])],
                api_calls=7,
            )
        return evidence, classify(evidence)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The handler configures the `investigator` logger for Lambda (JSON lines, no
    propagation); other test modules in the same worker must get it back untouched."""
    logger = logging.getLogger("investigator")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never reach a real account, whatever the developer's shell has."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@dataclass
class Aws:
    session: boto3.session.Session
    services: Services
    settings: Settings
    queue_url: str
    region: str = REGION

    def objects(self, prefix: str = "reports/") -> dict[str, bytes]:
        s3 = self.services.s3
        keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=prefix) for o in p.get("Contents", [])]
        return {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys}

    def reports(self) -> dict[str, bytes]:
        return {k: v for k, v in self.objects().items()
                if "/_claims/" not in k and "/_incidents/" not in k}

    def notifications(self) -> list[dict[str, Any]]:
        """Messages that reached the SQS queue subscribed to the topic."""
        sqs = self.session.client("sqs", region_name=self.region)
        out = []
        while True:
            resp = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            msgs = resp.get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])


# One botocore loader for every test session: parsing the service models (sagemaker's is
# megabytes of JSON) once instead of per test keeps each test's setup to milliseconds.
_LOADER = botocore.loaders.create_loader()


def fresh_session(region: str) -> boto3.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core, region_name=region)


@contextmanager
def moto_world(region: str, env: dict[str, str]) -> Iterator[Aws]:
    """moto with the stack's resources: report bucket, topic (+ an SQS subscriber), parameter."""
    with mock_aws():
        session = fresh_session(region)
        s3 = session.client("s3")
        if region == "us-east-1":
            s3.create_bucket(Bucket=BUCKET)
        else:
            s3.create_bucket(Bucket=BUCKET,
                             CreateBucketConfiguration={"LocationConstraint": region})
        sns = session.client("sns")
        topic = sns.create_topic(Name="investigator-test")["TopicArn"]
        sqs = session.client("sqs")
        queue_url = sqs.create_queue(QueueName="oncall")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        session.client("ssm").put_parameter(Name=CHECKPOINT, Value="{}", Type="String")
        services = Services.from_session(session, region)
        settings = Settings.from_env({
            "REPORT_BUCKET": BUCKET, "TOPIC_ARN": topic, "CHECKPOINT_PARAMETER": CHECKPOINT,
            "AWS_REGION": region, "SWEEP_MIN_SECONDS_PER_ITEM": "1", **env,
        })
        yield Aws(session, services, settings, queue_url, region)


@pytest.fixture
def aws() -> Iterator[Aws]:
    with moto_world(REGION, {"STATE_MACHINE_ARNS": SM_ARN}) as world:
        yield world

_DEFINITION = json.dumps({"StartAt": "Train", "States": {"Train": {"Type": "Pass", "End": True}}})


def seed_execution(
    aws: Aws, name: str, status: str, *, started: datetime, stopped: datetime | None
) -> str:
    """A finished execution with the given status and times.

    moto gap: executions only ever run (RUNNING) or are stopped (ABORTED) through the API;
    it cannot fail or time one out. Seed its backend object directly, as AWS would leave it.
    Also note moto leaves stopDate out of ListExecutions for TIMED_OUT (AWS includes it).
    """
    from moto.stepfunctions.models import stepfunctions_backends

    sfn = aws.services.sfn
    if not any(m["stateMachineArn"] == SM_ARN for m in sfn.list_state_machines()["stateMachines"]):
        sfn.create_state_machine(name=SM_NAME, definition=_DEFINITION,
                                 roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn")
    arn = sfn.start_execution(stateMachineArn=SM_ARN, name=name)["executionArn"]
    backend = stepfunctions_backends[ACCOUNT][REGION]
    execution = next(e for e in backend.describe_state_machine(SM_ARN).executions
                     if e.execution_arn == arn)
    execution.status = status
    execution.start_date = started.astimezone(UTC).replace(tzinfo=None)
    execution.stop_date = stopped.astimezone(UTC).replace(tzinfo=None) if stopped else None
    if status == "FAILED":
        execution.error, execution.cause = "States.TaskFailed", "task failed"
    return arn


def seed_job(aws: Aws, name: str, *, kind: str = "training", status: str = "Failed",
             modified: datetime, secondary: str | None = None) -> None:
    """A finished SageMaker job. moto gap: jobs never leave InProgress through the API, so
    the backend object is set as AWS would leave it (naive UTC times, as moto keeps them)."""
    from moto.sagemaker.models import sagemaker_backends

    sm = aws.session.client("sagemaker")
    role = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/trainer:latest"
    cluster = {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}
    if kind == "training":
        sm.create_training_job(
            TrainingJobName=name, RoleArn=role,
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": "s3://out/"}, ResourceConfig=cluster,
            StoppingCondition={"MaxRuntimeInSeconds": 3600})
        job = sagemaker_backends[ACCOUNT][REGION].training_jobs[name]
        job.training_job_status = status
        job.secondary_status = secondary or status
    else:
        sm.create_processing_job(
            ProcessingJobName=name, RoleArn=role, AppSpecification={"ImageUri": image},
            ProcessingResources={"ClusterConfig": cluster},
            StoppingCondition={"MaxRuntimeInSeconds": 3600})
        job = sagemaker_backends[ACCOUNT][REGION].processing_jobs[name]
        job.processing_job_status = status
    naive = modified.astimezone(UTC).replace(tzinfo=None)
    job.creation_time = naive
    job.last_modified_time = naive
