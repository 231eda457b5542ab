"""Demo scenario `crlf-entrypoint` (re-creates seed 002): training script saved with Windows line
endings: `/bin/bash^M: bad interpreter` (Step Functions). Expected category: entrypoint.
"""

from __future__ import annotations

from datetime import timedelta

from investigator.demo import incident_logs as L
from investigator.demo.scenarios.common import (
    REGISTRY,
    Scenario,
    execution_arn,
    failed_task_execution,
    image,
    lifecycle,
    sagemaker_task_state,
    training_params,
)
from investigator.demo.scenarios.cusparselt import NEXIS_CONFIG
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


SCENARIO = Scenario(
    name="crlf-entrypoint",
    description="training script saved with Windows line endings: "
                "`/bin/bash^M: bad interpreter` (Step Functions)",
    seed=seed_crlf,
    kind="execution",
    target=execution_arn(CRLF_SM, CRLF_EXEC),
    expected="entrypoint",
    origin="seed 002",
    failed_state="TrainLora",
    job=CRLF_JOB,
)
