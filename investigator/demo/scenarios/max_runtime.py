"""Demo scenario `max-runtime`: two-tower training stopped at MaxRuntimeInSeconds=14400 in epoch
3/8 (Step Functions). Expected category: timeout.
"""

from __future__ import annotations

from datetime import timedelta

from investigator.demo import incident_logs as L
from investigator.demo.scenarios.common import (
    DLC,
    Scenario,
    execution_arn,
    failed_task_execution,
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


SCENARIO = Scenario(
    name="max-runtime",
    description="two-tower training stopped at MaxRuntimeInSeconds=14400 in epoch "
                "3/8 (Step Functions)",
    seed=seed_timeout,
    kind="execution",
    target=execution_arn(RECSYS_SM, RECSYS_EXEC),
    expected="timeout",
    failed_state="Train",
    job=RECSYS_JOB,
)
