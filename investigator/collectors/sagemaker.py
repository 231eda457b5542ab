"""SageMaker: DescribeTrainingJob / DescribeProcessingJob → sagemaker.* facts and a timeline.

`job_facts` reads the Describe* response shape, which is also the shape of the
CreateTrainingJob request a Step Functions task was scheduled with and of the JSON cause a
failed `.sync` task carries, so one function serves all three.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import re2

from investigator.aws import AWS_ERRORS, AwsContext, gap_from_error, target_error
from investigator.collectors import Collected, JobKind, JobRef, as_datetime, iso
from investigator.errors import InputError
from investigator.models import TimelineEvent
from investigator.redact import redact_text, redact_value
from investigator.taxonomy import JOB_TERMINAL_STATUSES

SOURCE = "sagemaker"
_JOB_NAME = re2.compile(r"^[A-Za-z0-9](?:-*[A-Za-z0-9]){0,62}$")
_JOB_ARN = re2.compile(
    r"^arn:aws[a-z-]*:sagemaker:([a-z0-9-]+):\d{12}:(training|processing)-job/([A-Za-z0-9-]{1,63})$"
)
# Secondary statuses reached only once the instances run the image.
_RAN = {"Downloading", "Training", "Uploading"}


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


def _action(job: JobRef) -> str:
    kind = "ProcessingJob" if job.kind == "processing" else "TrainingJob"
    return f"sagemaker:Describe{kind}"


def collect_job(ctx: AwsContext, job: JobRef, *, is_target: bool) -> tuple[Collected, dict | None]:
    """Facts and timeline of one job. As the target, unreadable means AwsError (exit 3)."""
    c = Collected()
    what = f"{job.kind} job {job.name}"
    try:
        desc = describe(ctx, job)
    except AWS_ERRORS as exc:
        if is_target:
            raise target_error(exc, what, ctx.region, _action(job)) from None
        c.gaps.append(gap_from_error(SOURCE, exc, _action(job), what))
        c.summary = c.gaps[-1].code
        return c, None
    c.facts = job_facts(desc, job.kind)
    c.timeline = job_timeline(desc, job.kind)
    status = c.facts.get("sagemaker.status", "?")
    secondary = c.facts.get("sagemaker.secondary_status")
    c.summary = f"{job.kind} job {status}" + (f"/{secondary}" if secondary else "")
    return c, desc


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
    f["sagemaker.role_arn"] = desc.get("RoleArn")
    f["sagemaker.created"] = iso(desc.get("CreationTime"))
    env = desc.get("Environment")
    if isinstance(env, dict):
        f["sagemaker.environment"] = {str(k): redact_value(v, str(k)) for k, v in env.items()}
    return {k: v for k, v in f.items() if v is not None and v != [] and v != {}}


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
        "sagemaker.instance_type": res.get("InstanceType")
        or next((g.get("InstanceType") for g in groups), None),
        "sagemaker.instance_count": _count(res.get("InstanceCount"), groups),
        "sagemaker.volume_size_gb": res.get("VolumeSizeInGB"),
        "sagemaker.image": algo.get("TrainingImage"),
        "sagemaker.algorithm": algo.get("AlgorithmName"),
        "sagemaker.entrypoint": algo.get("ContainerEntrypoint"),
        "sagemaker.arguments": _redact_list(algo.get("ContainerArguments")),
        "sagemaker.hyperparameters": redact_value(hp) if isinstance(hp, dict) else None,
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


def _count(count: Any, groups: list[dict[str, Any]]) -> int | None:
    if isinstance(count, int):
        return count
    total = sum(int(g.get("InstanceCount") or 0) for g in groups)
    return total or None


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
    if {t.get("Status") for t in transitions} & _RAN:
        return True
    # No transitions recorded (some emulators): a start time means it got that far.
    return not transitions and d.get("TrainingStartTime") is not None


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


__all__ = ["SOURCE", "collect_job", "job_facts", "job_start", "job_timeline", "parse_job_target"]
