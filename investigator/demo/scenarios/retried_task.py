"""Demo scenario `retried-task`: InternalServerError retried by Step Functions; the retry fails on
`--batch-size 512.0`. Expected category: hyperparameters.
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


SCENARIO = Scenario(
    name="retried-task",
    description="InternalServerError retried by Step Functions; the retry fails "
                "on `--batch-size 512.0`",
    seed=seed_retry,
    kind="execution",
    target=execution_arn(CHURN_SM, CHURN_EXEC),
    expected="hyperparameters",
    failed_state="Train",
    job=CHURN_JOBS[1],
)
