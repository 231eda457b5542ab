"""Demo scenario `flash-attn-abi` (re-creates seed 001): flash_attn wheel built for torch 2.6 on
torch 2.4: `undefined symbol` (Step Functions). Expected category: deps.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from investigator.demo import incident_logs as L
from investigator.demo.scenarios.common import (
    REGISTRY,
    Scenario,
    execution_arn,
    failed_task_execution,
    image,
    lambda_arn,
    lifecycle,
    sagemaker_task_state,
    training_params,
)
from investigator.demo.seed import (
    History,
    Job,
    World,
    put_job,
    put_job_logs,
    put_state_machine,
    sagemaker_task,
    utc,
)

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


SCENARIO = Scenario(
    name="flash-attn-abi",
    description="flash_attn wheel built for torch 2.6 on torch 2.4: "
                "`undefined symbol` (Step Functions)",
    seed=seed_flash_attn,
    kind="execution",
    target=execution_arn(F5_SM, F5_EXEC),
    expected="deps",
    origin="seed 001",
    failed_state="FineTune",
    job=F5_JOB,
)
