"""Demo scenario `nested-execution`: release pipeline → child state machine (startExecution.sync) →
training job finds no train.jsonl. Expected category: paths.
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
    failed_task_execution,
    lambda_arn,
    lifecycle,
    sagemaker_task_state,
    state_machine_arn,
    training_params,
)
from investigator.demo.seed import (
    History,
    Job,
    World,
    epoch_ms,
    put_job,
    put_job_logs,
    put_state_machine,
    request_id,
    sagemaker_task,
    sdk_metadata,
    utc,
)

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


SCENARIO = Scenario(
    name="nested-execution",
    description="release pipeline → child state machine (startExecution.sync) → "
                "training job finds no train.jsonl",
    seed=seed_nested,
    kind="execution",
    target=execution_arn(PARENT_SM, PARENT_EXEC),
    expected="paths",
    failed_state="TrainModel",
    job=NESTED_JOB,
)
