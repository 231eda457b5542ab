"""Step Functions shapes end to end on moto: collectors → classifier → what the user reads.

moto gaps (canned histories, jobs that cannot fail) are filled by tests/collectors/helpers.py.
"""

from __future__ import annotations

import json
from datetime import timedelta

import boto3

from investigator.models import Target
from investigator.pipeline import investigate_target
from investigator.reporter import render
from tests.collectors import helpers as h
from tests.collectors.conftest import aws, paged_history  # noqa: F401  (fixtures)

TRAIN = "createTrainingJob.sync"
JOB_ARN = f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:training-job/"


def test_quality_gate_after_a_completed_job_is_the_workflow_stopping_itself(
    aws: boto3.Session, paged_history: dict  # noqa: F811
) -> None:
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("gate-ok-1"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + "gate-ok-1"})
    b.succeeded(TRAIN)
    b.exit("Train")
    b.enter("AccuracyGate", "Choice")
    b.exit("AccuracyGate", "Choice")
    b.enter("ModelBelowThreshold", "Fail")
    b.execution_failed("ModelBelowThreshold", "validation accuracy 0.71 is below 0.80")
    arn = h.execution(aws, sm, "gate-1", b)
    h.training_job(aws, "gate-ok-1", status="Completed", secondary="Completed", reason=None)
    # A finished job's log with the noise finished jobs have (a retried download, a warning).
    h.log_stream(aws, "gate-ok-1/algo-1-1740830000", [
        "WARNING: botocore.exceptions.ReadTimeoutError: Read timeout on endpoint URL, retrying",
        "epoch 3 val_accuracy 0.71", "Training complete.",
        "2025-03-01 12:30:00 Reporting training SUCCESS"])
    _, inv = investigate_target(Target(kind="execution", name=arn), session=aws)
    assert inv.failed_state == "ModelBelowThreshold"
    assert inv.finding.rule == "orchestration-sfn-fail-state", inv.finding.rule
    assert "validation accuracy 0.71 is below 0.80" in inv.finding.title
    assert "failed state: ModelBelowThreshold" in render(inv, "text")


def test_retry_with_a_fixed_job_name_diagnoses_the_job_logs(
    aws: boto3.Session, paged_history: dict  # noqa: F811
) -> None:
    """aws/aws-step-functions-data-science-sdk-python#140: retries reuse the job name and are
    refused with ResourceInUse; the job that ran is read, its log decides."""
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("fixed-1"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + "fixed-1"})
    cause = json.dumps({"TrainingJobName": "fixed-1", "TrainingJobStatus": "Failed",
                        "FailureReason": "AlgorithmError: ExecuteUserScriptError: ExitCode 1"})
    b.task_failed(TRAIN, "States.TaskFailed", cause, seconds=600)
    b.schedule(TRAIN, h.training_params("fixed-1"))
    b.started(TRAIN)
    in_use = ("Training job names must be unique within an AWS account and region, and a "
              "training job with this name already exists (" + JOB_ARN + "fixed-1) (Service: "
              "AmazonSageMaker; Status Code: 400; Error Code: ResourceInUse; Request ID: 1f)")
    b.task_failed(TRAIN, "SageMaker.AmazonSageMakerException", in_use)
    b.execution_failed("SageMaker.AmazonSageMakerException", in_use)
    arn = h.execution(aws, sm, "fixed-run", b)
    h.training_job(aws, "fixed-1", reason="AlgorithmError: ExecuteUserScriptError: ExitCode 1")
    h.log_stream(aws, "fixed-1/algo-1-1740830000", [
        "Traceback (most recent call last):", '  File "train.py", line 3, in <module>',
        "    import einops", "ModuleNotFoundError: No module named 'einops'"])
    h.ecr_image(aws, pushed=h.T0 - timedelta(days=2))
    ev, inv = investigate_target(Target(kind="execution", name=arn), session=aws)
    assert inv.finding.category == "deps"
    assert inv.job is not None and inv.job.name == "fixed-1" and inv.job.status == "Failed"
    assert ev.facts["sfn.attempts"] == 2
    assert any("ResourceInUse" in e for e in ev.facts["sfn.attempt_errors"])
