"""The FACTS registry: every dotted fact a collector may set and a playbook may read.

Collectors normalise AWS's PascalCase into these snake_case names. A playbook that names a
fact not listed here fails to load, so a typo cannot silently make a rule never match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FactSpec:
    type: type | tuple[type, ...]
    description: str
    # Text facts are scanned by playbook patterns like log lines (pattern `in:` sources).
    text: bool = False


_STR = str
_NUM = (int, float)

FACTS: dict[str, FactSpec] = {
    # Target
    "target.kind": FactSpec(_STR, "execution | job | log | bundle"),
    "target.name": FactSpec(_STR, "ARN, job name or file name investigated"),
    # SageMaker job (DescribeTrainingJob / DescribeProcessingJob)
    "sagemaker.job_name": FactSpec(_STR, "training or processing job name"),
    "sagemaker.job_arn": FactSpec(_STR, "job ARN"),
    "sagemaker.job_kind": FactSpec(_STR, "training | processing"),
    "sagemaker.status": FactSpec(_STR, "InProgress | Completed | Failed | Stopping | Stopped"),
    "sagemaker.secondary_status": FactSpec(_STR, "e.g. Failed, MaxRuntimeExceeded, Interrupted"),
    "sagemaker.failure_reason": FactSpec(_STR, "FailureReason, first 1 KB", text=True),
    "sagemaker.exit_message": FactSpec(_STR, "processing ExitMessage", text=True),
    "sagemaker.status_messages": FactSpec(
        _STR, "SecondaryStatusTransitions status messages, one per line", text=True
    ),
    "sagemaker.instance_type": FactSpec(
        _STR, "e.g. ml.g4dn.xlarge; in a heterogeneous cluster, the failed host's group's type"
    ),
    "sagemaker.instance_count": FactSpec(int, "number of instances (all instance groups)"),
    "sagemaker.instance_groups": FactSpec(
        list, "heterogeneous cluster: [{name, type, count}] from ResourceConfig.InstanceGroups"
    ),
    "sagemaker.failed_host": FactSpec(_STR, "host whose log shows an error first, e.g. algo-2"),
    "sagemaker.instance_group": FactSpec(_STR, "instance group of the failed host"),
    "sagemaker.volume_size_gb": FactSpec(_NUM, "ML storage volume size"),
    "sagemaker.image": FactSpec(_STR, "training image URI as submitted"),
    "sagemaker.entrypoint": FactSpec(list, "ContainerEntrypoint override"),
    "sagemaker.arguments": FactSpec(list, "ContainerArguments override"),
    "sagemaker.hyperparameters": FactSpec(dict, "hyperparameters (secrets redacted)"),
    "sagemaker.hyperparameter_names": FactSpec(
        list, "names of the job's own hyperparameters (SageMaker's sagemaker_* entries left out)"
    ),
    "sagemaker.environment": FactSpec(dict, "environment names (values redacted)"),
    "sagemaker.role_arn": FactSpec(_STR, "execution role ARN"),
    "sagemaker.max_runtime_s": FactSpec(_NUM, "StoppingCondition.MaxRuntimeInSeconds"),
    "sagemaker.max_wait_s": FactSpec(_NUM, "StoppingCondition.MaxWaitTimeInSeconds"),
    "sagemaker.runtime_s": FactSpec(_NUM, "seconds between training start and end"),
    "sagemaker.spot": FactSpec(bool, "managed spot training enabled"),
    "sagemaker.vpc": FactSpec(bool, "job runs in a VPC"),
    "sagemaker.network_isolation": FactSpec(bool, "EnableNetworkIsolation"),
    "sagemaker.input_channels": FactSpec(
        list, "channel names (absent when the job declares none, or was not read)"
    ),
    "sagemaker.input_uris": FactSpec(list, "S3 URIs of the input channels"),
    "sagemaker.output_path": FactSpec(_STR, "S3 output path"),
    "sagemaker.created": FactSpec(_STR, "CreationTime, ISO 8601"),
    "sagemaker.started": FactSpec(_STR, "TrainingStartTime / ProcessingStartTime, ISO 8601"),
    "sagemaker.ended": FactSpec(_STR, "TrainingEndTime / ProcessingEndTime, ISO 8601"),
    "sagemaker.algorithm": FactSpec(_STR, "AlgorithmSpecification.AlgorithmName (no custom image)"),
    "sagemaker.container_started": FactSpec(
        bool, "the job got as far as running the image (Downloading/Training seen, or Completed)"
    ),
    "sagemaker.image_pulled_at": FactSpec(
        _STR, "when SageMaker pulled the image (the 'Downloading the training image' transition)"
    ),
    "sagemaker.stopped_by_user": FactSpec(
        bool, "StopTrainingJob/StopProcessingJob: Stopped, not by a time limit, no FailureReason"
    ),
    # A person (or a script) stopped the run: not a failure (pipeline._stop_facts)
    "stop.by": FactSpec(_STR, "StopExecution | StopTrainingJob | StopProcessingJob"),
    "stop.at": FactSpec(_STR, "when the run was stopped, ISO 8601"),
    # Instance knowledge (knowledge/instance_types)
    "instance.gpu_model": FactSpec(_STR, "e.g. T4, A10G, A100, H100; absent on CPU instances"),
    "instance.gpu_count": FactSpec(int, "GPUs per instance, 0 on CPU instances"),
    "instance.gpu_memory_gb": FactSpec(_NUM, "memory per GPU"),
    "instance.compute_capability": FactSpec(_NUM, "e.g. 7.5 for T4"),
    "instance.cpu_arch": FactSpec(_STR, "x86_64 | arm64"),
    "instance.memory_gb": FactSpec(_NUM, "host memory"),
    "instance.vcpus": FactSpec(int, "vCPUs"),
    "instance.accelerator": FactSpec(_STR, "nvidia | neuron | none"),
    "instance.accelerator_model": FactSpec(_STR, "GPU model or Neuron chip, e.g. T4, Trainium"),
    "instance.accelerator_count": FactSpec(int, "GPUs or Neuron chips per instance"),
    # ECR image
    "ecr.repository": FactSpec(_STR, "repository name"),
    "ecr.image_digest": FactSpec(
        _STR,
        "sha256 digest the job ran: pinned in the image URI, else the tag's digest "
        "(see ecr.tag_moved)",
    ),
    "ecr.image_tags": FactSpec(list, "tags on the image"),
    "ecr.image_pushed_at": FactSpec(_STR, "push time, ISO 8601"),
    "ecr.image_size_bytes": FactSpec(int, "compressed size"),
    "ecr.image_status": FactSpec(_STR, "ACTIVE | ARCHIVED | ACTIVATING"),
    "ecr.image_architecture": FactSpec(_STR, "amd64 | arm64 (from the image config)"),
    "ecr.image_os": FactSpec(_STR, "linux"),
    "ecr.image_entrypoint": FactSpec(list, "image config Entrypoint"),
    "ecr.image_cmd": FactSpec(list, "image config Cmd"),
    "ecr.image_env_names": FactSpec(list, "names of image config Env (values dropped)"),
    "ecr.image_created": FactSpec(_STR, "image config created, ISO 8601"),
    "ecr.image_labels": FactSpec(dict, "image config labels"),
    "ecr.pushed_after_job_start": FactSpec(
        bool, "the tag was pushed after the job pulled its image (else: after it started)"
    ),
    "ecr.tag_moved": FactSpec(bool, "the tag now points at another digest than the job ran"),
    "ecr.image_found": FactSpec(bool, "the image URI resolves in ECR"),
    "ecr.image_platforms": FactSpec(list, "os/arch of each image of a manifest list / OCI index"),
    "ecr.manifest_media_type": FactSpec(_STR, "imageManifestMediaType"),
    # CloudWatch Logs (what was read, not what it says)
    "logs.group": FactSpec(_STR, "log group read, e.g. /aws/sagemaker/TrainingJobs"),
    "logs.stream_count": FactSpec(int, "log streams found for the job (one per host and restart)"),
    "logs.streams_read": FactSpec(int, "log streams read"),
    "logs.events_read": FactSpec(int, "log events read over all streams"),
    # CloudWatch instance metrics of the job's hosts (collectors/metrics.py); percentages
    "metrics.namespace": FactSpec(
        _STR, "/aws/sagemaker/TrainingJobs or /aws/sagemaker/ProcessingJobs"
    ),
    "metrics.period_s": FactSpec(int, "seconds per data point (Maximum over the period)"),
    "metrics.hosts": FactSpec(
        dict, "host → metric (cpu, memory, gpu, gpu_memory, disk) → {peak, last}"
    ),
    "metrics.series": FactSpec(dict, "host → metric → [[ISO time, value], ...] for plotting"),
    "metrics.memory_peak_pct": FactSpec(_NUM, "highest MemoryUtilization of any host"),
    "metrics.memory_peak_host": FactSpec(_STR, "host with the highest MemoryUtilization"),
    "metrics.disk_peak_pct": FactSpec(_NUM, "highest DiskUtilization of any host"),
    "metrics.disk_peak_host": FactSpec(_STR, "host with the highest DiskUtilization"),
    "metrics.gpu_memory_peak_pct": FactSpec(
        _NUM, "highest GPUMemoryUtilization of any host (summed over its GPUs)"
    ),
    "metrics.gpu_memory_peak_host": FactSpec(_STR, "host with the highest GPUMemoryUtilization"),
    # Step Functions
    "sfn.execution_arn": FactSpec(_STR, "execution ARN"),
    "sfn.state_machine_arn": FactSpec(_STR, "state machine ARN"),
    "sfn.status": FactSpec(_STR, "RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED"),
    "sfn.error": FactSpec(_STR, "error name of the failure", text=True),
    "sfn.cause": FactSpec(_STR, "cause text of the failure", text=True),
    "sfn.failed_state": FactSpec(_STR, "name of the state that failed"),
    "sfn.failed_event_type": FactSpec(_STR, "history event type, e.g. TaskFailed"),
    "sfn.task_resource": FactSpec(_STR, "resource ARN of the failed task"),
    "sfn.retry_count": FactSpec(int, "retries of the failed task (sfn.attempts - 1)"),
    "sfn.job_started": FactSpec(
        bool, "the failed state's own task created its job (false: refused before it existed)"
    ),
    "sfn.nested_execution_arn": FactSpec(_STR, "child execution followed"),
    "sfn.parent_failed_state": FactSpec(_STR, "parent state that started the child execution"),
    "sfn.execution_error": FactSpec(_STR, "error of the execution itself", text=True),
    "sfn.execution_cause": FactSpec(_STR, "cause of the execution itself", text=True),
    "sfn.fail_state": FactSpec(_STR, "Fail state the execution ended in, when it did"),
    "sfn.attempts": FactSpec(int, "attempts of the failed task (1 + retries)"),
    "sfn.map_state": FactSpec(_STR, "Map state whose iteration failed"),
    "sfn.map_iteration": FactSpec(int, "index of the failed Map iteration"),
    "sfn.parallel_state": FactSpec(_STR, "Parallel state whose branch failed"),
    "sfn.job_name": FactSpec(_STR, "SageMaker job the failed (or last) task named"),
    "sfn.job_kind": FactSpec(_STR, "training | processing"),
    "sfn.events_read": FactSpec(int, "history events read (newest first)"),
    "sfn.fail_error": FactSpec(_STR, "Error of the Fail state the execution ended in", text=True),
    "sfn.fail_cause": FactSpec(
        _STR, "Cause of the Fail state the execution ended in (first 200 characters)", text=True
    ),
    "sfn.attempt_errors": FactSpec(
        list, "error and cause of each attempt of the failed task other than the one diagnosed"
    ),
    "sfn.map_run_arn": FactSpec(_STR, "Distributed Map run of the failed Map state"),
    "sfn.redrive_count": FactSpec(int, "times the execution was redriven"),
    "sfn.stopped_at": FactSpec(_STR, "ABORTED: when the execution was stopped, ISO 8601"),
    "sfn.stopped_state": FactSpec(_STR, "ABORTED: the state that was running when it stopped"),
    "sfn.tuning_job_name": FactSpec(_STR, "hyperparameter tuning job of the failed task"),
    "sfn.child_error": FactSpec(
        _STR, "error of a child execution that could not be read, from the parent's cause",
        text=True,
    ),
    "sfn.child_cause": FactSpec(
        _STR, "cause of a child execution that could not be read, from the parent's cause",
        text=True,
    ),
}

# Pattern sources a playbook may scan: the log lines plus every text fact.
TEXT_SOURCES: tuple[str, ...] = ("logs", *(k for k, v in FACTS.items() if v.text))
DEFAULT_PATTERN_SOURCES: tuple[str, ...] = (
    "logs",
    "sagemaker.failure_reason",
    "sagemaker.exit_message",
    "sfn.cause",
    "sfn.child_cause",
)


# Which collected source a fact comes from: a gap on that source explains its absence.
_FACT_SOURCE = {"sagemaker": "sagemaker", "instance": "sagemaker", "ecr": "ecr", "sfn": "sfn",
                "metrics": "metrics"}


def source_of(fact: str) -> str | None:
    return _FACT_SOURCE.get(fact.split(".", 1)[0])


def unknown_facts(facts: dict[str, Any]) -> list[str]:
    """Names in `facts` that the registry does not know (a collector bug)."""
    return sorted(k for k in facts if k not in FACTS)
