"""Shared by the scenarios: the Scenario record, ARNs, and the building blocks of realistic
histories, jobs and images.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from investigator.demo.seed import (
    ACCOUNT,
    REGION,
    SM_ROLE,
    History,
    Layer,
    World,
    image_config,
    put_execution,
    put_image,
    request_id,
    sdk_metadata,
)

REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
DLC = f"763104351884.dkr.ecr.{REGION}.amazonaws.com"  # AWS Deep Learning Containers (not ours)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: Callable[[World], None]
    kind: str  # "execution" | "job"
    target: str  # execution ARN or job name
    expected: str  # the category the investigator must give
    job_kind: str = "training"
    origin: str = ""  # the incident it re-creates
    failed_state: str | None = None
    job: str | None = None  # the job the investigation must land on
    gap_sources: tuple[str, ...] = ()  # sources that must show up as gaps
    extra: dict[str, Any] = field(default_factory=dict)

    def cli_args(self) -> list[str]:
        if self.kind == "execution":
            return ["execution", self.target]
        return ["job", self.target, "--kind", self.job_kind]


def execution_arn(state_machine: str, name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{state_machine}:{name}"


def state_machine_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


def lambda_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


# --------------------------------------------------------------------------- building blocks


def lifecycle(end: str, *, download: float = 95, train: float = 180, ended: float,
              uploading: bool = False) -> list[tuple[str, float, str]]:
    """SecondaryStatusTransitions as SageMaker writes them for a job that reached Training."""
    steps = [
        ("Starting", 0, "Launching requested ML instances"),
        ("Starting", download - 40, "Preparing the instances for training"),
        ("Downloading", download, "Downloading input data"),
        ("Training", train - 35, "Downloading the training image"),
        ("Training", train, "Training image download completed. Training in progress."),
    ]
    if uploading:
        steps.append(("Uploading", ended - 25, "Uploading generated training model"))
    final = {"Completed": "Training job completed", "Failed": "Training job failed",
             "Stopped": "Training job stopped"}
    if end == "MaxRuntimeExceeded":
        steps.append(("Stopping", ended - 40, "Stopping the training job"))
        steps.append(("MaxRuntimeExceeded", ended,
                      "Training job runtime exceeded MaxRuntimeInSeconds provided"))
    else:
        steps.append((end, ended, final[end]))
    return steps


def sagemaker_task_state(name: str, verb: str, params: dict[str, Any], nxt: str | None,
                         **extra: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": f"arn:aws:states:::sagemaker:{verb}.sync",
                             "Parameters": params, **extra}
    if nxt:
        state["Next"] = nxt
    else:
        state["End"] = True
    return state


def training_params(name_expr: str, image: str, instance: str, **more: Any) -> dict[str, Any]:
    """The ASL Parameters block of a createTrainingJob.sync state (before evaluation)."""
    return {
        "TrainingJobName.$": name_expr,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": SM_ROLE,
        "ResourceConfig": {"InstanceCount": more.pop("count", 1), "InstanceType": instance,
                           "VolumeSizeInGB": 100},
        "StoppingCondition": {"MaxRuntimeInSeconds": more.pop("max_runtime", 86400)},
        "OutputDataConfig": {"S3OutputPath.$": "$.output_s3_uri"},
        **more,
    }


def lambda_task(h: History, state: str, function: str, payload: dict[str, Any],
                result: dict[str, Any], seconds: float = 1.2) -> int:
    """A lambda:invoke task, entered → succeeded → exited."""
    h.entered("Task", state, payload)
    params = {"FunctionName": lambda_arn(function), "Payload": payload}
    h.scheduled("lambda", "invoke", params)
    h.task("TaskStarted", "lambda", "invoke", after=0.05)
    out = {"ExecutedVersion": "$LATEST", "Payload": result, "StatusCode": 200,
           **sdk_metadata(request_id(state + function))}
    h.task("TaskSucceeded", "lambda", "invoke", after=seconds,
           output=json.dumps(out, separators=(",", ":")), outputDetails={"truncated": False})
    return h.exited("Task", state, {**payload, "result": result})


def image(world: World, repo: str, tag: str, pushed: datetime, *, extra_tags: Iterable[str] = (),
          base_mb: int = 3900, revision: str | None = None, **config: Any) -> str:
    """Push one image of realistic layer sizes and config; returns the tag URI a job would use.

    `config` takes image_config's entrypoint, cmd, env and labels; the build finished a few
    minutes before the push, as in CI.
    """
    seed = f"{repo}:{tag}"
    layers = [Layer(base_mb * 1_048_576, f"{seed}/base"), Layer(412_000_000, f"{seed}/deps"),
              Layer(2_310_000, f"{seed}/code")]
    built = pushed - timedelta(minutes=7, seconds=12)
    rev = revision or hashlib.sha1(seed.encode()).hexdigest()[:7]
    labels = {"org.opencontainers.image.created": built.isoformat(),
              "org.opencontainers.image.revision": rev,
              "org.opencontainers.image.source": f"https://github.com/acme/{repo.split('/')[-1]}",
              **config.pop("labels", {})}
    blob = image_config(created=built, labels=labels, **config)
    put_image(world, repo, [tag, *extra_tags], pushed, layers, blob)
    return f"{REGISTRY}/{repo}:{tag}"


def failed_execution(world: World, sm: Any, name: str, h: History, payload: dict[str, Any],
                     error: str, cause: str) -> str:
    h.execution_failed(error, cause)
    return put_execution(world, sm, name, h, status="FAILED", payload=payload, error=error,
                         cause=cause)


def failed_task_execution(world: World, sm: Any, name: str, h: History,
                          payload: dict[str, Any]) -> str:
    """No Catch: the TaskFailed's error and cause become the execution's."""
    details = h.events[-1]["taskFailedEventDetails"]
    return failed_execution(world, sm, name, h, payload, details["error"], details["cause"])
