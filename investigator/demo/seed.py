"""Put realistic AWS state into moto's in-process backends.

moto cannot fail a training job, record a SageMaker task in an execution history, or keep log
events older than 14 days (PutLogEvents rejects them), so the demo writes its state straight
into moto's backend objects (same process: `mock_aws` or `ThreadedMotoServer`). The shapes
follow the AWS API references (API_HistoryEvent, API_DescribeTrainingJob, ImageDetail); where a
shape is not documented it is marked [unverified], as in docs/aws-behaviours.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecr.models import Image

from investigator.demo import moto_ext

REGION = "us-west-2"
ACCOUNT = DEFAULT_ACCOUNT_ID
TRAINING_GROUP = "/aws/sagemaker/TrainingJobs"
PROCESSING_GROUP = "/aws/sagemaker/ProcessingJobs"
SFN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/StepFunctions-MLPipelineRole"
SM_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-20240611T1422"


def utc(text: str) -> datetime:
    """'2025-06-25T18:30:31' → aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def naive(t: datetime) -> datetime:
    """moto's logs backend does arithmetic on naive UTC datetimes."""
    return t.astimezone(UTC).replace(tzinfo=None)


def epoch_ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _jsonable(value: Any) -> Any:
    """DescribeTrainingJob as Step Functions embeds it: timestamps as epoch millis [unverified]."""
    if isinstance(value, datetime):
        return epoch_ms(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


# --------------------------------------------------------------------------- backends


def _backends(account: str, region: str) -> tuple[Any, Any, Any, Any]:
    from moto.ecr.models import ecr_backends
    from moto.logs.models import logs_backends
    from moto.sagemaker.models import sagemaker_backends
    from moto.stepfunctions.models import stepfunctions_backends

    return (stepfunctions_backends[account][region], sagemaker_backends[account][region],
            logs_backends[account][region], ecr_backends[account][region])


@dataclass
class World:
    """The moto backends of one account and region, plus helpers to seed them."""

    account: str = ACCOUNT
    region: str = REGION

    def __post_init__(self) -> None:
        moto_ext.install()
        self.sfn, self.sagemaker, self.logs, self.ecr = _backends(self.account, self.region)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def registry(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com"


# --------------------------------------------------------------------------- Step Functions


class History:
    """Builds an execution history in API_HistoryEvent shape, oldest first.

    `add` stamps each event with the next id and a clock that moves forward by `after` seconds;
    `prev` defaults to the event just added (the causal chain Step Functions records).
    """

    def __init__(self, start: datetime) -> None:
        self.events: list[dict[str, Any]] = []
        self.t = start

    @property
    def last(self) -> int:
        return len(self.events)

    def add(self, etype: str, details: dict[str, Any] | None = None, *, key: str | None = None,
            prev: int | None = None, after: float = 0.0) -> int:
        self.t += timedelta(seconds=after)
        event: dict[str, Any] = {
            "timestamp": self.t, "type": etype, "id": len(self.events) + 1,
            "previousEventId": self.last if prev is None else prev,
        }
        if details is not None:
            event[key or _details_key(etype)] = details
        self.events.append(event)
        return event["id"]

    # -- execution
    def started(self, payload: dict[str, Any], role: str = SFN_ROLE) -> int:
        return self.add("ExecutionStarted", {
            "input": json.dumps(payload), "inputDetails": {"truncated": False}, "roleArn": role})

    def execution_failed(self, error: str, cause: str, after: float = 0.1) -> int:
        return self.add("ExecutionFailed", {"error": error, "cause": cause}, after=after)

    def execution_succeeded(self, output: dict[str, Any], after: float = 0.1) -> int:
        return self.add("ExecutionSucceeded", {
            "output": json.dumps(output), "outputDetails": {"truncated": False}}, after=after)

    # -- states
    def entered(self, kind: str, name: str, payload: Any, *, prev: int | None = None,
                after: float = 0.05) -> int:
        return self.add(f"{kind}StateEntered", {
            "name": name, "input": json.dumps(payload), "inputDetails": {"truncated": False}},
            key="stateEnteredEventDetails", prev=prev, after=after)

    def exited(self, kind: str, name: str, payload: Any, *, prev: int | None = None,
               after: float = 0.05) -> int:
        return self.add(f"{kind}StateExited", {
            "name": name, "output": json.dumps(payload), "outputDetails": {"truncated": False}},
            key="stateExitedEventDetails", prev=prev, after=after)

    # -- tasks (resourceType/resource as the service integration records them)
    def scheduled(self, rtype: str, resource: str, params: dict[str, Any], *,
                  region: str = REGION, prev: int | None = None, after: float = 0.02,
                  timeout: int | None = None) -> int:
        details: dict[str, Any] = {"resourceType": rtype, "resource": resource,
                                   "region": region, "parameters": json.dumps(params)}
        if timeout:
            details["timeoutInSeconds"] = timeout
        return self.add("TaskScheduled", details, prev=prev, after=after)

    def task(self, etype: str, rtype: str, resource: str, *, prev: int | None = None,
             after: float = 0.05, **extra: Any) -> int:
        return self.add(etype, {"resourceType": rtype, "resource": resource, **extra},
                        prev=prev, after=after)

    def map_started(self, length: int, prev: int | None = None) -> int:
        return self.add("MapStateStarted", {"length": length}, prev=prev, after=0.02)

    def iteration(self, etype: str, name: str, index: int, *, prev: int | None = None,
                  after: float = 0.02) -> int:
        return self.add(etype, {"name": name, "index": index}, prev=prev, after=after)


_DETAIL_KEYS = {
    "ExecutionStarted": "executionStartedEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionSucceeded": "executionSucceededEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "TaskScheduled": "taskScheduledEventDetails",
    "TaskStarted": "taskStartedEventDetails",
    "TaskSubmitted": "taskSubmittedEventDetails",
    "TaskSucceeded": "taskSucceededEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "MapStateStarted": "mapStateStartedEventDetails",
    "MapIterationStarted": "mapIterationStartedEventDetails",
    "MapIterationSucceeded": "mapIterationSucceededEventDetails",
    "MapIterationFailed": "mapIterationFailedEventDetails",
    "MapIterationAborted": "mapIterationAbortedEventDetails",
}


def _details_key(etype: str) -> str:
    return _DETAIL_KEYS[etype]


def put_state_machine(world: World, name: str, definition: dict[str, Any], *,
                      created: datetime, role: str = SFN_ROLE) -> Any:
    """A state machine with a real ASL definition (what DescribeStateMachine returns)."""
    sm = world.sfn.create_state_machine(name=name, definition=json.dumps(definition, indent=2),
                                        roleArn=role)
    sm.creation_date = created
    return sm


def put_execution(world: World, state_machine: Any, name: str, history: History, *,
                  status: str, payload: dict[str, Any], output: dict[str, Any] | None = None,
                  error: str | None = None, cause: str | None = None) -> str:
    """An execution whose history and description are the seeded ones (moto gap 1)."""
    from moto.stepfunctions.models import Execution

    execution = Execution(
        region_name=world.region, account_id=world.account,
        state_machine_name=state_machine.name, execution_name=name,
        state_machine_arn=state_machine.arn, execution_input=json.dumps(payload),
    )
    execution.start_date = history.events[0]["timestamp"]
    execution.stop_date = history.events[-1]["timestamp"] if status != "RUNNING" else None
    execution.status = status
    execution.error, execution.cause = error, cause
    execution.output = json.dumps(output) if output is not None else None
    execution.demo_history = history.events  # type: ignore[attr-defined]
    state_machine.executions.append(execution)
    return execution.execution_arn


def sdk_metadata(request_id: str) -> dict[str, Any]:
    """The SDK envelope Step Functions keeps in a TaskSubmitted output [unverified details]."""
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {"Content-Type": ["application/x-amz-json-1.1"],
                               "x-amzn-RequestId": [request_id]},
            "HttpHeaders": {"Content-Type": "application/x-amz-json-1.1",
                            "x-amzn-RequestId": request_id},
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }


def request_id(seed: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


# --------------------------------------------------------------------------- SageMaker


@dataclass
class Job:
    """One SageMaker training or processing job as it ended."""

    name: str
    image: str
    instance_type: str
    created: datetime
    status: str  # Completed | Failed | Stopped
    secondary: str  # training only: DescribeProcessingJob has no secondary status
    # (status, seconds after created, message); training only, like the API
    transitions: list[tuple[str, float, str]]
    ended_after: float  # seconds after created
    kind: str = "training"
    instance_count: int = 1
    volume_gb: int = 100
    hyperparameters: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)  # channel → S3 URI
    output_path: str = ""
    failure_reason: str | None = None
    exit_message: str | None = None
    max_runtime: int = 86_400
    environment: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] | None = None
    arguments: list[str] | None = None
    started_after: float | None = None  # None: never started (no TrainingStartTime)
    spot: bool = False
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return TRAINING_GROUP if self.kind == "training" else PROCESSING_GROUP

    def at(self, seconds: float) -> datetime:
        return self.created + timedelta(seconds=seconds)

    @property
    def started(self) -> datetime | None:
        return None if self.started_after is None else self.at(self.started_after)

    @property
    def ended(self) -> datetime:
        return self.at(self.ended_after)


def _transitions(job: Job) -> list[dict[str, Any]]:
    out = []
    for i, (status, offset, message) in enumerate(job.transitions):
        entry: dict[str, Any] = {"Status": status, "StartTime": job.at(offset),
                                 "StatusMessage": message}
        if i + 1 < len(job.transitions):
            entry["EndTime"] = job.at(job.transitions[i + 1][1])
        elif job.status in ("Completed", "Failed", "Stopped"):
            entry["EndTime"] = job.ended
        out.append(entry)
    return out


def _channels(job: Job) -> list[dict[str, Any]]:
    return [{
        "ChannelName": name,
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                        "S3DataDistributionType": "FullyReplicated"}},
        "CompressionType": "None", "RecordWrapperType": "None",
    } for name, uri in job.channels.items()]


def training_request(job: Job, role: str = SM_ROLE) -> dict[str, Any]:
    """CreateTrainingJob parameters, as a TaskScheduled event records them."""
    algo: dict[str, Any] = {"TrainingImage": job.image, "TrainingInputMode": "File"}
    if job.entrypoint:
        algo["ContainerEntrypoint"] = job.entrypoint
    if job.arguments:
        algo["ContainerArguments"] = job.arguments
    req: dict[str, Any] = {
        "TrainingJobName": job.name,
        "AlgorithmSpecification": algo,
        "RoleArn": role,
        "HyperParameters": job.hyperparameters,
        "InputDataConfig": _channels(job),
        "OutputDataConfig": {"S3OutputPath": job.output_path},
        "ResourceConfig": {"InstanceCount": job.instance_count,
                           "InstanceType": job.instance_type,
                           "VolumeSizeInGB": job.volume_gb},
        "StoppingCondition": {"MaxRuntimeInSeconds": job.max_runtime},
    }
    if job.environment:
        req["Environment"] = job.environment
    if job.tags:
        req["Tags"] = [{"Key": k, "Value": v} for k, v in job.tags.items()]
    return req


def processing_request(job: Job, role: str = SM_ROLE) -> dict[str, Any]:
    """CreateProcessingJob parameters, as a TaskScheduled event records them."""
    app: dict[str, Any] = {"ImageUri": job.image}
    if job.entrypoint:
        app["ContainerEntrypoint"] = job.entrypoint
    if job.arguments:
        app["ContainerArguments"] = job.arguments
    req: dict[str, Any] = {
        "ProcessingJobName": job.name,
        "AppSpecification": app,
        "RoleArn": role,
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": job.instance_count, "InstanceType": job.instance_type,
            "VolumeSizeInGB": job.volume_gb}},
        "ProcessingInputs": [{
            "InputName": name, "AppManaged": False,
            "S3Input": {"S3Uri": uri, "LocalPath": f"/opt/ml/processing/input/{name}",
                        "S3DataType": "S3Prefix", "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated"},
        } for name, uri in job.channels.items()],
        "ProcessingOutputConfig": {"Outputs": [{
            "OutputName": "output", "AppManaged": False,
            "S3Output": {"S3Uri": job.output_path, "LocalPath": "/opt/ml/processing/output",
                         "S3UploadMode": "EndOfJob"},
        }]},
        "StoppingCondition": {"MaxRuntimeInSeconds": job.max_runtime},
    }
    if job.environment:
        req["Environment"] = job.environment
    return req


def put_job(world: World, job: Job) -> Any:
    """Insert the job into moto's SageMaker backend in its final state, with its host metrics."""
    fake = _put_training(world, job) if job.kind == "training" else _put_processing(world, job)
    put_job_metrics(world, job)
    return fake


# Utilisation of a healthy run: (metric, at start, at end) in percent, straight lines between.
METRIC_PROFILE = (("CPUUtilization", 35.0, 82.0), ("MemoryUtilization", 18.0, 46.0),
                  ("GPUUtilization", 0.0, 93.0), ("GPUMemoryUtilization", 0.0, 71.0),
                  ("DiskUtilization", 12.0, 24.0))
METRIC_POINTS = 60  # per series: enough for a sparkline, cheap for moto's linear scans


def put_job_metrics(world: World, job: Job,
                    profile: Sequence[tuple[str, float, float]] = METRIC_PROFILE) -> None:
    """Per-host instance metrics as SageMaker publishes them (namespace per job kind, dimension
    Host = "<job>/algo-N"); none for a job that never started its hosts."""
    from moto.cloudwatch.models import cloudwatch_backends

    if job.started is None:
        return
    namespace = "/aws/sagemaker/" + ("TrainingJobs" if job.kind == "training" else
                                     "ProcessingJobs")
    step = max(60.0, (job.ended - job.started).total_seconds() / METRIC_POINTS)
    count = int((job.ended - job.started).total_seconds() // step) + 1
    # moto compares these with the request's times as naive UTC
    data = [{"MetricName": name, "Unit": "Percent", "Timestamp": naive(job.started +
             timedelta(seconds=k * step)), "Value": round(a + (b - a) * k / max(count - 1, 1), 1),
             "Dimensions": [{"Name": "Host", "Value": f"{job.name}/algo-{host}"}]}
            for host in range(1, job.instance_count + 1) for name, a, b in profile
            for k in range(count)]
    cloudwatch_backends[world.account][world.region].put_metric_data(namespace, data)


def _put_training(world: World, job: Job) -> Any:
    from moto.sagemaker.models import FakeTrainingJob

    req = training_request(job)
    fake = FakeTrainingJob(
        account_id=world.account, region_name=world.region, training_job_name=job.name,
        hyper_parameters=req["HyperParameters"],
        algorithm_specification=req["AlgorithmSpecification"], role_arn=req["RoleArn"],
        input_data_config=req["InputDataConfig"], output_data_config=req["OutputDataConfig"],
        resource_config=req["ResourceConfig"], vpc_config=None,  # type: ignore[arg-type]
        stopping_condition=req["StoppingCondition"], tags=req.get("Tags", []),
        enable_network_isolation=False, enable_inter_container_traffic_encryption=False,
        enable_managed_spot_training=job.spot, checkpoint_config=None,  # type: ignore[arg-type]
        debug_hook_config=None, debug_rule_configurations=None,  # type: ignore[arg-type]
        tensor_board_output_config=None, experiment_config=None,  # type: ignore[arg-type]
    )
    # moto fills a Completed job with a fake "test:dcg" metric and now-timestamps; replace all.
    fake.algorithm_specification.pop("MetricDefinitions", None)
    fake.final_metric_data_list = None
    fake.creation_time = job.created
    fake.last_modified_time = job.ended
    fake.training_start_time = job.started
    fake.training_end_time = job.ended if job.started else None
    fake.training_job_status = job.status
    fake.secondary_status = job.secondary
    fake.secondary_status_transitions = _transitions(job)
    fake.failure_reason = job.failure_reason
    fake.environment = job.environment or None
    if job.started:
        runtime = int((job.ended - job.started).total_seconds())
        fake.training_time_in_seconds = runtime
        fake.billable_time_in_seconds = runtime * job.instance_count
    if job.status != "Completed":
        fake.model_artifacts = None
    fake.tags = req.get("Tags", [])
    world.sagemaker.training_jobs[job.name] = fake
    return fake


def _put_processing(world: World, job: Job) -> Any:
    from moto.sagemaker.models import FakeProcessingJob

    req = processing_request(job)
    fake = FakeProcessingJob(
        app_specification=req["AppSpecification"], experiment_config=None,  # type: ignore[arg-type]
        network_config=None, processing_inputs=req["ProcessingInputs"],  # type: ignore[arg-type]
        processing_job_name=job.name, processing_output_config=req["ProcessingOutputConfig"],
        account_id=world.account, region_name=world.region, role_arn=req["RoleArn"],
        tags=[], stopping_condition=req["StoppingCondition"],
    )
    fake.processing_resources = req["ProcessingResources"]
    fake.environment = job.environment or None
    fake.creation_time = job.created
    fake.last_modified_time = job.ended
    fake.processing_start_time = job.started
    fake.processing_end_time = job.ended
    fake.processing_job_status = job.status
    fake.failure_reason = job.failure_reason
    fake.exit_message = job.exit_message
    world.sagemaker.processing_jobs[job.name] = fake
    return fake


def describe_json(world: World, job: Job) -> dict[str, Any]:
    """DescribeTrainingJob/DescribeProcessingJob as moto serves it, JSON-ready."""
    if job.kind == "training":
        body = world.sagemaker.describe_training_job(job.name)
    else:
        body = world.sagemaker.describe_processing_job(job.name)
    return _jsonable({k: v for k, v in body.items() if v is not None})


def sync_cause(world: World, job: Job) -> str:
    """The TaskFailed cause of a failed `.sync` job: the DescribeTrainingJob JSON.

    [unverified] (docs/aws-behaviours.md, "Step Functions history and limits"): AWS does not
    document the cause of a failed createTrainingJob.sync task; we believe it is the job
    description serialised as JSON (epoch-millis timestamps).
    """
    return json.dumps(describe_json(world, job), separators=(",", ":"))


def submitted_output(world: World, job: Job) -> str:
    key = "TrainingJobArn" if job.kind == "training" else "ProcessingJobArn"
    kind = "training-job" if job.kind == "training" else "processing-job"
    body = {key: world.arn("sagemaker", f"{kind}/{job.name.lower()}"),
            **sdk_metadata(request_id(job.name))}
    return json.dumps(body, separators=(",", ":"))


def _resource(job: Job) -> str:
    verb = "createTrainingJob" if job.kind == "training" else "createProcessingJob"
    return f"{verb}.sync"


def sagemaker_submit(h: History, world: World, job: Job, *, prev: int | None = None) -> int:
    """TaskScheduled → TaskStarted → TaskSubmitted of a `.sync` job, at the job's creation."""
    resource = _resource(job)
    req = training_request(job) if job.kind == "training" else processing_request(job)
    h.t = max(h.t, job.created - timedelta(seconds=0.4))
    h.scheduled("sagemaker", resource, req, prev=prev)
    h.task("TaskStarted", "sagemaker", resource, after=0.1)
    return h.task("TaskSubmitted", "sagemaker", resource, after=0.3,
                  output=submitted_output(world, job), outputDetails={"truncated": False})


def sagemaker_finish(h: History, world: World, job: Job, *, prev: int | None = None,
                     error: str = "States.TaskFailed") -> int:
    """TaskSucceeded or TaskFailed once the `.sync` poller sees the job end (~20 s later)."""
    resource = _resource(job)
    h.t = max(h.t, job.ended + timedelta(seconds=20))
    if job.status == "Completed":
        return h.task("TaskSucceeded", "sagemaker", resource, prev=prev, after=0,
                      output=json.dumps(describe_json(world, job), separators=(",", ":")),
                      outputDetails={"truncated": False})
    return h.task("TaskFailed", "sagemaker", resource, prev=prev, after=0, error=error,
                  cause=sync_cause(world, job))


def sagemaker_task(h: History, world: World, job: Job, *, prev: int | None = None) -> int:
    """A whole `.sync` SageMaker task; returns the id of its TaskSucceeded/TaskFailed."""
    sagemaker_submit(h, world, job, prev=prev)
    return sagemaker_finish(h, world, job)


# --------------------------------------------------------------------------- CloudWatch Logs


def render_log(script: str, start: datetime) -> list[tuple[int, str]]:
    """Turn a log script into (epoch-ms, message) events.

    A line starting `@+S ` advances the clock S seconds (float) before it; other lines follow
    1 ms apart, as one burst (a traceback) arrives. `{t}` becomes the sagemaker-training-toolkit
    time format, `{iso}` ISO 8601 Z, `{tf}` absl/TensorFlow's, `{date}` `YYYY-MM-DD HH:MM:SS`.
    """
    events: list[tuple[int, str]] = []
    clock = start
    for raw in script.strip("\n").split("\n"):
        line = raw
        if line.startswith("@+"):
            step, _, line = line[2:].partition(" ")
            clock += timedelta(seconds=float(step))
        else:
            clock += timedelta(milliseconds=1)
        line = (line.replace("{t}", clock.strftime("%Y-%m-%d %H:%M:%S,") + f"{clock:%f}"[:3])
                .replace("{iso}", clock.strftime("%Y-%m-%dT%H:%M:%SZ"))
                .replace("{tf}", clock.strftime("%Y-%m-%d %H:%M:%S.%f"))
                .replace("{date}", clock.strftime("%Y-%m-%d %H:%M:%S")))
        events.append((epoch_ms(clock), line))
    return events


def ensure_group(world: World, group: str) -> Any:
    if group not in world.logs.groups:
        world.logs.create_log_group(group, {})
        world.logs.groups[group].creation_time = naive(utc("2024-03-02T10:11:12"))
    return world.logs.groups[group]


def stream_name(job: Job, host: int, start: datetime) -> str:
    """`<job>/algo-<N>-<epoch seconds>` (logging-cloudwatch; processing uses the hostname)."""
    return f"{job.name}/algo-{host}-{int(start.timestamp())}"


def put_stream(world: World, group: str, name: str, events: Sequence[tuple[int, str]]) -> None:
    """Write events straight into moto (bypasses PutLogEvents' 14-day window)."""
    from moto.logs.models import LogEvent

    log_group = ensure_group(world, group)
    log_group.create_log_stream(name)
    stream = log_group.streams[name]
    if events:
        stream.creation_time = naive(datetime.fromtimestamp(events[0][0] / 1000, UTC))
    for ts, message in events:
        stream.events.append(LogEvent(ts + 900, {"timestamp": ts, "message": message}))
    stream.stored_bytes = sum(len(m.encode()) for _, m in events)
    if events:
        stream.last_ingestion_time = naive(datetime.fromtimestamp(
            (events[-1][0] + 900) / 1000, UTC))
        stream.upload_sequence_token = 1


def put_job_logs(world: World, job: Job, hosts: Iterable[str], *,
                 log_start: datetime | None = None) -> list[str]:
    """One stream per host (`algo-1`, `algo-2`, ...), each from its own log script."""
    start = log_start or job.started or job.created
    names = []
    for host, script in enumerate(hosts, 1):
        name = stream_name(job, host, start)
        put_stream(world, job.group, name, render_log(script, start))
        names.append(name)
    return names


def put_synthetic_stream(world: World, job: Job, host: int, *, head: str, tail: str,
                         filler: Callable[[int], str], total_bytes: int, end: datetime) -> str:
    """A stream of ~total_bytes whose middle is synthesised on demand (moto gap 3).

    `head` and `tail` are log scripts (the container start and the failure); `filler(k)` makes
    the k-th line in between. Timestamps spread evenly from the job start to `end`.
    """
    start = job.started or job.created
    head_events = [m for _, m in render_log(head, start)]
    tail_events = [m for _, m in render_log(tail, end)]
    sample = [len(filler(k).encode()) for k in range(0, 50_000, 97)]
    per_line = sum(sample) / len(sample)
    count = max(0, int(total_bytes / per_line))
    total = len(head_events) + count + len(tail_events)
    step_ms = max(1.0, (epoch_ms(end) - epoch_ms(start)) / max(total - 1, 1))
    name = stream_name(job, host, start)
    group = ensure_group(world, job.group)
    group.streams[name] = moto_ext.SyntheticLogStream(
        group, name, head=head_events, tail=tail_events, filler=filler, filler_count=count,
        start_ms=epoch_ms(start), step_ms=step_ms, stored_bytes=int(count * per_line))
    return name


def deny_job_logs(world: World, job: Job, principal: str) -> None:
    """Inject an AccessDenied on this job's log streams (moto gap 4: IAM is not enforced)."""
    ensure_group(world, job.group)
    moto_ext.deny_logs(world.logs, moto_ext.DenyRule(job.group, f"{job.name}/", principal))


# --------------------------------------------------------------------------- ECR


@dataclass(frozen=True)
class Layer:
    size: int
    seed: str

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.seed.encode()).hexdigest()


def image_config(*, created: datetime, entrypoint: Sequence[str] | None = None,
                 cmd: Sequence[str] | None = None, env: dict[str, str] | None = None,
                 labels: dict[str, str] | None = None, workdir: str = "/opt/ml/code",
                 architecture: str = "amd64") -> bytes:
    """An OCI/Docker image config blob (what `docker inspect` shows as Config)."""
    body = {
        "architecture": architecture, "os": "linux", "created": created.isoformat(),
        "config": {
            "Env": [f"{k}={v}" for k, v in {
                "PATH": "/opt/conda/bin:/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/local/"
                        "sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                **(env or {})}.items()],
            "Entrypoint": list(entrypoint) if entrypoint else None,
            "Cmd": list(cmd) if cmd else None,
            "WorkingDir": workdir,
            "Labels": labels or {},
        },
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def manifest(config: bytes, layers: Sequence[Layer]) -> str:
    """A Docker image manifest v2 schema 2 (what BatchGetImage returns)."""
    body = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": len(config), "digest": blob_digest(config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": layer.size, "digest": layer.digest} for layer in layers],
    }
    return json.dumps(body, indent=3)


def blob_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def ensure_repository(world: World, name: str, created: datetime) -> Any:
    if name not in world.ecr.repositories:
        repo = world.ecr.create_repository(
            repository_name=name, registry_id=None, encryption_config={"encryptionType": "AES256"},
            image_scan_config={"scanOnPush": False}, image_tag_mutability="MUTABLE", tags=[])
        repo.created_at = created
    return world.ecr.repositories[name]


def put_image(world: World, repo: str, tags: Sequence[str], pushed: datetime,
              layers: Sequence[Layer], config: bytes) -> str:
    """Push an image: manifest digest = sha256 of the manifest, as a registry computes it.

    A tag already on another image moves to this one (ECR MUTABLE repositories do that).
    The config blob is kept for GetDownloadUrlForLayer (moto gap 5). Returns the digest.
    """
    repository = ensure_repository(world, repo, pushed - timedelta(days=40))
    blobs = getattr(world.ecr, "demo_blobs", None)
    if blobs is None:
        blobs = world.ecr.demo_blobs = {}
    blobs[blob_digest(config)] = config
    body = manifest(config, layers)
    digest = "sha256:" + hashlib.sha256(body.encode()).hexdigest()
    for tag in tags:
        for other in repository.images:
            other.remove_tag(tag)
            if not other.image_tags:
                other.image_tag = None
    image = _SizedImage(world.account, tags[0] if tags else None, body, repo,
                        "application/vnd.docker.distribution.manifest.v2+json", digest)
    image.image_tags = list(tags)
    image.image_pushed_at = int(pushed.timestamp())
    image.total_size = sum(layer.size for layer in layers)
    repository.images.append(image)
    return digest


class _SizedImage(Image):
    """imageSizeInBytes is the sum of the compressed layers (ImageDetail); moto reports the
    config blob's size instead."""

    total_size = 0

    def get_image_size_in_bytes(self) -> int | None:
        return self.total_size
