"""The demo's incident catalogue: each scenario seeds one realistic failure (or success).

A scenario is a name, a one-line description, the seeding function, the target an on-call
engineer would paste (execution ARN or job name) and the category the investigator must give.
All scenarios can live in one moto world at once: names never collide.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from investigator.demo import incident_logs as L
from investigator.demo.seed import (
    ACCOUNT,
    REGION,
    SM_ROLE,
    History,
    Job,
    Layer,
    World,
    deny_job_logs,
    epoch_ms,
    image_config,
    put_execution,
    put_image,
    put_job,
    put_job_logs,
    put_state_machine,
    request_id,
    sagemaker_finish,
    sagemaker_submit,
    sagemaker_task,
    sdk_metadata,
    training_request,
    utc,
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


# --------------------------------------------------------------------------- 1 apex (seed 000)

APEX_JOB = "seedvr2-sr-finetune-2025-01-13-10-02-41"


def seed_apex(world: World) -> None:
    uri = image(world, "seedvr2-train", "2025.01.12", utc("2025-01-12T22:14:09"),
                extra_tags=["latest"], base_mb=6100, revision="3f9c2e1",
                entrypoint=["/bin/bash", "/workspace/run.sh"], workdir="/workspace/SeedVR",
                env={"CUDA_VERSION": "12.4.1", "HF_HOME": "/workspace/hf"})
    job = Job(name=APEX_JOB, image=uri, instance_type="ml.g5.2xlarge",
              created=utc("2025-01-13T10:02:41"), status="Failed", secondary="Failed",
              transitions=lifecycle("Failed", ended=402), started_after=180, ended_after=402,
              hyperparameters={"config": "configs_3b/main.yaml", "lr": "5e-6",
                               "max_steps": "20000"},
              channels={"train": "s3://acme-genai-data/seedvr2/clips-v3/"},
              output_path="s3://acme-genai-models/seedvr2/finetune/",
              entrypoint=["/bin/bash", "/workspace/run.sh"],
              failure_reason="AlgorithmError: , exit code: 1")
    put_job(world, job)
    put_job_logs(world, job, [L.APEX_SKIPPED])


# --------------------------------------------------------------------------- 2 flash_attn ABI

F5_SM = "F5TTS-FineTune"
F5_EXEC = "ft-de-voices-2025-07-31-0912"
F5_JOB = "f5tts-ft-de-voices-20250731-0912"


def _f5_definition(image_uri: str) -> dict[str, Any]:
    return {
        "Comment": "Fine-tune F5-TTS on a voice dataset and register the model",
        "StartAt": "PrepareManifest",
        "States": {
            "PrepareManifest": {"Type": "Pass", "Parameters": {
                "dataset.$": "$.dataset", "output_s3_uri.$": "$.output_s3_uri"},
                "Next": "FineTune"},
            "FineTune": sagemaker_task_state("FineTune", "createTrainingJob", training_params(
                "States.Format('f5tts-ft-{}', $$.Execution.Name)", image_uri, "ml.g5.xlarge",
                HyperParameters={"dataset_name.$": "$.dataset"}), "RegisterModel"),
            "RegisterModel": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                              "Parameters": {"FunctionName": lambda_arn("f5tts-register-model"),
                                             "Payload.$": "$"}, "End": True},
        },
    }


def seed_flash_attn(world: World) -> None:
    uri = image(world, "f5-tts-train", "2025.07.30", utc("2025-07-30T17:22:51"),
                extra_tags=["latest"], env={"SAGEMAKER_PROGRAM": "finetune_cli.py",
                                            "CUDA_VERSION": "12.4.1",
                                            "HUGGINGFACE_TOKEN": "hf_demoTokenNotReal00000000000"},
                entrypoint=["/usr/local/bin/dockerd-entrypoint.py"], cmd=["train"])
    sm = put_state_machine(world, F5_SM, _f5_definition(f"{REGISTRY}/f5-tts-train:latest"),
                           created=utc("2025-05-02T09:00:00"))
    start = utc("2025-07-31T09:12:04")
    job = Job(name=F5_JOB, image=uri, instance_type="ml.g5.xlarge",
              created=start + timedelta(seconds=1.2), status="Failed", secondary="Failed",
              transitions=lifecycle("Failed", ended=262), started_after=180, ended_after=262,
              hyperparameters=L.F5_HPS, channels={"train": "s3://acme-voice-data/de_voices/v2/"},
              output_path="s3://acme-voice-models/f5-tts/finetune/",
              failure_reason=L.toolkit_reason(
                  1, L.FLASH_ERROR, L.toolkit_command(L.F5_PY, L.F5_PROGRAM, L.F5_HPS)))
    put_job(world, job)
    put_job_logs(world, job, [L.flash_attn_abi()])
    payload = {"dataset": "de_voices", "output_s3_uri": "s3://acme-voice-models/f5-tts/finetune/"}
    h = History(start)
    h.started(payload)
    h.entered("Pass", "PrepareManifest", payload)
    h.exited("Pass", "PrepareManifest", payload)
    h.entered("Task", "FineTune", payload)
    sagemaker_task(h, world, job)
    failed_task_execution(world, sm, F5_EXEC, h, payload)


# --------------------------------------------------------------------------- 3 stale image

STALE_JOB = "f5tts-cache-warmup-2025-07-31-09-20-05"


def seed_stale_image(world: World) -> None:
    # The job pulled `latest` at 09:23 (the 07-28 build); CI pushed the fixed build as `latest`
    # at 09:41, so the tag now points at an image the job never ran.
    worker = {"entrypoint": ["python3", "/app/model_cache_init.py"], "workdir": "/app"}
    image(world, "f5-tts-worker", "2025.07.28", utc("2025-07-28T16:03:12"), revision="4e1a9d2",
          **worker)
    image(world, "f5-tts-worker", "2025.07.31", utc("2025-07-31T09:41:37"), revision="b71c0e4",
          extra_tags=["latest"], **worker)
    job = Job(name=STALE_JOB, kind="processing", image=f"{REGISTRY}/f5-tts-worker:latest",
              instance_type="ml.m5.2xlarge", created=utc("2025-07-31T09:20:05"),
              status="Failed", secondary="Failed", transitions=[], started_after=201,
              ended_after=236, channels={"config": "s3://acme-voice-models/f5-tts/cache-manifest/"},
              output_path="s3://acme-voice-models/f5-tts/cache/",
              entrypoint=["python3", "/app/model_cache_init.py"],
              failure_reason="AlgorithmError: See job logs for more information")
    put_job(world, job)
    put_job_logs(world, job, [L.STALE_IMAGE])


# --------------------------------------------------------------------------- 4 libcusparseLt

CUSPARSELT_JOB = "nexis-sdxl-lora-2025-09-12-14-03-55"
NEXIS_CONFIG: dict[str, Any] = {
    "entrypoint": ["/home/comfyuser/entrypoint.sh"], "cmd": ["train"],
    "workdir": "/home/comfyuser",
    "env": {"NVIDIA_REQUIRE_CUDA": "cuda>=12.8", "CUDA_VERSION": "12.8.1",
            "VIRTUAL_ENV": "/opt/venv", "NV_CUDNN_VERSION": "9.8.0.87-1"},
    "labels": {"com.nvidia.cudnn.version": "9.8.0.87-1",
               "org.opencontainers.image.base.name": "nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04"},
}


def seed_cusparselt(world: World) -> None:
    uri = image(world, "nexis-trainer", "2025.09.12", utc("2025-09-12T11:48:20"), base_mb=5200,
                **NEXIS_CONFIG)
    job = Job(name=CUSPARSELT_JOB, image=uri, instance_type="ml.g5.xlarge",
              created=utc("2025-09-12T14:03:55"), status="Failed", secondary="Failed",
              transitions=lifecycle("Failed", ended=221), started_after=182, ended_after=221,
              hyperparameters={"base_model": "stabilityai/stable-diffusion-xl-base-1.0",
                               "rank": "32", "steps": "4000"},
              channels={"train": "s3://nexis-datasets/lora/portraits-v4/"},
              output_path="s3://nexis-models/lora/",
              failure_reason="AlgorithmError: , exit code: 1")
    put_job(world, job)
    put_job_logs(world, job, [L.CUSPARSELT_MISSING])


# --------------------------------------------------------------------------- 5 CRLF entrypoint

CRLF_SM = "NexisLoraTraining"
CRLF_EXEC = "lora-portraits-v5-2025-09-14"
CRLF_JOB = "nexis-lora-2025-09-14-08-01-02"


def seed_crlf(world: World) -> None:
    uri = image(world, "nexis-trainer", "2025.09.14", utc("2025-09-14T07:40:11"),
                extra_tags=["latest"], base_mb=5200, **NEXIS_CONFIG)
    definition = {
        "StartAt": "TrainLora",
        "States": {"TrainLora": sagemaker_task_state("TrainLora", "createTrainingJob",
                   training_params("States.Format('nexis-lora-{}', $.run_id)",
                                   f"{REGISTRY}/nexis-trainer:latest", "ml.g5.2xlarge"), None)},
    }
    sm = put_state_machine(world, CRLF_SM, definition, created=utc("2025-08-20T12:00:00"))
    start = utc("2025-09-14T08:01:01")
    job = Job(name=CRLF_JOB, image=uri, instance_type="ml.g5.2xlarge",
              created=start + timedelta(seconds=1), status="Failed", secondary="Failed",
              transitions=lifecycle("Failed", ended=196), started_after=185, ended_after=196,
              hyperparameters={"dataset": "portraits-v5", "rank": "32", "steps": "6000"},
              channels={"train": "s3://nexis-datasets/lora/portraits-v5/"},
              output_path="s3://nexis-models/lora/",
              failure_reason="AlgorithmError: , exit code: 126")
    put_job(world, job)
    put_job_logs(world, job, [L.CRLF_ENTRYPOINT])
    payload = {"run_id": "2025-09-14-08-01-02", "output_s3_uri": "s3://nexis-models/lora/"}
    h = History(start)
    h.started(payload)
    h.entered("Task", "TrainLora", payload)
    sagemaker_task(h, world, job)
    failed_task_execution(world, sm, CRLF_EXEC, h, payload)


# --------------------------------------------------------------------------- 6 CPU-only TF

CPU_TF_JOB = "judge-vision-iqa-2025-11-10-00-00-22"


def seed_cpu_tensorflow(world: World) -> None:
    uri = image(world, "judge-vision-tf", "2025.11.09", utc("2025-11-09T21:10:44"),
                extra_tags=["latest"], base_mb=7400, workdir="/workspace",
                entrypoint=["/opt/nvidia/nvidia_entrypoint.sh"],
                cmd=["bash", "-lc", "uv sync && python -m imageworks.apps.judge_vision.stage1"],
                env={"TENSORFLOW_VERSION": "2.15.0", "NVIDIA_TENSORFLOW_VERSION": "24.02-tf2",
                     "UV_PYTHON": "python3"},
                labels={"com.nvidia.tensorflow.version": "2.15.0"})
    ended = 180 + 4 + 19 + 3 + 1 + 10 + 5 * 3600 + 702 + 60
    job = Job(name=CPU_TF_JOB, image=uri, instance_type="ml.g5.xlarge",
              created=utc("2025-11-10T00:00:22"), status="Completed", secondary="Completed",
              transitions=lifecycle("Completed", ended=ended, uploading=True), started_after=180,
              ended_after=ended, channels={"images": "s3://imageworks-competitions/2025-11/raw/"},
              hyperparameters={"stage": "1", "models": "nima,musiq", "use_gpu": "true"},
              output_path="s3://imageworks-competitions/2025-11/iqa/")
    put_job(world, job)
    put_job_logs(world, job, [L.CPU_TENSORFLOW])


# --------------------------------------------------------------------------- 7 seed 004 3DGS

SPACEPORT_SM = "SpaceportMLPipeline"
SPACEPORT_EXEC = "prod-validation-1750876231"
SPACEPORT_GOOD = "prod-validation-1750789862"
BUCKET = "s3://spaceport-ml-pipeline"


def _spaceport_definition() -> dict[str, Any]:
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}]
    gs_image = f"{REGISTRY}/spaceport/3dgs:latest"
    return {
        "Comment": "Spaceport: SfM (COLMAP) → 3D Gaussian Splatting → compression",
        "StartAt": "SfMProcessing",
        "States": {
            "SfMProcessing": {
                "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                "Parameters": {"ProcessingJobName.$": "States.Format('spaceport-sfm-{}', "
                               "$$.Execution.Name)",
                               "AppSpecification": {"ImageUri": f"{REGISTRY}/spaceport/sfm:latest"},
                               "RoleArn": SM_ROLE},
                "ResultPath": "$.sfm", "Catch": catch, "Next": "GaussianTraining"},
            "GaussianTraining": sagemaker_task_state("GaussianTraining", "createTrainingJob",
                training_params("States.Format('spaceport-3dgs-{}', $$.Execution.Name)",
                                gs_image, "ml.g4dn.xlarge", max_runtime=21600,
                                HyperParameters={"max_iterations": "30000",
                                                 "target_psnr": "30.0"}),
                "Compression", ResultPath="$.gs", Catch=catch),
            "Compression": sagemaker_task_state("Compression", "createTrainingJob",
                training_params("States.Format('spaceport-compress-{}', $$.Execution.Name)",
                                f"{REGISTRY}/spaceport/compressor:latest", "ml.c6i.2xlarge"),
                "NotifySuccess", ResultPath="$.compress", Catch=catch),
            "NotifySuccess": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                              "Parameters": {"FunctionName": lambda_arn("spaceport-notify"),
                                             "Payload.$": "$"}, "End": True},
            "NotifyFailure": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                              "Parameters": {"FunctionName": lambda_arn("spaceport-notify"),
                                             "Payload.$": "$"}, "Next": "PipelineFailed"},
            "PipelineFailed": {"Type": "Fail", "Error": "PipelineFailed",
                               "Cause": "Spaceport ML pipeline failed; see NotifyFailure input"},
        },
    }


def _spaceport_jobs(exec_name: str, start: datetime, instance: str, fail: bool
                    ) -> tuple[Job, Job, Job | None]:
    sfm = Job(name=f"spaceport-sfm-{exec_name}", kind="processing",
              image=f"{REGISTRY}/spaceport/sfm:latest", instance_type="ml.c6i.4xlarge",
              created=start + timedelta(seconds=1), status="Completed", secondary="Completed",
              transitions=[], started_after=16, ended_after=490,
              channels={"images": f"{BUCKET}/jobs/{exec_name}/images/"},
              output_path=f"{BUCKET}/jobs/{exec_name}/colmap/")
    gs_created = sfm.ended + timedelta(seconds=21)
    runtime = 62 if fail else 4090
    gs = Job(name=f"spaceport-3dgs-{exec_name}", image=f"{REGISTRY}/spaceport/3dgs:latest",
             instance_type=instance, created=gs_created,
             status="Failed" if fail else "Completed", secondary="Failed" if fail else "Completed",
             transitions=lifecycle("Failed" if fail else "Completed", ended=188 + runtime,
                                   uploading=not fail),
             started_after=188, ended_after=188 + runtime, max_runtime=21600,
             hyperparameters=L.GSPLAT_HPS,
             channels={"training": f"{BUCKET}/jobs/{exec_name}/colmap/"},
             output_path=f"{BUCKET}/jobs/{exec_name}/3dgs/",
             failure_reason="AlgorithmError: , exit code: 1" if fail else None)
    if fail:
        return sfm, gs, None
    comp = Job(name=f"spaceport-compress-{exec_name}",
               image=f"{REGISTRY}/spaceport/compressor:latest",
               instance_type="ml.c6i.2xlarge", created=gs.ended + timedelta(seconds=22),
               status="Completed", secondary="Completed",
               transitions=lifecycle("Completed", ended=420, uploading=True), started_after=150,
               ended_after=420, channels={"model": f"{BUCKET}/jobs/{exec_name}/3dgs/"},
               output_path=f"{BUCKET}/jobs/{exec_name}/compressed/")
    return sfm, gs, comp


def _spaceport_run(world: World, sm: Any, exec_name: str, start: datetime, instance: str,
                   fail: bool) -> str:
    sfm, gs, comp = _spaceport_jobs(exec_name, start, instance, fail)
    for job in (sfm, gs, comp):
        if job:
            put_job(world, job)
    if fail:  # only the incident's logs matter; the last good run's are long expired
        put_job_logs(world, sfm, [L.SFM_COLMAP])
        put_job_logs(world, gs, [L.GSPLAT_NO_KERNEL])
    payload = {"s3_images": f"{BUCKET}/uploads/{exec_name}/images/",
               "output_s3_uri": f"{BUCKET}/jobs/{exec_name}/", "email": "ops@spaceport.example"}
    h = History(start)
    h.started(payload)
    h.entered("Task", "SfMProcessing", payload)
    sagemaker_task(h, world, sfm)
    state = {**payload, "sfm": {"ProcessingJobStatus": "Completed"}}
    h.exited("Task", "SfMProcessing", state)
    h.entered("Task", "GaussianTraining", state)
    sagemaker_task(h, world, gs)
    if not fail:
        assert comp is not None
        state = {**state, "gs": {"TrainingJobStatus": "Completed"}}
        h.exited("Task", "GaussianTraining", state)
        h.entered("Task", "Compression", state)
        sagemaker_task(h, world, comp)
        state = {**state, "compress": {"TrainingJobStatus": "Completed"}}
        h.exited("Task", "Compression", state)
        lambda_task(h, "NotifySuccess", "spaceport-notify", state, {"sent": True})
        h.execution_succeeded(state)
        return put_execution(world, sm, exec_name, h, status="SUCCEEDED", payload=payload,
                             output=state)
    failed = h.events[-1]["taskFailedEventDetails"]
    state = {**state, "error": {"Error": failed["error"], "Cause": failed["cause"]}}
    h.exited("Task", "GaussianTraining", state)
    lambda_task(h, "NotifyFailure", "spaceport-notify", state, {"sent": True})
    h.add("FailStateEntered", {"name": "PipelineFailed", "input": json.dumps(state),
                               "inputDetails": {"truncated": False}},
          key="stateEnteredEventDetails", after=0.05)
    definition = _spaceport_definition()["States"]["PipelineFailed"]
    return failed_execution(world, sm, exec_name, h, payload, definition["Error"],
                            definition["Cause"])


def seed_spaceport(world: World) -> None:
    pushed = utc("2025-06-20T21:44:03")
    image(world, "spaceport/3dgs", "build-20250620-a41c9e2", pushed, extra_tags=["latest"],
          base_mb=4800, revision="a41c9e2",
          cmd=["python3", "/opt/ml/code/train_gaussian_production.py"],
          env={"CUDA_VERSION": "12.1.1", "TORCH_CUDA_ARCH_LIST": "8.0;8.6;8.9;9.0",
               "PYTHONUNBUFFERED": "1"})
    image(world, "spaceport/sfm", "colmap-3.9.1", utc("2025-05-30T10:02:55"),
          extra_tags=["latest"], base_mb=2100)
    image(world, "spaceport/compressor", "v0.4.2", utc("2025-06-02T08:12:40"),
          extra_tags=["latest"], base_mb=1200)
    sm = put_state_machine(world, SPACEPORT_SM, _spaceport_definition(),
                           created=utc("2025-06-01T15:20:00"))
    # The last good run used ml.g5.xlarge (A10G, sm_86); the failing one was moved to the
    # cheaper ml.g4dn.xlarge (T4, sm_75), which the CI-built gsplat kernels do not cover.
    _spaceport_run(world, sm, SPACEPORT_GOOD, utc("2025-06-24T18:31:02"), "ml.g5.xlarge",
                   fail=False)
    _spaceport_run(world, sm, SPACEPORT_EXEC, utc("2025-06-25T18:30:31"), "ml.g4dn.xlarge",
                   fail=True)


# --------------------------------------------------------------------------- 8 capacity

CAPACITY_JOB = "llama3-70b-sft-2025-08-04-06-12-40"


def seed_capacity(world: World) -> None:
    uri = image(world, "llm-sft", "2025.08.01", utc("2025-08-01T19:30:12"), base_mb=9800)
    job = Job(name=CAPACITY_JOB, image=uri, instance_type="ml.p4d.24xlarge", instance_count=2,
              volume_gb=1000, created=utc("2025-08-04T06:12:40"), status="Failed",
              secondary="Failed",
              transitions=[("Starting", 0, "Launching requested ML instances"),
                           ("Starting", 312, "Insufficient capacity error from EC2 while "
                                             "launching instances, retrying!"),
                           ("Failed", 2114, "Training job failed")],
              started_after=None, ended_after=2114,
              hyperparameters={"model_id": "meta-llama/Meta-Llama-3-70B", "epochs": "2",
                               "per_device_train_batch_size": "1", "fsdp": "full_shard"},
              channels={"train": "s3://acme-llm-data/sft/support-v9/"},
              output_path="s3://acme-llm-models/sft/",
              failure_reason="CapacityError: Unable to provision requested ML compute capacity. "
                             "Please retry using a different ML instance type.")
    put_job(world, job)  # no log streams at all: no instance ever started


# --------------------------------------------------------------------------- 9 MaxRuntimeExceeded

RECSYS_SM = "RecsysWeeklyTrain"
RECSYS_EXEC = "weekly-2025-10-02"
RECSYS_JOB = "recsys-two-tower-2025-10-02-01-00-07"


def seed_timeout(world: World) -> None:
    image_uri = f"{DLC}/pytorch-training:2.3.0-gpu-py311-cu121-ubuntu20.04-sagemaker"
    definition = {"StartAt": "Train", "States": {"Train": sagemaker_task_state(
        "Train", "createTrainingJob", training_params(
            "States.Format('recsys-two-tower-{}', $.run_ts)", image_uri, "ml.g5.12xlarge",
            count=2, max_runtime=14400), None)}}
    sm = put_state_machine(world, RECSYS_SM, definition, created=utc("2025-03-11T08:00:00"))
    start = utc("2025-10-02T01:00:06")
    train_at = 262
    ended = train_at + 14400 + 31
    job = Job(name=RECSYS_JOB, image=image_uri, instance_type="ml.g5.12xlarge", instance_count=2,
              created=start + timedelta(seconds=1), status="Stopped",
              secondary="MaxRuntimeExceeded",
              transitions=lifecycle("MaxRuntimeExceeded", train=train_at, ended=ended),
              started_after=train_at - 20, ended_after=ended, max_runtime=14400,
              hyperparameters=L.RECSYS_HPS,
              channels={"train": "s3://acme-recsys/interactions/2025-09-25/train/",
                        "validation": "s3://acme-recsys/interactions/2025-09-25/validation/"},
              output_path="s3://acme-recsys/models/two-tower/")
    put_job(world, job)
    put_job_logs(world, job, [L.recsys_timeout(1), L.recsys_timeout(2)])
    payload = {"run_ts": "2025-10-02-01-00-07", "output_s3_uri": "s3://acme-recsys/models/"}
    h = History(start)
    h.started(payload)
    h.entered("Task", "Train", payload)
    sagemaker_task(h, world, job)  # a Stopped job fails the .sync task [unverified error name]
    failed_task_execution(world, sm, RECSYS_EXEC, h, payload)


# --------------------------------------------------------------------------- 10 AccessDenied

DENIED_JOB = "fraud-gbm-nightly-2025-10-21-02-00-03"
ONCALL_PRINCIPAL = f"arn:aws:sts::{ACCOUNT}:assumed-role/OnCallReadOnly/jdoe"


def seed_access_denied(world: World) -> None:
    uri = image(world, "fraud-gbm", "2025.10.20", utc("2025-10-20T16:40:00"),
                extra_tags=["latest"], base_mb=1800)
    job = Job(name=DENIED_JOB, image=uri, instance_type="ml.m5.4xlarge",
              created=utc("2025-10-21T02:00:03"), status="Failed", secondary="Failed",
              transitions=lifecycle("Failed", ended=243), started_after=176, ended_after=243,
              hyperparameters={"num_leaves": "255", "n_estimators": "1200"},
              channels={"train": "s3://acme-fraud/features/2025-10-20/"},
              output_path="s3://acme-fraud/models/",
              failure_reason="AlgorithmError: , exit code: 1")
    put_job(world, job)
    # The logs exist (the failure is in them) but the on-call role may not read them.
    put_job_logs(world, job, [L.FRAUD_LOGS])
    deny_job_logs(world, job, ONCALL_PRINCIPAL)


# --------------------------------------------------------------------------- 11 Map: OOM

SWEEP_SM = "LoraHyperparameterSweep"
SWEEP_EXEC = "sweep-2025-08-19-lr-bs"
SWEEP_GRID = [{"lr": "1e-4", "batch-size": "4"}, {"lr": "1e-4", "batch-size": "8"},
              {"lr": "2e-4", "batch-size": "16"}, {"lr": "2e-4", "batch-size": "8"}]
SWEEP_OOM = 2


def _sweep_definition(image_uri: str) -> dict[str, Any]:
    return {
        "StartAt": "BuildGrid",
        "States": {
            "BuildGrid": {"Type": "Pass", "Next": "Sweep"},
            "Sweep": {
                "Type": "Map", "ItemsPath": "$.grid", "MaxConcurrency": 4,
                "ItemSelector": {"variant.$": "$$.Map.Item.Index", "hps.$": "$$.Map.Item.Value",
                                 "output_s3_uri.$": "$.output_s3_uri"},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "TrainVariant",
                                  "States": {"TrainVariant": sagemaker_task_state(
                                      "TrainVariant", "createTrainingJob", training_params(
                                          "States.Format('lora-sweep-0819-v{}', $.variant)",
                                          image_uri, "ml.g5.2xlarge",
                                          **{"HyperParameters.$": "$.hps"}), None)}},
                "Next": "PickBest"},
            "PickBest": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                         "Parameters": {"FunctionName": lambda_arn("sweep-pick-best"),
                                        "Payload.$": "$"}, "End": True},
        },
    }


def _sweep_job(i: int, hps: dict[str, str], start: datetime, image_uri: str) -> Job:
    oom = i == SWEEP_OOM
    full = {**hps, "max-seq-length": "4096", "model-id": "meta-llama/Meta-Llama-3-8B"}
    return Job(name=f"lora-sweep-0819-v{i}", image=image_uri, instance_type="ml.g5.2xlarge",
               created=start + timedelta(seconds=0.6 + i * 0.2),
               status="Failed" if oom else "Stopped", secondary="Failed" if oom else "Stopped",
               transitions=lifecycle("Failed" if oom else "Stopped", ended=611 if oom else 660),
               started_after=178, ended_after=611 if oom else 660, hyperparameters=full,
               channels={"train": "s3://acme-llm-data/lora/support-v3/"},
               output_path="s3://acme-llm-models/lora-sweep/",
               failure_reason=L.toolkit_reason(1, L.OOM_ERROR, L.toolkit_command(
                   L.SWEEP_PY, L.SWEEP_PROGRAM, full)) if oom else None)


def seed_map_oom(world: World) -> None:
    image_uri = (f"{DLC}/huggingface-pytorch-training:2.1.0-transformers4.36.0-gpu-py310-cu121-"
                 "ubuntu20.04")
    sm = put_state_machine(world, SWEEP_SM, _sweep_definition(image_uri),
                           created=utc("2025-07-01T10:00:00"))
    start = utc("2025-08-19T13:05:10")
    jobs = [_sweep_job(i, hps, start, image_uri) for i, hps in enumerate(SWEEP_GRID)]
    for job in jobs:
        put_job(world, job)
        put_job_logs(world, job, [L.sweep_log(job.hyperparameters, oom=job.status == "Failed")])
    payload = {"grid": SWEEP_GRID, "output_s3_uri": "s3://acme-llm-models/lora-sweep/"}
    h = History(start)
    h.started(payload)
    h.entered("Pass", "BuildGrid", payload)
    h.exited("Pass", "BuildGrid", payload)
    h.entered("Map", "Sweep", payload)
    h.map_started(len(jobs))
    starts = [h.iteration("MapIterationStarted", "Sweep", i) for i in range(len(jobs))]
    submitted = []  # per iteration: its TaskSubmitted, which its next event points back to
    for i, job in enumerate(jobs):
        item = {"variant": i, "hps": SWEEP_GRID[i], "output_s3_uri": payload["output_s3_uri"]}
        h.entered("Task", "TrainVariant", item, prev=starts[i])
        submitted.append(sagemaker_submit(h, world, job))
    failed = sagemaker_finish(h, world, jobs[SWEEP_OOM], prev=submitted[SWEEP_OOM])
    h.iteration("MapIterationFailed", "Sweep", SWEEP_OOM, prev=failed)
    for i in range(len(jobs)):
        if i != SWEEP_OOM:  # the Map stops the other iterations (and their jobs)
            aborted = h.add("TaskStateAborted", prev=submitted[i], after=0.02)
            h.iteration("MapIterationAborted", "Sweep", i, prev=aborted)
    h.add("MapStateFailed", after=0.05)
    details = h.events[failed - 1]["taskFailedEventDetails"]
    failed_execution(world, sm, SWEEP_EXEC, h, payload, details["error"], details["cause"])


# --------------------------------------------------------------------------- 12 nested execution

PARENT_SM = "ModelReleasePipeline"
CHILD_SM = "TrainAndEvaluate"
PARENT_EXEC = "release-intent-clf-v7-2025-09-03"
CHILD_EXEC = "release-intent-clf-v7-2025-09-03-train"
NESTED_JOB = "intent-clf-v7-train-2025-09-03-1407"


def _nested_definitions(image_uri: str) -> tuple[dict[str, Any], dict[str, Any]]:
    parent = {"StartAt": "ValidateRequest", "States": {
        "ValidateRequest": {"Type": "Pass", "Next": "RunTraining"},
        "RunTraining": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                        "Parameters": {"StateMachineArn": state_machine_arn(CHILD_SM),
                                       "Name.$": "States.Format('{}-train', $$.Execution.Name)",
                                       "Input": {"model.$": "$.model", "data.$": "$.data",
                                                 "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$":
                                                     "$$.Execution.Id"}},
                        "ResultPath": "$.training", "Next": "RegisterModel"},
        "RegisterModel": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                          "Parameters": {"FunctionName": lambda_arn("model-registry-register"),
                                         "Payload.$": "$"}, "End": True}}}
    child = {"StartAt": "TrainModel", "States": {"TrainModel": sagemaker_task_state(
        "TrainModel", "createTrainingJob", training_params(
            "States.Format('intent-clf-{}-train-{}', $.model.version, $.run_ts)", image_uri,
            "ml.g5.xlarge", **{"HyperParameters.$": "$.model.hps"}), None)}}
    return parent, child


def seed_nested(world: World) -> None:
    image_uri = f"{DLC}/pytorch-training:2.3.0-gpu-py311-cu121-ubuntu20.04-sagemaker"
    parent_def, child_def = _nested_definitions(image_uri)
    parent = put_state_machine(world, PARENT_SM, parent_def, created=utc("2025-04-14T09:00:00"))
    child = put_state_machine(world, CHILD_SM, child_def, created=utc("2025-04-14T09:00:00"))
    start = utc("2025-09-03T14:07:11")
    child_start = start + timedelta(seconds=0.6)
    job = Job(name=NESTED_JOB, image=image_uri, instance_type="ml.g5.xlarge",
              created=child_start + timedelta(seconds=0.5), status="Failed", secondary="Failed",
              transitions=lifecycle("Failed", ended=226), started_after=181, ended_after=226,
              hyperparameters=L.INTENT_HPS,
              channels={"train": "s3://acme-ml-datasets/support-intents/v7/train/",
                        "validation": "s3://acme-ml-datasets/support-intents/v7/validation/"},
              output_path="s3://acme-ml-models/intent-clf/",
              failure_reason=L.toolkit_reason(1, L.PATHS_ERROR, L.toolkit_command(
                  L.INTENT_PY, "train.py", L.INTENT_HPS)))
    put_job(world, job)
    put_job_logs(world, job, [L.intent_paths()])
    parent_arn = execution_arn(PARENT_SM, PARENT_EXEC)
    child_payload = {"model": {"version": "v7", "hps": L.INTENT_HPS},
                     "data": "s3://acme-ml-datasets/support-intents/v7/",
                     "run_ts": "2025-09-03-1407",
                     "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": parent_arn}
    ch = History(child_start)
    ch.started(child_payload)
    ch.entered("Task", "TrainModel", child_payload)
    sagemaker_task(ch, world, job)
    child_arn = failed_task_execution(world, child, CHILD_EXEC, ch, child_payload)
    _parent_history(world, parent, start, child_arn, child_payload, ch)


def _parent_history(world: World, parent: Any, start: datetime, child_arn: str,
                    child_payload: dict[str, Any], ch: History) -> None:
    payload = {"model": child_payload["model"], "data": child_payload["data"]}
    resource = "startExecution.sync:2"
    h = History(start)
    h.started(payload)
    h.entered("Pass", "ValidateRequest", payload)
    h.exited("Pass", "ValidateRequest", payload)
    h.entered("Task", "RunTraining", payload)
    h.scheduled("states", resource, {"StateMachineArn": state_machine_arn(CHILD_SM),
                                     "Name": CHILD_EXEC, "Input": child_payload})
    h.task("TaskStarted", "states", resource, after=0.1)
    submitted = {"ExecutionArn": child_arn, "StartDate": epoch_ms(ch.events[0]["timestamp"]),
                 **sdk_metadata(request_id(child_arn))}
    h.task("TaskSubmitted", "states", resource, after=0.2,
           output=json.dumps(submitted, separators=(",", ":")), outputDetails={"truncated": False})
    child_failed = ch.events[-1]["executionFailedEventDetails"]
    # [unverified] the cause of a failed startExecution.sync task: DescribeExecution of the child.
    cause = {"ExecutionArn": child_arn, "StateMachineArn": state_machine_arn(CHILD_SM),
             "Name": CHILD_EXEC, "Status": "FAILED",
             "StartDate": epoch_ms(ch.events[0]["timestamp"]),
             "StopDate": epoch_ms(ch.events[-1]["timestamp"]),
             "Input": json.dumps(child_payload), "InputDetails": {"Included": True},
             "Error": child_failed["error"], "Cause": child_failed["cause"]}
    h.t = ch.events[-1]["timestamp"] + timedelta(seconds=1.1)
    h.task("TaskFailed", "states", resource, error="States.TaskFailed",
           cause=json.dumps(cause, separators=(",", ":")))
    failed_task_execution(world, parent, PARENT_EXEC, h, payload)


# --------------------------------------------------------------------------- 13 retried task

CHURN_SM = "ChurnModelTraining"
CHURN_EXEC = "nightly-2025-10-14"
CHURN_JOBS = ("churn-nightly-2025-10-14-r0", "churn-nightly-2025-10-14-r1")


def seed_retry(world: World) -> None:
    image_uri = f"{DLC}/pytorch-training:2.3.0-cpu-py311-ubuntu20.04-sagemaker"
    definition = {"StartAt": "Train", "States": {"Train": sagemaker_task_state(
        "Train", "createTrainingJob", training_params(
            "States.Format('churn-{}-r{}', $$.Execution.Name, $$.State.RetryCount)", image_uri,
            "ml.m5.2xlarge", **{"HyperParameters.$": "$.hps"}), None,
        Retry=[{"ErrorEquals": ["SageMaker.AmazonSageMakerException"], "IntervalSeconds": 30,
                "MaxAttempts": 3, "BackoffRate": 2},
               {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 60, "MaxAttempts": 1,
                "BackoffRate": 2}])}}
    sm = put_state_machine(world, CHURN_SM, definition, created=utc("2025-02-03T11:00:00"))
    start = utc("2025-10-14T03:00:04")
    common = dict(image=image_uri, instance_type="ml.m5.2xlarge", hyperparameters=L.CHURN_HPS,
                  channels={"train": "s3://acme-churn/features/2025-10-13/"},
                  output_path="s3://acme-churn/models/")
    first = Job(name=CHURN_JOBS[0], created=start + timedelta(seconds=1), status="Failed",
                secondary="Failed", started_after=None, ended_after=143,
                transitions=[("Starting", 0, "Launching requested ML instances"),
                             ("Failed", 143, "Training job failed")],
                failure_reason="InternalServerError: We encountered an internal error. "
                               "Please try again.", **common)  # type: ignore[arg-type]
    retry_at = first.ended + timedelta(seconds=20 + 60)
    command = L.toolkit_command(L.CHURN_PY, "train.py", L.CHURN_HPS)
    second = Job(name=CHURN_JOBS[1], created=retry_at + timedelta(seconds=0.5), status="Failed",
                 secondary="Failed", transitions=lifecycle("Failed", ended=204),
                 started_after=177, ended_after=204,
                 failure_reason=L.toolkit_reason(2, f"{L.ARGPARSE_USAGE}\n{L.ARGPARSE_ERROR}",
                                                 command), **common)  # type: ignore[arg-type]
    for job in (first, second):
        put_job(world, job)
    put_job_logs(world, second, [L.churn_argparse()])
    payload = {"hps": L.CHURN_HPS, "output_s3_uri": "s3://acme-churn/models/"}
    h = History(start)
    h.started(payload)
    h.entered("Task", "Train", payload)
    failed_first = sagemaker_task(h, world, first)
    sagemaker_task(h, world, second, prev=failed_first)  # the retry follows the failure
    failed_task_execution(world, sm, CHURN_EXEC, h, payload)


# --------------------------------------------------------------------------- 14 healthy

RANKER_SM = "SearchRankerNightly"
RANKER_EXEC = "nightly-2025-10-28"


def seed_healthy(world: World) -> None:
    image_uri = f"{DLC}/pytorch-training:2.3.0-gpu-py311-cu121-ubuntu20.04-sagemaker"
    prep_image = image(world, "ranker-preprocess", "2025.10.01", utc("2025-10-01T09:12:00"),
                       extra_tags=["latest"], base_mb=900)
    definition = {"StartAt": "Preprocess", "States": {
        "Preprocess": {"Type": "Task",
                       "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                       "Parameters": {"ProcessingJobName.$": "States.Format('ranker-prep-{}', "
                                      "$$.Execution.Name)",
                                      "AppSpecification": {"ImageUri": prep_image},
                                      "RoleArn": SM_ROLE}, "ResultPath": "$.prep", "Next": "Train"},
        "Train": sagemaker_task_state("Train", "createTrainingJob", training_params(
            "States.Format('ranker-train-{}', $$.Execution.Name)", image_uri, "ml.g5.2xlarge"),
            "Evaluate", ResultPath="$.train"),
        "Evaluate": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Parameters": {"FunctionName": lambda_arn("ranker-evaluate"),
                                    "Payload.$": "$"}, "Next": "Done"},
        "Done": {"Type": "Succeed"}}}
    sm = put_state_machine(world, RANKER_SM, definition, created=utc("2025-01-20T08:00:00"))
    start = utc("2025-10-28T02:00:05")
    prep = Job(name=f"ranker-prep-{RANKER_EXEC}", kind="processing", image=prep_image,
               instance_type="ml.m5.4xlarge", created=start + timedelta(seconds=1),
               status="Completed", secondary="Completed", transitions=[], started_after=120,
               ended_after=290, channels={"clicks": "s3://acme-search/clicks/2025-10-27/"},
               output_path="s3://acme-search/ranker/pairs/2025-10-27/")
    train = Job(name=f"ranker-train-{RANKER_EXEC}", image=image_uri, instance_type="ml.g5.2xlarge",
                created=prep.ended + timedelta(seconds=21), status="Completed",
                secondary="Completed", transitions=lifecycle("Completed", ended=2060,
                                                             uploading=True),
                started_after=180, ended_after=2060, hyperparameters=L.RANKER_HPS,
                channels={"train": "s3://acme-search/ranker/pairs/2025-10-27/train/",
                          "validation": "s3://acme-search/ranker/pairs/2025-10-27/validation/"},
                output_path="s3://acme-search/ranker/models/")
    for job, script in ((prep, L.HEALTHY_PREPROCESS), (train, L.healthy_train())):
        put_job(world, job)
        put_job_logs(world, job, [script])
    _healthy_history(world, sm, start, prep, train)


def _healthy_history(world: World, sm: Any, start: datetime, prep: Job, train: Job) -> None:
    payload = {"date": "2025-10-27", "output_s3_uri": "s3://acme-search/ranker/models/"}
    h = History(start)
    h.started(payload)
    h.entered("Task", "Preprocess", payload)
    sagemaker_task(h, world, prep)
    h.exited("Task", "Preprocess", payload)
    h.entered("Task", "Train", payload)
    sagemaker_task(h, world, train)
    state = {**payload, "train": {"TrainingJobStatus": "Completed"}}
    h.exited("Task", "Train", state)
    lambda_task(h, "Evaluate", "ranker-evaluate", state, {"ndcg@10": 0.7065, "promote": True})
    h.add("SucceedStateEntered", {"name": "Done", "input": json.dumps(state),
                                  "inputDetails": {"truncated": False}},
          key="stateEnteredEventDetails", after=0.05)
    h.add("SucceedStateExited", {"name": "Done", "output": json.dumps(state),
                                 "outputDetails": {"truncated": False}},
          key="stateExitedEventDetails", after=0.01)
    h.execution_succeeded(state)
    put_execution(world, sm, RANKER_EXEC, h, status="SUCCEEDED", payload=payload, output=state)


# --------------------------------------------------------------------------- 15 States.Runtime

FORECAST_SM = "DailyForecastTraining"
FORECAST_EXEC = "daily-2025-10-20"


def seed_bad_jsonpath(world: World) -> None:
    image_uri = f"{DLC}/pytorch-training:2.3.0-cpu-py311-ubuntu20.04-sagemaker"
    params = training_params("States.Format('forecast-{}', $.run_date)", image_uri,
                             "ml.m5.4xlarge")
    params["InputDataConfig"] = [{"ChannelName": "train", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri.$": "$.dataset.train_uri"}}}]
    definition = {"StartAt": "Train", "States": {"Train": sagemaker_task_state(
        "Train", "createTrainingJob", params, None)}}
    sm = put_state_machine(world, FORECAST_SM, definition, created=utc("2025-06-09T07:00:00"))
    payload = {"run_date": "2025-10-20", "train_s3_uri": "s3://acme-forecast/features/2025-10-20/"
               "train/", "horizon_days": 28, "output_s3_uri": "s3://acme-forecast/models/"}
    h = History(utc("2025-10-20T04:00:02"))
    h.started(payload)
    entered = h.entered("Task", "Train", payload)
    cause = (f"An error occurred while executing the state 'Train' (entered at the event id "
             f"#{entered}). The JSONPath '$.dataset.train_uri' specified for the field "
             f"'S3Uri.$' could not be found in the input '{json.dumps(payload)}'")
    failed_execution(world, sm, FORECAST_EXEC, h, payload, "States.Runtime", cause)


# --------------------------------------------------------------------------- 16 ValidationException

CLASSIFIER_SM = "ImageClassifierTraining"
CLASSIFIER_EXEC = "efficientnet-b3-2025-10-21-nightly-retrain"


def seed_validation(world: World) -> None:
    uri = image(world, "product-image-classifier", "2025.10.18", utc("2025-10-18T13:00:00"),
                extra_tags=["latest"], base_mb=3100)
    definition = {"StartAt": "Train", "States": {"Train": sagemaker_task_state(
        "Train", "createTrainingJob", training_params(
            "States.Format('product-image-classifier-{}-training-job', $$.Execution.Name)",
            f"{REGISTRY}/product-image-classifier:latest", "ml.g5.2xlarge"), None)}}
    sm = put_state_machine(world, CLASSIFIER_SM, definition, created=utc("2025-09-30T10:00:00"))
    name = f"product-image-classifier-{CLASSIFIER_EXEC}-training-job"
    job = Job(name=name, image=uri, instance_type="ml.g5.2xlarge",
              created=utc("2025-10-21T01:00:03"), status="", secondary="", transitions=[],
              ended_after=0, hyperparameters={"epochs": "30", "img-size": "300"},
              channels={"train": "s3://acme-catalog/images/2025-10-20/"},
              output_path="s3://acme-catalog/models/")
    payload = {"output_s3_uri": "s3://acme-catalog/models/"}
    h = History(utc("2025-10-21T01:00:02"))
    h.started(payload)
    h.entered("Task", "Train", payload)
    h.scheduled("sagemaker", "createTrainingJob.sync", training_request(job))
    h.task("TaskStarted", "sagemaker", "createTrainingJob.sync", after=0.1)
    cause = (f"1 validation error detected: Value '{name}' at 'trainingJobName' failed to "
             "satisfy constraint: Member must have length less than or equal to 63 (Service: "
             "AmazonSageMaker; Status Code: 400; Error Code: ValidationException; Request ID: "
             f"{request_id(name)}; Proxy: null)")
    # [unverified] whether AWS records an API rejection as TaskFailed or TaskSubmitFailed.
    h.task("TaskFailed", "sagemaker", "createTrainingJob.sync", after=0.3,
           error="SageMaker.AmazonSageMakerException", cause=cause)
    failed_task_execution(world, sm, CLASSIFIER_EXEC, h, payload)


# --------------------------------------------------------------------------- the catalogue

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("apex-amp-c", "NVIDIA Apex CUDA build silently skipped; training dies on "
             "`No module named 'amp_C'`", seed_apex, "job", APEX_JOB, "deps",
             origin="seed 000", job=APEX_JOB),
    Scenario("flash-attn-abi", "flash_attn wheel built for torch 2.6 on torch 2.4: "
             "`undefined symbol` (Step Functions)", seed_flash_attn, "execution",
             execution_arn(F5_SM, F5_EXEC), "deps", origin="seed 001", failed_state="FineTune",
             job=F5_JOB),
    Scenario("stale-image", "processing job ran an image built before `sync_models_from_s3` "
             "existed; `latest` was pushed after it started", seed_stale_image, "job",
             STALE_JOB, "deps", job_kind="processing", origin="seed 001", job=STALE_JOB),
    Scenario("cusparselt-missing", "torch 2.7.1+cu128 on a CUDA devel base image without "
             "libcusparseLt.so.0", seed_cusparselt, "job", CUSPARSELT_JOB, "cuda",
             origin="seed 002", job=CUSPARSELT_JOB),
    Scenario("crlf-entrypoint", "training script saved with Windows line endings: "
             "`/bin/bash^M: bad interpreter` (Step Functions)", seed_crlf, "execution",
             execution_arn(CRLF_SM, CRLF_EXEC), "entrypoint", origin="seed 002",
             failed_state="TrainLora", job=CRLF_JOB),
    Scenario("cpu-only-tensorflow", "job Completed on ml.g5.xlarge but a CPU-only TensorFlow "
             "wheel shadowed the GPU build: 5 h on CPU", seed_cpu_tensorflow, "job", CPU_TF_JOB,
             "cuda", origin="seed 003", job=CPU_TF_JOB),
    Scenario("spaceport-3dgs", "SpaceportMLPipeline: SfM ok, 3DGS on ml.g4dn.xlarge (T4 sm_75) "
             "fails with `no kernel image`; last good ran on ml.g5.xlarge", seed_spaceport,
             "execution", execution_arn(SPACEPORT_SM, SPACEPORT_EXEC), "cuda", origin="seed 004",
             failed_state="GaussianTraining", job=f"spaceport-3dgs-{SPACEPORT_EXEC}"),
    Scenario("capacity-no-logs", "2× ml.p4d.24xlarge never provisioned: CapacityError, no log "
             "streams at all", seed_capacity, "job", CAPACITY_JOB, "capacity", job=CAPACITY_JOB),
    Scenario("max-runtime", "two-tower training stopped at MaxRuntimeInSeconds=14400 in epoch "
             "3/8 (Step Functions)", seed_timeout, "execution",
             execution_arn(RECSYS_SM, RECSYS_EXEC), "timeout", failed_state="Train",
             job=RECSYS_JOB),
    Scenario("logs-access-denied", "job failed with an uninformative FailureReason and the "
             "on-call role may not read its logs", seed_access_denied, "job", DENIED_JOB,
             "unknown", job=DENIED_JOB, gap_sources=("logs",)),
    Scenario("map-iteration-oom", "hyperparameter sweep Map: variant 2 (batch 16, seq 4096) "
             "runs out of GPU memory on ml.g5.2xlarge", seed_map_oom, "execution",
             execution_arn(SWEEP_SM, SWEEP_EXEC), "resources", failed_state="TrainVariant",
             job=f"lora-sweep-0819-v{SWEEP_OOM}"),
    Scenario("nested-execution", "release pipeline → child state machine (startExecution.sync) → "
             "training job finds no train.jsonl", seed_nested, "execution",
             execution_arn(PARENT_SM, PARENT_EXEC), "paths", failed_state="TrainModel",
             job=NESTED_JOB),
    Scenario("retried-task", "InternalServerError retried by Step Functions; the retry fails "
             "on `--batch-size 512.0`", seed_retry, "execution",
             execution_arn(CHURN_SM, CHURN_EXEC), "hyperparameters", failed_state="Train",
             job=CHURN_JOBS[1]),
    Scenario("healthy", "nightly ranker retrain succeeded (warnings and a handled OOM only)",
             seed_healthy, "execution", execution_arn(RANKER_SM, RANKER_EXEC), "none"),
    Scenario("bad-jsonpath", "States.Runtime: a JSONPath in the Train state's Parameters is "
             "not in the input; no job ran", seed_bad_jsonpath, "execution",
             execution_arn(FORECAST_SM, FORECAST_EXEC), "orchestration", failed_state="Train"),
    Scenario("create-validation", "CreateTrainingJob rejected: generated TrainingJobName longer "
             "than 63 characters", seed_validation, "execution",
             execution_arn(CLASSIFIER_SM, CLASSIFIER_EXEC), "orchestration",
             failed_state="Train"),
)

BY_NAME = {s.name: s for s in SCENARIOS}


def select(names: str | Iterable[str]) -> list[Scenario]:
    """`all`, a comma-separated string or names → scenarios; unknown names raise KeyError."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names)
    if names == ["all"]:
        return list(SCENARIOS)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise KeyError(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return [BY_NAME[n] for n in names]


def seed(scenarios: Iterable[Scenario], world: World | None = None) -> World:
    """Seed scenarios into one moto world (the current process's backends)."""
    world = world or World()
    for scenario in scenarios:
        scenario.seed(world)
    return world
