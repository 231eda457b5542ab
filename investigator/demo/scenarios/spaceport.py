"""Demo scenario `spaceport-3dgs` (re-creates seed 004): SpaceportMLPipeline: SfM ok, 3DGS on
ml.g4dn.xlarge (T4 sm_75) fails with `no kernel image`; last good ran on ml.g5.xlarge. Expected
category: cuda.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from investigator.demo import incident_logs as L
from investigator.demo.scenarios.common import (
    REGISTRY,
    Scenario,
    execution_arn,
    failed_execution,
    image,
    lambda_arn,
    lambda_task,
    lifecycle,
    sagemaker_task_state,
    training_params,
)
from investigator.demo.seed import (
    SM_ROLE,
    History,
    Job,
    World,
    put_execution,
    put_job,
    put_job_logs,
    put_state_machine,
    sagemaker_task,
    utc,
)

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


SCENARIO = Scenario(
    name="spaceport-3dgs",
    description="SpaceportMLPipeline: SfM ok, 3DGS on ml.g4dn.xlarge (T4 sm_75) "
                "fails with `no kernel image`; last good ran on ml.g5.xlarge",
    seed=seed_spaceport,
    kind="execution",
    target=execution_arn(SPACEPORT_SM, SPACEPORT_EXEC),
    expected="cuda",
    origin="seed 004",
    failed_state="GaussianTraining",
    job=f"spaceport-3dgs-{SPACEPORT_EXEC}",
)
