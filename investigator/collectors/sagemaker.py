"""SageMaker: DescribeTrainingJob / DescribeProcessingJob → sagemaker.* facts and a timeline.

`job_facts` reads the Describe* response shape, which is also the shape of the
CreateTrainingJob request a Step Functions task was scheduled with and of the JSON cause a
failed `.sync` task carries, so one function serves all three.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import re2

from investigator.aws import (
    AWS_ERRORS,
    AwsContext,
    error_code,
    gap_from_error,
    is_not_found,
    target_error,
)
from investigator.collectors import Collected, JobKind, JobRef, as_datetime, iso
from investigator.errors import AwsError, InputError
from investigator.models import Gap, LogStream, TimelineEvent
from investigator.redact import redact_text, redact_value
from investigator.taxonomy import JOB_TERMINAL_STATUSES

SOURCE = "sagemaker"
_JOB_NAME = re2.compile(r"^[A-Za-z0-9](?:-*[A-Za-z0-9]){0,62}$")
_JOB_ARN = re2.compile(
    r"^arn:aws[a-z-]*:sagemaker:([a-z0-9-]+):\d{12}:(training|processing)-job/([A-Za-z0-9-]{1,63})$"
)
# The container has run once SageMaker is uploading its output. `Downloading` is the input data
# and `Training` begins with the image pull: API_SecondaryStatusTransition documents
# SecondaryStatus `Training` with StatusMessage "Downloading the training image" at the start
# of a job, then "Training image download completed. Training in progress."
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_SecondaryStatusTransition.html).
_RAN_AFTER = {"Uploading"}
_IMAGE_PULLED = re2.compile(r"(?i)training image download completed")
_IMAGE_PULLING = re2.compile(r"(?i)downloading the training image")


def parse_job_target(name: str, kind: JobKind | None) -> tuple[JobRef, str | None]:
    """A job name or job ARN → (JobRef, region from the ARN). InputError when malformed."""
    name = name.strip()
    m = _JOB_ARN.search(name)
    if m:
        arn_kind: JobKind = "training" if m.group(2) == "training" else "processing"
        return JobRef(name=m.group(3), kind=arn_kind, arn=name), m.group(1)
    if not _JOB_NAME.search(name):
        raise InputError(
            f"not a SageMaker job name: {name!r} (1-63 letters, digits and hyphens, "
            "or a training-job/processing-job ARN)"
        )
    return JobRef(name=name, kind=kind or "training"), None


def describe(ctx: AwsContext, job: JobRef) -> dict[str, Any]:
    """The Describe* response; raises the botocore error."""
    sm = ctx.client("sagemaker")
    if job.kind == "processing":
        return sm.describe_processing_job(ProcessingJobName=job.name)
    return sm.describe_training_job(TrainingJobName=job.name)


def _job_not_found(exc: BaseException) -> bool:
    """A missing job. botocore's sagemaker model lists `ResourceNotFound` as the only error of
    DescribeTrainingJob and DescribeProcessingJob; the service is also seen answering
    ValidationException "Requested resource not found" (both handled by is_not_found)."""
    return error_code(exc) == "ResourceNotFound" or is_not_found(exc)


def _action(job: JobRef) -> str:
    kind = "ProcessingJob" if job.kind == "processing" else "TrainingJob"
    return f"sagemaker:Describe{kind}"


def collect_job(ctx: AwsContext, job: JobRef, *, is_target: bool) -> Collected:
    """Facts and timeline of one job. As the target, unreadable means AwsError (exit 3)."""
    c = Collected()
    what = f"{job.kind} job {job.name}"
    try:
        desc = describe(ctx, job)
    except AWS_ERRORS as exc:
        if _job_not_found(exc):
            if is_target:
                raise AwsError(f"{what} not found in {ctx.region}: check the job name, "
                               "its kind (--kind) and the region") from None
            c.gaps.append(Gap(source=SOURCE, code="NotFound",
                              message=f"{what} not found in {ctx.region} ({_action(job)})"))
        else:
            if is_target:
                raise target_error(exc, what, ctx.region, _action(job)) from None
            c.gaps.append(gap_from_error(SOURCE, exc, _action(job), what))
        c.summary = c.gaps[-1].code
        return c
    c.facts = job_facts(desc, job.kind)
    c.timeline = job_timeline(desc, job.kind)
    status = c.facts.get("sagemaker.status", "?")
    secondary = c.facts.get("sagemaker.secondary_status")
    c.summary = f"{job.kind} job {status}" + (f"/{secondary}" if secondary else "")
    return c


def _get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def job_facts(desc: dict[str, Any], kind: JobKind) -> dict[str, Any]:
    """sagemaker.* facts from a Describe*/Create* shaped dict; secrets redacted."""
    f = _training(desc) if kind == "training" else _processing(desc)
    f["sagemaker.job_kind"] = kind
    f["sagemaker.failure_reason"] = _text(desc.get("FailureReason"))
    f["sagemaker.stopped_by_user"] = _stopped_by_user(desc, kind)
    f["sagemaker.role_arn"] = desc.get("RoleArn")
    f["sagemaker.created"] = iso(desc.get("CreationTime"))
    env = desc.get("Environment")
    if isinstance(env, dict):
        f["sagemaker.environment"] = {str(k): redact_value(v, str(k)) for k, v in env.items()}
    return {k: v for k, v in f.items() if v is not None and v != [] and v != {}}


# Stopped sub-states that are limits or interruptions, not a person's StopTrainingJob
# (API_DescribeTrainingJob SecondaryStatus: MaxRuntimeExceeded and MaxWaitTimeExceeded are
# Stopped; Interrupted is a managed-spot interruption).
_STOPPED_BY_LIMIT = {"MaxRuntimeExceeded", "MaxWaitTimeExceeded", "Interrupted"}


def _stopped_by_user(d: dict[str, Any], kind: JobKind) -> bool | None:
    """Stopped through StopTrainingJob/StopProcessingJob: Stopped, no limit, no FailureReason."""
    status = d.get("TrainingJobStatus" if kind == "training" else "ProcessingJobStatus")
    if status is None:
        return None  # a request, not a job
    if status != "Stopped" or d.get("FailureReason"):
        return False
    return kind == "processing" or d.get("SecondaryStatus") not in _STOPPED_BY_LIMIT


def _text(value: Any) -> str | None:
    return redact_text(str(value)) if value else None


def _training(d: dict[str, Any]) -> dict[str, Any]:
    algo = d.get("AlgorithmSpecification") or {}
    res = d.get("ResourceConfig") or {}
    groups = res.get("InstanceGroups") or []
    stop = d.get("StoppingCondition") or {}
    started, ended = as_datetime(d.get("TrainingStartTime")), as_datetime(d.get("TrainingEndTime"))
    hp = d.get("HyperParameters")
    channels = d.get("InputDataConfig") or []
    transitions = d.get("SecondaryStatusTransitions") or []
    messages = [str(t.get("StatusMessage")) for t in transitions if t.get("StatusMessage")]
    return {
        "sagemaker.job_name": d.get("TrainingJobName"),
        "sagemaker.job_arn": d.get("TrainingJobArn"),
        "sagemaker.status": d.get("TrainingJobStatus"),
        "sagemaker.secondary_status": d.get("SecondaryStatus"),
        "sagemaker.status_messages": _text("\n".join(messages)),
        "sagemaker.instance_type": _instance_type(res, groups),
        "sagemaker.instance_count": _count(res, groups),
        "sagemaker.instance_groups": [
            {"name": str(g.get("InstanceGroupName") or ""), "type": str(g.get("InstanceType")),
             "count": int(g.get("InstanceCount") or 0)} for g in groups],
        "sagemaker.volume_size_gb": res.get("VolumeSizeInGB"),
        "sagemaker.image": algo.get("TrainingImage"),
        "sagemaker.algorithm": algo.get("AlgorithmName"),
        "sagemaker.entrypoint": algo.get("ContainerEntrypoint"),
        "sagemaker.arguments": _redact_list(algo.get("ContainerArguments")),
        "sagemaker.hyperparameters": redact_value(hp) if isinstance(hp, dict) else None,
        "sagemaker.hyperparameter_names": _own_names(hp),
        "sagemaker.max_runtime_s": stop.get("MaxRuntimeInSeconds"),
        "sagemaker.max_wait_s": stop.get("MaxWaitTimeInSeconds"),
        "sagemaker.runtime_s": _runtime(started, ended, d.get("TrainingTimeInSeconds")),
        "sagemaker.spot": _bool(d.get("EnableManagedSpotTraining")),
        "sagemaker.vpc": bool(_get(d, "VpcConfig", "Subnets")),
        "sagemaker.network_isolation": _bool(d.get("EnableNetworkIsolation")),
        "sagemaker.input_channels": [c["ChannelName"] for c in channels if c.get("ChannelName")],
        "sagemaker.input_uris": [u for c in channels
                                 if (u := _get(c, "DataSource", "S3DataSource", "S3Uri"))],
        "sagemaker.output_path": _get(d, "OutputDataConfig", "S3OutputPath"),
        "sagemaker.started": iso(started),
        "sagemaker.ended": iso(ended),
        "sagemaker.container_started": _container_started(d, transitions),
        "sagemaker.image_pulled_at": iso(image_pulled_at(d)),
    }


def _processing(d: dict[str, Any]) -> dict[str, Any]:
    app = d.get("AppSpecification") or {}
    cluster = _get(d, "ProcessingResources", "ClusterConfig") or {}
    started = as_datetime(d.get("ProcessingStartTime"))
    ended = as_datetime(d.get("ProcessingEndTime"))
    inputs = d.get("ProcessingInputs") or []
    outputs = _get(d, "ProcessingOutputConfig", "Outputs") or []
    net = d.get("NetworkConfig") or {}
    return {
        "sagemaker.job_name": d.get("ProcessingJobName"),
        "sagemaker.job_arn": d.get("ProcessingJobArn"),
        "sagemaker.status": d.get("ProcessingJobStatus"),
        "sagemaker.exit_message": _text(d.get("ExitMessage")),
        "sagemaker.instance_type": cluster.get("InstanceType"),
        "sagemaker.instance_count": cluster.get("InstanceCount"),
        "sagemaker.volume_size_gb": cluster.get("VolumeSizeInGB"),
        "sagemaker.image": app.get("ImageUri"),
        "sagemaker.entrypoint": app.get("ContainerEntrypoint"),
        "sagemaker.arguments": _redact_list(app.get("ContainerArguments")),
        "sagemaker.max_runtime_s": _get(d, "StoppingCondition", "MaxRuntimeInSeconds"),
        "sagemaker.runtime_s": _runtime(started, ended, None),
        "sagemaker.vpc": bool(_get(net, "VpcConfig", "Subnets")),
        "sagemaker.network_isolation": _bool(net.get("EnableNetworkIsolation")),
        "sagemaker.input_channels": [i.get("InputName") for i in inputs if i.get("InputName")],
        "sagemaker.input_uris": [u for i in inputs if (u := _get(i, "S3Input", "S3Uri"))],
        "sagemaker.output_path": next(
            (u for o in outputs if (u := _get(o, "S3Output", "S3Uri"))), None
        ),
        "sagemaker.started": iso(started),
        "sagemaker.ended": iso(ended),
        "sagemaker.container_started": started is not None if "ProcessingJobStatus" in d else None,
    }


def _own_names(hp: Any) -> list[str] | None:
    """The job's own hyperparameter names: framework estimators add sagemaker_program etc."""
    if not isinstance(hp, dict):
        return None
    return sorted(str(k) for k in hp if not str(k).startswith("sagemaker_"))


def _instance_type(res: dict[str, Any], groups: list[dict[str, Any]]) -> str | None:
    """The cluster's instance type; None for a heterogeneous cluster (see host_instance_facts).

    SelectedInstanceType is what SageMaker chose from InstancePreferences (botocore sagemaker
    model, ResourceConfig).
    """
    if res.get("SelectedInstanceType") or res.get("InstanceType"):
        return res.get("SelectedInstanceType") or res.get("InstanceType")
    types = {g.get("InstanceType") for g in groups}
    return types.pop() if len(types) == 1 else None


def _count(res: dict[str, Any], groups: list[dict[str, Any]]) -> int | None:
    """Instances in the cluster: with InstanceGroups (a heterogeneous cluster), their sum."""
    if groups:
        return sum(int(g.get("InstanceCount") or 0) for g in groups) or None
    count = res.get("SelectedInstanceCount") or res.get("InstanceCount")
    return count if isinstance(count, int) and count > 0 else None


def _bool(v: Any) -> bool | None:
    return bool(v) if v is not None else None


def _redact_list(v: Any) -> list[str] | None:
    return [redact_text(str(x)) for x in v] if isinstance(v, list) else None


def _runtime(started: datetime | None, ended: datetime | None, reported: Any) -> float | None:
    if started and ended:
        return round((ended - started).total_seconds(), 3)
    return float(reported) if isinstance(reported, int | float) else None


def _container_started(d: dict[str, Any], transitions: list[dict[str, Any]]) -> bool | None:
    """Did the job get as far as running the container (so it should have logs)?"""
    if "TrainingJobStatus" not in d:
        return None  # a request, not a job
    if d.get("TrainingJobStatus") == "Completed":
        return True
    if {t.get("Status") for t in transitions} & _RAN_AFTER:
        return True
    training = [str(t.get("StatusMessage") or "") for t in transitions
                if t.get("Status") == "Training"]
    if any(_IMAGE_PULLED.search(m) for m in training):
        return True
    if training:
        # Messages "are subject to change": only a pull that never completed says no.
        return not all(_IMAGE_PULLING.search(m) for m in training)
    # No transitions recorded (some emulators): a start time means it got that far.
    return not transitions and d.get("TrainingStartTime") is not None


def image_pulled_at(desc: dict[str, Any]) -> datetime | None:
    """When SageMaker pulled the training image: the "Downloading the training image" transition.

    That is when a tag was resolved to a digest, so a push after it did not reach this job.
    """
    for t in desc.get("SecondaryStatusTransitions") or []:
        if _IMAGE_PULLING.search(str(t.get("StatusMessage") or "")):
            return as_datetime(t.get("StartTime"))
    return None


# In a heterogeneous cluster each host's resourceconfig.json names its group and type, and the
# SageMaker training toolkit logs them ("current_instance_group", "current_instance_type",
# SM_CURRENT_INSTANCE_GROUP / SM_CURRENT_INSTANCE_TYPE):
# https://docs.aws.amazon.com/sagemaker/latest/dg/train-heterogeneous-cluster.html
_HOST_TYPE = re2.compile(r'(?:current_instance_type"?\s*[:=]|SM_CURRENT_INSTANCE_TYPE=)\s*"?'
                         r"(ml\.[a-z0-9]+\.[a-z0-9]+)")
_HOST_GROUP = re2.compile(r'(?:current_instance_group"?\s*[:=]|SM_CURRENT_INSTANCE_GROUP=)\s*"?'
                          r"([A-Za-z0-9_.-]+)")
_HOST_OF_STREAM = re2.compile(r"/(algo-\d+)-\d+")
_ERROR_LINE = re2.compile(r"Traceback \(most recent call last\)|^[A-Za-z_.]*(?:Error|Exception)\b"
                          r"|(?i:exit ?code[ :=]*[1-9])|^Killed\b|Reporting training FAILURE")


def host_instance_facts(facts: dict[str, Any], logs: list[LogStream]) -> dict[str, Any]:
    """In a heterogeneous cluster, the instance type of the host that failed.

    The failed host is the one whose log shows an error first; its group is the one its own
    log names. Nothing is guessed: an unplaced host leaves the instance type unknown.
    """
    groups = facts.get("sagemaker.instance_groups") or []
    if len({g["type"] for g in groups}) < 2:
        return {}
    failed = _first_failing_stream(logs)
    if failed is None:
        return {}
    out: dict[str, Any] = {}
    host = _HOST_OF_STREAM.search(failed.name)
    if host:
        out["sagemaker.failed_host"] = host.group(1)
    group = _group_of(failed, groups)
    if group is not None:
        out["sagemaker.instance_group"] = group["name"]
        out["sagemaker.instance_type"] = group["type"]
    return out


def _first_failing_stream(logs: list[LogStream]) -> LogStream | None:
    first: tuple[datetime, int, LogStream] | None = None
    for i, stream in enumerate(logs):
        for ev in stream.events:
            if _ERROR_LINE.search(ev.message):
                when = ev.timestamp or datetime.max.replace(tzinfo=UTC)
                if first is None or (when, i) < first[:2]:
                    first = (when, i, stream)
                break
    return first[2] if first else None


def _group_of(stream: LogStream, groups: list[dict[str, Any]]) -> dict[str, Any] | None:
    for ev in stream.events:
        m = _HOST_GROUP.search(ev.message)
        if m and (g := next((g for g in groups if g["name"] == m.group(1)), None)):
            return g
        m = _HOST_TYPE.search(ev.message)
        if m and (g := next((g for g in groups if g["type"] == m.group(1)), None)):
            return g
    return None


def job_timeline(desc: dict[str, Any], kind: JobKind) -> list[TimelineEvent]:
    out: list[TimelineEvent] = []
    created = as_datetime(desc.get("CreationTime"))
    if created:
        out.append(TimelineEvent(time=created, source=SOURCE, event=f"{kind} job created"))
    for t in desc.get("SecondaryStatusTransitions") or []:
        start = as_datetime(t.get("StartTime"))
        if start is None:
            continue
        text = str(t.get("Status"))
        if t.get("StatusMessage"):
            text += f": {redact_text(str(t['StatusMessage']))}"
        out.append(TimelineEvent(time=start, end=as_datetime(t.get("EndTime")), source=SOURCE,
                                 event=text))
    prefix = "Training" if kind == "training" else "Processing"
    ended = as_datetime(desc.get(f"{prefix}EndTime"))
    status = desc.get(f"{prefix}JobStatus")
    if ended and status in JOB_TERMINAL_STATUSES:
        out.append(TimelineEvent(time=ended, source=SOURCE, event=f"{kind} job {status}"))
    return out


def job_start(facts: dict[str, Any]) -> datetime | None:
    """When the job started (or was created, if it never started)."""
    started = as_datetime(facts.get("sagemaker.started"))
    return started or as_datetime(facts.get("sagemaker.created"))


def image_reference_time(facts: dict[str, Any]) -> datetime | None:
    """When the job resolved its image tag: the pull if known, else its start.

    TrainingStartTime can come after the pull, so a push in between would look like one
    the job already ran.
    """
    return as_datetime(facts.get("sagemaker.image_pulled_at")) or job_start(facts)


__all__ = ["SOURCE", "collect_job", "host_instance_facts", "image_pulled_at",
           "image_reference_time", "job_facts", "job_start", "job_timeline", "parse_job_target"]
