"""Demo scenario `bad-jsonpath`: States.Runtime: a JSONPath in the Train state's Parameters is not
in the input; no job ran. Expected category: orchestration.
"""

from __future__ import annotations

import json

from investigator.demo.scenarios.common import (
    DLC,
    Scenario,
    execution_arn,
    failed_execution,
    sagemaker_task_state,
    training_params,
)
from investigator.demo.seed import (
    History,
    World,
    put_state_machine,
    utc,
)

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


SCENARIO = Scenario(
    name="bad-jsonpath",
    description="States.Runtime: a JSONPath in the Train state's Parameters is "
                "not in the input; no job ran",
    seed=seed_bad_jsonpath,
    kind="execution",
    target=execution_arn(FORECAST_SM, FORECAST_EXEC),
    expected="orchestration",
    failed_state="Train",
)
