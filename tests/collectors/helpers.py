"""Seeding helpers for the collector tests: realistic AWS state in moto's backends.

moto gaps filled here (each is also noted where it is used):
- Step Functions: moto's default backend returns a canned history (ignoring the state
  machine), so tests replace the execution's `get_execution_history` with events shaped like
  AWS's HistoryEvent; executions only RUN or ABORT through the API, so status/error/cause
  are set on the backend object.
- moto ignores reverseOrder/maxResults/nextToken on GetExecutionHistory: `paged_history`
  patches the response handler to page like AWS does.
- SageMaker: moto creates every training job as Completed, so failure state (status,
  secondary status and its transitions, FailureReason, times) is set on the backend job.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipeline"
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/trainer:latest"
DEFINITION = json.dumps({"StartAt": "Train", "States": {"Train": {"Type": "Pass", "End": True}}})


class HistoryBuilder:
    """Builds an execution history in AWS's shape: ids, previousEventId chains, timestamps."""

    def __init__(self, start: datetime = T0, input_: str = "{}") -> None:
        self.events: list[dict[str, Any]] = []
        self.t = start
        self.add("ExecutionStarted", 0, executionStartedEventDetails={
            "input": input_, "inputDetails": {"truncated": False}, "roleArn": ROLE})

    @property
    def last(self) -> int:
        return self.events[-1]["id"]

    def add(self, type_: str, prev: int | None = None, seconds: float = 1, **details: Any) -> int:
        self.t += timedelta(seconds=seconds)
        ev = {"timestamp": self.t, "type": type_, "id": len(self.events) + 1,
              "previousEventId": self.last if prev is None and self.events else (prev or 0)}
        ev.update(details)
        self.events.append(ev)
        return ev["id"]

    def enter(self, name: str, kind: str = "Task", prev: int | None = None) -> int:
        return self.add(f"{kind}StateEntered", prev,
                        stateEnteredEventDetails={"name": name, "input": "{}",
                                                  "inputDetails": {"truncated": False}})

    def exit(self, name: str, kind: str = "Task", prev: int | None = None) -> int:
        return self.add(f"{kind}StateExited", prev,
                        stateExitedEventDetails={"name": name, "output": "{}",
                                                 "outputDetails": {"truncated": False}})

    def schedule(self, resource: str, params: dict[str, Any], rtype: str = "sagemaker",
                 prev: int | None = None) -> int:
        return self.add("TaskScheduled", prev, taskScheduledEventDetails={
            "resourceType": rtype, "resource": resource, "region": REGION,
            "parameters": json.dumps(params)})

    def started(self, resource: str, rtype: str = "sagemaker", prev: int | None = None) -> int:
        return self.add("TaskStarted", prev, taskStartedEventDetails={
            "resourceType": rtype, "resource": resource})

    def submitted(self, resource: str, output: dict[str, Any], rtype: str = "sagemaker",
                  prev: int | None = None) -> int:
        return self.add("TaskSubmitted", prev, taskSubmittedEventDetails={
            "resourceType": rtype, "resource": resource, "output": json.dumps(output),
            "outputDetails": {"truncated": False}})

    def task_failed(self, resource: str, error: str, cause: str, rtype: str = "sagemaker",
                    prev: int | None = None, seconds: float = 1) -> int:
        return self.add("TaskFailed", prev, seconds, taskFailedEventDetails={
            "resourceType": rtype, "resource": resource, "error": error, "cause": cause})

    def succeeded(self, resource: str, rtype: str = "sagemaker", prev: int | None = None) -> int:
        return self.add("TaskSucceeded", prev, taskSucceededEventDetails={
            "resourceType": rtype, "resource": resource, "output": "{}",
            "outputDetails": {"truncated": False}})

    def execution_failed(self, error: str, cause: str, prev: int | None = None) -> int:
        return self.add("ExecutionFailed", prev,
                        executionFailedEventDetails={"error": error, "cause": cause})

    def execution_succeeded(self) -> int:
        return self.add("ExecutionSucceeded", executionSucceededEventDetails={
            "output": "{}", "outputDetails": {"truncated": False}})


def training_params(name: str, *, image: str = IMAGE, instance: str = "ml.g4dn.xlarge",
                    hp: dict[str, str] | None = None) -> dict[str, Any]:
    """CreateTrainingJob parameters as a Step Functions task passes them."""
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": hp or {"epochs": "3", "lr": "0.001"},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://data/train/"}}}],
        "OutputDataConfig": {"S3OutputPath": "s3://out/"},
        "ResourceConfig": {"InstanceType": instance, "InstanceCount": 1, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def sync_training_failure(b: HistoryBuilder, state: str, job: str, reason: str,
                          attempts: int = 1, **params: Any) -> None:
    """A createTrainingJob.sync task failing (after retries) and the execution failing."""
    res = "createTrainingJob.sync"
    b.enter(state)
    for _ in range(attempts):
        b.schedule(res, training_params(job, **params))
        b.started(res)
        b.submitted(res, {"TrainingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{job}"})
        cause = {"TrainingJobName": job, "TrainingJobStatus": "Failed", "FailureReason": reason,
                 "HyperParameters": params.get("hp") or {"epochs": "3"}}
        b.task_failed(res, "States.TaskFailed", json.dumps(cause), seconds=120)
    b.execution_failed("States.TaskFailed", json.dumps(cause))


TUNING = "createHyperParameterTuningJob.sync"


def sync_tuning_failure(b: HistoryBuilder, job: str, error: str, cause: str,
                        execution_cause: str | None = None, state: str = "Tune") -> None:
    """A createHyperParameterTuningJob.sync task failing and the execution failing."""
    b.enter(state)
    b.schedule(TUNING, {"HyperParameterTuningJobName": job})
    b.started(TUNING)
    b.task_failed(TUNING, error, cause)
    b.execution_failed(error, cause if execution_cause is None else execution_cause)


# --- moto seeding ----------------------------------------------------------------------------


def state_machine(session: boto3.Session, name: str = "training-pipeline") -> str:
    sfn = session.client("stepfunctions", region_name=REGION)
    return sfn.create_state_machine(name=name, definition=DEFINITION, roleArn=ROLE)[
        "stateMachineArn"]


def execution(session: boto3.Session, sm_arn: str, name: str, history: HistoryBuilder | None,
              *, status: str = "FAILED", input_: str = "{}", error: str | None = None,
              cause: str | None = None, start: datetime | None = None) -> str:
    """Start an execution through the API, then give it AWS's end state and history."""
    from moto.stepfunctions.models import stepfunctions_backends

    sfn = session.client("stepfunctions", region_name=REGION)
    arn = sfn.start_execution(stateMachineArn=sm_arn, name=name, input=input_)["executionArn"]
    ex = stepfunctions_backends[ACCOUNT][REGION].describe_execution(arn)
    # moto gap: executions cannot fail through the API, and the history is canned.
    ex.status = status
    ex.start_date = start or T0
    ex.stop_date = (start or T0) + timedelta(hours=1) if status != "RUNNING" else None
    ex.error, ex.cause = error, cause
    if history is not None:
        events = history.events
        ex.get_execution_history = lambda _role: events
    return arn


def training_job(session: boto3.Session, name: str, *, status: str = "Failed",
                 secondary: str = "Failed", reason: str | None = "AlgorithmError: exit code 1",
                 transitions: list[tuple[str, str]] | None = None, image: str = IMAGE,
                 instance: str = "ml.g4dn.xlarge", count: int = 1,
                 hp: dict[str, str] | None = None, env: dict[str, str] | None = None,
                 created: datetime = T0, ran: bool = True, max_runtime: int = 3600) -> None:
    from moto.sagemaker.models import sagemaker_backends

    sm = session.client("sagemaker", region_name=REGION)
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters=hp or {"epochs": "3", "lr": "0.001"},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://data/train/"}}}],
        OutputDataConfig={"S3OutputPath": "s3://out/"},
        ResourceConfig={"InstanceType": instance, "InstanceCount": count, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": max_runtime},
        Environment=env or {},
    )
    job = sagemaker_backends[ACCOUNT][REGION].training_jobs[name]
    # moto gap: a training job cannot fail through the API; set what DescribeTrainingJob shows.
    job.training_job_status = status
    job.secondary_status = secondary
    if reason:
        job.failure_reason = reason
    job.creation_time = job.last_modified_time = created
    job.training_start_time = created + timedelta(minutes=4) if ran else None
    job.training_end_time = created + timedelta(minutes=30) if status != "InProgress" else None
    if transitions is None:
        transitions = [("Starting", "Preparing the instances for training"),
                       ("Downloading", "Downloading the training image"),
                       ("Training", "Training image download completed. Training in progress."),
                       (secondary, f"Training job {status.lower()}")] if ran else [
                       ("Starting", "Preparing the instances for training"),
                       (secondary, f"Training job {status.lower()}")]
    job.secondary_status_transitions = [
        {"Status": s, "StartTime": created + timedelta(minutes=i),
         "EndTime": created + timedelta(minutes=i + 1), "StatusMessage": m}
        for i, (s, m) in enumerate(transitions)
    ]
    job.environment = env or {}


def log_stream(session: boto3.Session, stream: str, lines: list[str],
               group: str = "/aws/sagemaker/TrainingJobs") -> None:
    """Log lines with realistic (recent) timestamps, one millisecond apart."""
    from moto.logs.models import logs_backends

    backend = logs_backends[ACCOUNT][REGION]
    if group not in backend.groups:
        backend.create_log_group(group, {})
    backend.create_log_stream(group, stream)
    now = int(datetime.now(UTC).timestamp() * 1000) - len(lines) - 1000
    for i in range(0, len(lines), 10_000):  # the backend directly: fast for big logs
        chunk = lines[i:i + 10_000]
        backend.put_log_events(group, stream, [
            {"timestamp": now + i + j, "message": m} for j, m in enumerate(chunk)])


def ecr_image(session: boto3.Session, repo: str = "trainer", tag: str = "latest",
              *, platforms: list[str] | None = None,
              pushed: datetime | None = None, layer: str = "a") -> str:
    """Push an image manifest (a single manifest, or a manifest list of `platforms`)."""
    from moto.ecr.models import ecr_backends

    ecr = session.client("ecr", region_name=REGION)
    with contextlib.suppress(ClientError):  # already created by an earlier push
        ecr.create_repository(repositoryName=repo)
    if platforms:
        manifest = {"schemaVersion": 2, "mediaType":
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                   "digest": "sha256:" + f"{i}" * 64, "size": 1000,
                                   "platform": {"os": p.split("/")[0],
                                                "architecture": p.split("/")[1]}}
                                  for i, p in enumerate(platforms)]}
    else:
        manifest = {"schemaVersion": 2,
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                               "size": 7000, "digest": "sha256:" + "c" * 64},
                    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                "size": 30_000_000, "digest": "sha256:" + layer * 64}]}
    resp = ecr.put_image(repositoryName=repo, imageManifest=json.dumps(manifest), imageTag=tag)
    digest = resp["image"]["imageId"]["imageDigest"]
    if pushed is not None:
        for img in ecr_backends[ACCOUNT][REGION].repositories[repo].images:
            if img.get_image_digest() == digest:
                img.image_pushed_at = int(pushed.timestamp())
    return digest


def deny(session: boto3.Session, operation: str, code: str = "AccessDeniedException") -> None:
    """Make every call of `operation` fail like an IAM deny (before it reaches moto)."""

    def handler(model: Any = None, **_: Any) -> None:
        if getattr(model, "name", None) == operation:
            raise ClientError({"Error": {"Code": code, "Message":
                f"User: arn:aws:sts::{ACCOUNT}:assumed-role/oncall/me is not authorized to "
                f"perform: {operation} because no identity-based policy allows it"}}, operation)

    session.events.register("before-call", handler)


# --- botocore Stubber: AWS's documented response shapes where moto has none --------------------


class StubbedAws:
    """An AwsContext whose clients answer from botocore `Stubber` queues.

    Stubber validates every queued response against botocore's service model, so a history
    served here has exactly the shape AWS documents (botocore/data/stepfunctions/2016-11-23/
    service-2.json: HistoryEvent and its *EventDetails members).
    """

    def __init__(self) -> None:
        from investigator.aws import open_context

        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                region_name=REGION)
        self.ctx = open_context(profile=None, region=REGION, deadline=None, session=session)
        self.stubs: dict[str, Any] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        session.events.register("before-parameter-build", self._record)

    def _record(self, model: Any = None, params: Any = None, **_: Any) -> None:
        self.requests.append((getattr(model, "name", "?"), dict(params or {})))

    def stub(self, service: str) -> Any:
        from botocore.stub import Stubber

        if service not in self.stubs:
            self.stubs[service] = Stubber(self.ctx.client(service))
            self.stubs[service].activate()
        return self.stubs[service]

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [p for name, p in self.requests if name == operation]

    def execution(self, arn: str, events: list[dict[str, Any]] | None, *, status: str = "FAILED",
                  page: int = 100, describe: dict[str, Any] | None = None) -> None:
        """Queue DescribeExecution, then GetExecutionHistory newest-first in pages of `page`.

        AWS may return fewer events than maxResults ("This is only an upper limit", botocore
        GetExecutionHistoryInput.maxResults), so fixed pages are a valid AWS answer.
        """
        sfn = self.stub("stepfunctions")
        sm_arn = arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
        desc = {"executionArn": arn, "stateMachineArn": sm_arn, "name": arn.rsplit(":", 1)[-1],
                "status": status, "startDate": T0, "input": "{}"}
        if status != "RUNNING":
            desc["stopDate"] = T0 + timedelta(hours=1)
        desc.update(describe or {})
        sfn.add_response("describe_execution", desc, {"executionArn": arn})
        if events is None:
            return
        newest = sorted(events, key=lambda e: e["id"], reverse=True)
        for i in range(0, max(len(newest), 1), page):
            resp: dict[str, Any] = {"events": newest[i:i + page]}
            if i + page < len(newest):
                resp["nextToken"] = f"token-{i + page}"
            sfn.add_response("get_execution_history", resp)

    def close(self) -> None:
        from investigator.aws import close_context

        close_context(self.ctx)


def execution_arn(name: str, machine: str = "training-pipeline") -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{name}"


@pytest.fixture(name="aws")
def stubbed_aws() -> Iterator[StubbedAws]:
    """`aws` as botocore Stubbers with AWS's documented responses (import it into a test
    module to use it there instead of conftest's moto session)."""
    stub = StubbedAws()
    yield stub
    stub.close()
