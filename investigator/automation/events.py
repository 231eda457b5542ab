"""Typed EventBridge events the Lambda reacts to, and what each one asks for.

`parse_event(raw)` never raises: an event is a `Failure` to investigate, a `SweepRequest`
(the schedule), or `Ignored` with a one-line reason. Malformed or unrelated events are
acknowledged, not retried: retrying cannot make them valid.

Shapes follow the AWS documentation examples (docs/aws-behaviours.md, "EventBridge events"):
- "Step Functions Execution Status Change" (source aws.states): `detail` mirrors
  DescribeExecution with camelCase keys and *numeric* epoch-ms dates; error/cause/redrive
  fields are newer and optional.
- "SageMaker Training Job State Change" (source aws.sagemaker): `detail` mirrors
  DescribeTrainingJob in PascalCase, and the times are *strings* of epoch ms.
- "SageMaker Processing Job State Change" (source aws.sagemaker): `detail` mirrors
  DescribeProcessingJob; the documented example has *numeric* epoch-ms times
  (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html).
- "Scheduled Event" (source aws.events): the sweep.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import re2
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from investigator.models import Target
from investigator.taxonomy import SFN_FAILED_STATUSES

SFN_DETAIL_TYPE = "Step Functions Execution Status Change"
SAGEMAKER_TRAINING_DETAIL_TYPE = "SageMaker Training Job State Change"
SAGEMAKER_PROCESSING_DETAIL_TYPE = "SageMaker Processing Job State Change"
SCHEDULED_DETAIL_TYPE = "Scheduled Event"

# A job that hit its MaxRuntimeInSeconds (or, for managed spot, MaxWaitTimeInSeconds) ends
# *Stopped*, not Failed; a Stopped job with SecondaryStatus "Stopped" was stopped on purpose.
TRAINING_TIMEOUT_SECONDARY = frozenset({"MaxRuntimeExceeded", "MaxWaitTimeExceeded"})

_UNSAFE_NAME_CHAR = re2.compile(r"[^A-Za-z0-9._-]")


def _epoch_ms(value: Any) -> Any:
    """Epoch milliseconds as a number (Step Functions) or a digit string (SageMaker)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{value!r} is not a time in epoch milliseconds") from None
    return value  # ISO 8601 strings (some SageMaker events) are parsed by pydantic


EpochMs = Annotated[datetime, BeforeValidator(_epoch_ms)]


class _Lenient(BaseModel):
    """AWS adds fields over time; unknown ones must not make a valid event malformed."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Envelope(_Lenient):
    version: str | None = None
    id: str | None = None
    detail_type: str = Field(alias="detail-type")
    source: str
    account: str | None = None
    time: datetime | None = None
    region: str | None = None
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)


class SfnExecutionDetail(_Lenient):
    execution_arn: str = Field(alias="executionArn", min_length=1)
    state_machine_arn: str = Field(alias="stateMachineArn", min_length=1)
    name: str = Field(min_length=1)
    status: str
    start_date: EpochMs | None = Field(default=None, alias="startDate")
    stop_date: EpochMs | None = Field(default=None, alias="stopDate")
    error: str | None = None
    cause: str | None = None
    redrive_count: int = Field(default=0, alias="redriveCount", ge=0)


class _ResourceConfig(_Lenient):
    instance_type: str | None = Field(default=None, alias="InstanceType")
    instance_count: int | None = Field(default=None, alias="InstanceCount")


class _AlgorithmSpecification(_Lenient):
    training_image: str | None = Field(default=None, alias="TrainingImage")


class TrainingJobDetail(_Lenient):
    name: str = Field(alias="TrainingJobName", min_length=1)
    arn: str | None = Field(default=None, alias="TrainingJobArn")
    status: str = Field(alias="TrainingJobStatus")
    secondary_status: str | None = Field(default=None, alias="SecondaryStatus")
    failure_reason: str | None = Field(default=None, alias="FailureReason")
    resource_config: _ResourceConfig | None = Field(default=None, alias="ResourceConfig")
    algorithm: _AlgorithmSpecification | None = Field(default=None, alias="AlgorithmSpecification")
    creation_time: EpochMs | None = Field(default=None, alias="CreationTime")
    training_start_time: EpochMs | None = Field(default=None, alias="TrainingStartTime")
    training_end_time: EpochMs | None = Field(default=None, alias="TrainingEndTime")
    last_modified_time: EpochMs | None = Field(default=None, alias="LastModifiedTime")


class _ProcessingResources(_Lenient):
    cluster: _ResourceConfig | None = Field(default=None, alias="ClusterConfig")


class _AppSpecification(_Lenient):
    image_uri: str | None = Field(default=None, alias="ImageUri")


class ProcessingJobDetail(_Lenient):
    """DescribeProcessingJob's shape (also ListProcessingJobs' summaries)."""

    name: str = Field(alias="ProcessingJobName", min_length=1)
    arn: str | None = Field(default=None, alias="ProcessingJobArn")
    status: str = Field(alias="ProcessingJobStatus")
    failure_reason: str | None = Field(default=None, alias="FailureReason")
    exit_message: str | None = Field(default=None, alias="ExitMessage")
    resources: _ProcessingResources | None = Field(default=None, alias="ProcessingResources")
    app: _AppSpecification | None = Field(default=None, alias="AppSpecification")
    creation_time: EpochMs | None = Field(default=None, alias="CreationTime")
    end_time: EpochMs | None = Field(default=None, alias="ProcessingEndTime")
    last_modified_time: EpochMs | None = Field(default=None, alias="LastModifiedTime")


class Failure(BaseModel):
    """A failed execution or job to investigate exactly once."""

    model_config = ConfigDict(frozen=True)

    key: str  # idempotency identity: the same failure always gives the same key
    target: Target
    report_name: str  # safe file stem for the report objects
    failed_at: datetime  # decides the reports/<yyyy>/<mm>/<dd>/ folder
    state_machine_arn: str | None = None
    event_id: str | None = None
    # Facts the event itself states; they fill in what collection could not read in time.
    facts: dict[str, Any] = Field(default_factory=dict)


class SweepRequest(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: Literal["sweep"] = "sweep"
    event_id: str | None = None
    time: datetime | None = None


class Ignored(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: Literal["ignored"] = "ignored"
    reason: str
    event_id: str | None = None
    detail_type: str | None = None


Parsed = Failure | SweepRequest | Ignored


def safe_name(name: str) -> str:
    """A file stem made of [A-Za-z0-9._-]; a short hash keeps rewritten names distinct."""
    cleaned = _UNSAFE_NAME_CHAR.sub("_", name)[:150].strip("._") or "unnamed"
    if cleaned == name:
        return cleaned
    return f"{cleaned}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"]) or "(event)"
    return f"{loc}: {err['msg']}"


def execution_failure(
    detail: SfnExecutionDetail, *, region: str | None, event_id: str | None, seen_at: datetime
) -> Failure:
    """The Failure for a failed execution (shared by the event path and the sweep)."""
    sm_name = detail.state_machine_arn.rsplit(":", 1)[-1]
    redrive = f"#redrive-{detail.redrive_count}" if detail.redrive_count else ""
    stem = f"{sm_name}.{detail.name}" + (f".redrive-{detail.redrive_count}" if redrive else "")
    facts: dict[str, Any] = {
        "sfn.execution_arn": detail.execution_arn,
        "sfn.state_machine_arn": detail.state_machine_arn,
        "sfn.status": detail.status,
    }
    if detail.error:
        facts["sfn.error"] = detail.error
    if detail.cause:
        facts["sfn.cause"] = detail.cause
    return Failure(
        # A redriven execution keeps its ARN; each failed redrive is a new failure to report.
        key=f"execution:{detail.execution_arn}{redrive}",
        target=Target(kind="execution", name=detail.execution_arn, region=region),
        report_name=safe_name(stem),
        failed_at=detail.stop_date or seen_at,
        state_machine_arn=detail.state_machine_arn,
        event_id=event_id,
        facts=facts,
    )


def training_job_failure(
    detail: TrainingJobDetail, *, region: str | None, event_id: str | None, seen_at: datetime
) -> Failure:
    facts: dict[str, Any] = {
        "sagemaker.job_name": detail.name,
        "sagemaker.job_kind": "training",
        "sagemaker.status": detail.status,
    }
    optional = {
        "sagemaker.job_arn": detail.arn,
        "sagemaker.secondary_status": detail.secondary_status,
        "sagemaker.failure_reason": detail.failure_reason,
        "sagemaker.instance_type": detail.resource_config and detail.resource_config.instance_type,
        "sagemaker.instance_count": detail.resource_config
        and detail.resource_config.instance_count,
        "sagemaker.image": detail.algorithm and detail.algorithm.training_image,
    }
    facts.update({k: v for k, v in optional.items() if v is not None})
    return Failure(
        key=f"job:training:{detail.name}",
        target=Target(kind="job", name=detail.name, job_kind="training", region=region),
        report_name=safe_name(detail.name),
        failed_at=detail.training_end_time or detail.last_modified_time or seen_at,
        event_id=event_id,
        facts=facts,
    )


def processing_job_failure(
    detail: ProcessingJobDetail, *, region: str | None, event_id: str | None, seen_at: datetime
) -> Failure:
    cluster = detail.resources.cluster if detail.resources else None
    facts: dict[str, Any] = {
        "sagemaker.job_name": detail.name,
        "sagemaker.job_kind": "processing",
        "sagemaker.status": detail.status,
    }
    optional = {
        "sagemaker.job_arn": detail.arn,
        "sagemaker.failure_reason": detail.failure_reason,
        "sagemaker.exit_message": detail.exit_message,
        "sagemaker.instance_type": cluster and cluster.instance_type,
        "sagemaker.instance_count": cluster and cluster.instance_count,
        "sagemaker.image": detail.app and detail.app.image_uri,
    }
    facts.update({k: v for k, v in optional.items() if v is not None})
    return Failure(
        key=f"job:processing:{detail.name}",
        target=Target(kind="job", name=detail.name, job_kind="processing", region=region),
        report_name=safe_name(detail.name),
        failed_at=detail.end_time or detail.last_modified_time or seen_at,
        event_id=event_id,
        facts=facts,
    )


def _parse_processing(env: Envelope, seen_at: datetime) -> Parsed:
    try:
        detail = ProcessingJobDetail.model_validate(env.detail)
    except ValidationError as exc:
        return Ignored(reason=f"malformed processing job event: {_first_error(exc)}",
                       event_id=env.id, detail_type=env.detail_type)
    # Processing jobs have no SecondaryStatus: only Failed says the job itself failed.
    if detail.status != "Failed":
        return Ignored(reason=f"processing job status {detail.status} is not a failure",
                       event_id=env.id, detail_type=env.detail_type)
    return processing_job_failure(detail, region=env.region, event_id=env.id,
                                  seen_at=env.time or seen_at)


def _parse_sfn(env: Envelope, seen_at: datetime) -> Parsed:
    try:
        detail = SfnExecutionDetail.model_validate(env.detail)
    except ValidationError as exc:
        return Ignored(reason=f"malformed execution event: {_first_error(exc)}",
                       event_id=env.id, detail_type=env.detail_type)
    if detail.status not in SFN_FAILED_STATUSES:
        return Ignored(reason=f"execution status {detail.status} is not a failure",
                       event_id=env.id, detail_type=env.detail_type)
    return execution_failure(detail, region=env.region, event_id=env.id,
                             seen_at=env.time or seen_at)


def _parse_training(env: Envelope, seen_at: datetime) -> Parsed:
    try:
        detail = TrainingJobDetail.model_validate(env.detail)
    except ValidationError as exc:
        return Ignored(reason=f"malformed training job event: {_first_error(exc)}",
                       event_id=env.id, detail_type=env.detail_type)
    failed = detail.status == "Failed" or (
        detail.status == "Stopped" and detail.secondary_status in TRAINING_TIMEOUT_SECONDARY
    )
    if not failed:
        status = "/".join(s for s in (detail.status, detail.secondary_status) if s)
        return Ignored(reason=f"training job status {status} is not a failure",
                       event_id=env.id, detail_type=env.detail_type)
    return training_job_failure(detail, region=env.region, event_id=env.id,
                                seen_at=env.time or seen_at)


def parse_event(raw: Any, *, now: datetime | None = None) -> Parsed:
    """Classify one Lambda event. Never raises."""
    seen_at = now or datetime.now(UTC)
    if not isinstance(raw, dict):
        return Ignored(reason=f"event is a {type(raw).__name__}, not an EventBridge object")
    try:
        env = Envelope.model_validate(raw)
    except ValidationError as exc:
        return Ignored(reason=f"not an EventBridge event: {_first_error(exc)}",
                       event_id=str(raw.get("id")) if raw.get("id") else None)
    if env.source == "aws.states" and env.detail_type == SFN_DETAIL_TYPE:
        return _parse_sfn(env, seen_at)
    if env.source == "aws.sagemaker" and env.detail_type == SAGEMAKER_TRAINING_DETAIL_TYPE:
        return _parse_training(env, seen_at)
    if env.source == "aws.sagemaker" and env.detail_type == SAGEMAKER_PROCESSING_DETAIL_TYPE:
        return _parse_processing(env, seen_at)
    if env.source == "aws.events" and env.detail_type == SCHEDULED_DETAIL_TYPE:
        return SweepRequest(event_id=env.id, time=env.time)
    return Ignored(reason=f"unrelated event {env.source} / {env.detail_type}",
                   event_id=env.id, detail_type=env.detail_type)
