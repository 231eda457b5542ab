"""Demo scenario `healthy`: nightly ranker retrain succeeded (warnings and a handled OOM only).
Expected category: none.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from investigator.demo import incident_logs as L
from investigator.demo.scenarios.common import (
    DLC,
    Scenario,
    execution_arn,
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


SCENARIO = Scenario(
    name="healthy",
    description="nightly ranker retrain succeeded (warnings and a handled OOM only)",
    seed=seed_healthy,
    kind="execution",
    target=execution_arn(RANKER_SM, RANKER_EXEC),
    expected="none",
)
