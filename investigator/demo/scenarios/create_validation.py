"""Demo scenario `create-validation`: CreateTrainingJob rejected: generated TrainingJobName longer
than 63 characters. Expected category: orchestration.
"""

from __future__ import annotations

from investigator.demo.scenarios.common import (
    REGISTRY,
    Scenario,
    execution_arn,
    failed_task_execution,
    image,
    sagemaker_task_state,
    training_params,
)
from investigator.demo.seed import (
    History,
    Job,
    World,
    put_state_machine,
    request_id,
    training_request,
    utc,
)

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


SCENARIO = Scenario(
    name="create-validation",
    description="CreateTrainingJob rejected: generated TrainingJobName longer "
                "than 63 characters",
    seed=seed_validation,
    kind="execution",
    target=execution_arn(CLASSIFIER_SM, CLASSIFIER_EXEC),
    expected="orchestration",
    failed_state="Train",
)
