"""SageMaker collector: Describe* → sagemaker.* facts, redaction, timeouts, gaps."""

from __future__ import annotations

import boto3
import pytest

from investigator.aws import open_context
from investigator.collectors import JobRef
from investigator.collectors import sagemaker as sm
from investigator.errors import AwsError, InputError
from investigator.redact import MASK
from tests.collectors import helpers as h


def _collect(session: boto3.Session, job: JobRef, *, is_target: bool = True):
    ctx = open_context(profile=None, region=h.REGION, deadline=None, session=session)
    c = sm.collect_job(ctx, job, is_target=is_target)
    return c


def test_failed_training_job_facts(aws: boto3.Session) -> None:
    h.training_job(aws, "train-1", reason="AlgorithmError: ExecuteUserScriptError: exit 1",
                   instance="ml.p3.2xlarge", count=2)
    c = _collect(aws, JobRef("train-1"))
    f = c.facts
    assert f["sagemaker.status"] == "Failed"
    assert f["sagemaker.failure_reason"].startswith("AlgorithmError")
    assert f["sagemaker.instance_type"] == "ml.p3.2xlarge"
    assert f["sagemaker.instance_count"] == 2
    assert f["sagemaker.image"] == h.IMAGE
    assert f["sagemaker.input_uris"] == ["s3://data/train/"]
    assert f["sagemaker.runtime_s"] == 26 * 60
    assert f["sagemaker.container_started"] is True
    assert "Training in progress" in f["sagemaker.status_messages"]
    assert [t.event.split(":")[0] for t in c.timeline][:3] == [
        "training job created", "Starting", "Downloading"]
    assert c.timeline[-1].event == "training job Failed"


def test_max_runtime_exceeded_is_stopped_not_failed(aws: boto3.Session) -> None:
    h.training_job(aws, "long-1", status="Stopped", secondary="MaxRuntimeExceeded", reason=None,
                   max_runtime=1500)
    f = _collect(aws, JobRef("long-1")).facts
    assert (f["sagemaker.status"], f["sagemaker.secondary_status"]) == (
        "Stopped", "MaxRuntimeExceeded")
    assert f["sagemaker.max_runtime_s"] == 1500
    assert f["sagemaker.runtime_s"] >= f["sagemaker.max_runtime_s"]
    assert "sagemaker.failure_reason" not in f


def test_capacity_failure_never_started_the_container(aws: boto3.Session) -> None:
    h.training_job(aws, "cap-1", ran=False,
                   reason="CapacityError: Unable to provision requested ML compute capacity.",
                   transitions=[("Starting", "Insufficient capacity error from EC2 while "
                                 "launching instances, retrying!"), ("Failed", "failed")])
    f = _collect(aws, JobRef("cap-1")).facts
    assert f["sagemaker.container_started"] is False
    assert "sagemaker.started" not in f
    assert "Insufficient capacity" in f["sagemaker.status_messages"]


def test_secrets_in_hyperparameters_and_environment_are_redacted(aws: boto3.Session) -> None:
    token = "hf_" + "a1B2c3D4e5" * 3
    h.training_job(aws, "sec-1", hp={"epochs": "3", "hf_token": token, "wandb_api_key": "k" * 40},
                   env={"HUGGINGFACE_TOKEN": token, "DB_PASSWORD": "hunter2", "MODE": "fast"})
    f = _collect(aws, JobRef("sec-1")).facts
    assert f["sagemaker.hyperparameters"] == {"epochs": "3", "hf_token": MASK,
                                              "wandb_api_key": MASK}
    assert f["sagemaker.environment"] == {"HUGGINGFACE_TOKEN": MASK, "DB_PASSWORD": MASK,
                                          "MODE": "fast"}
    assert token not in repr(f)


def test_processing_job_facts(aws: boto3.Session) -> None:
    from moto.sagemaker.models import sagemaker_backends

    client = aws.client("sagemaker", region_name=h.REGION)
    client.create_processing_job(
        ProcessingJobName="prep-1",
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                               "VolumeSizeInGB": 30}},
        AppSpecification={"ImageUri": h.IMAGE, "ContainerEntrypoint": ["python3", "prep.py"]},
        RoleArn=h.ROLE,
        ProcessingInputs=[{"InputName": "raw", "S3Input": {
            "S3Uri": "s3://data/raw/", "LocalPath": "/opt/ml/processing/input",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    job = sagemaker_backends[h.ACCOUNT][h.REGION].processing_jobs["prep-1"]
    # moto gap: processing jobs are always Completed and ProcessingResources is dropped;
    # set what DescribeProcessingJob returns on AWS on the backend job.
    job.processing_resources = {"ClusterConfig": {"InstanceCount": 1,
                                                  "InstanceType": "ml.m5.xlarge",
                                                  "VolumeSizeInGB": 30}}
    job.processing_job_status = "Failed"
    job.exit_message = "FileNotFoundError: /opt/ml/processing/input/data.csv"
    job.failure_reason = "AlgorithmError: See job logs for more information"
    f = _collect(aws, JobRef("prep-1", kind="processing")).facts
    assert f["sagemaker.job_kind"] == "processing"
    assert f["sagemaker.status"] == "Failed"
    assert f["sagemaker.exit_message"].startswith("FileNotFoundError")
    assert f["sagemaker.entrypoint"] == ["python3", "prep.py"]
    assert f["sagemaker.input_uris"] == ["s3://data/raw/"]
    assert f["sagemaker.instance_type"] == "ml.m5.xlarge"


def test_missing_job_as_target_is_an_aws_error(aws: boto3.Session) -> None:
    with pytest.raises(AwsError, match="training job nope not found in us-east-1"):
        _collect(aws, JobRef("nope"))


def test_access_denied_as_target_names_the_action(aws: boto3.Session) -> None:
    h.training_job(aws, "den-1")
    h.deny(aws, "DescribeTrainingJob")
    with pytest.raises(AwsError, match="sagemaker:DescribeTrainingJob"):
        _collect(aws, JobRef("den-1"))


def test_access_denied_as_secondary_source_is_a_gap(aws: boto3.Session) -> None:
    h.training_job(aws, "den-2")
    h.deny(aws, "DescribeTrainingJob")
    c = _collect(aws, JobRef("den-2"), is_target=False)
    assert c.facts == {}
    assert [(g.source, g.code, g.missing_permission) for g in c.gaps] == [
        ("sagemaker", "AccessDenied", "sagemaker:DescribeTrainingJob")]


def test_request_parameters_give_the_same_facts() -> None:
    """A CreateTrainingJob request (TaskScheduled parameters) uses the Describe shape."""
    f = sm.job_facts(h.training_params("req", instance="ml.g5.xlarge"), "training")
    assert f["sagemaker.instance_type"] == "ml.g5.xlarge"
    assert f["sagemaker.hyperparameters"] == {"epochs": "3", "lr": "0.001"}
    assert "sagemaker.container_started" not in f


@pytest.mark.parametrize(
    "text,expected",
    [
        ("my-job-1", ("my-job-1", "training", None)),
        ("arn:aws:sagemaker:eu-west-1:123456789012:processing-job/prep-2",
         ("prep-2", "processing", "eu-west-1")),
    ],
)
def test_job_target_parsing(text: str, expected: tuple) -> None:
    ref, region = sm.parse_job_target(text, None)
    assert (ref.name, ref.kind, region) == expected


@pytest.mark.parametrize("bad", ["has space", "under_score", "-leading", "x" * 64, ""])
def test_malformed_job_name_is_input_error(bad: str) -> None:
    with pytest.raises(InputError, match="not a SageMaker job name"):
        sm.parse_job_target(bad, "training")


# Item 5 of issue 11. API_SecondaryStatusTransition: a job shows SecondaryStatus `Training` with
# StatusMessage "Downloading the training image" before the container runs, then "Training
# image download completed. Training in progress."
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_SecondaryStatusTransition.html
PULL_FAILED = [("Starting", "Preparing the instances for training"),
               ("Downloading", "Downloading input data"),
               ("Training", "Downloading the training image"),
               ("Failed", "Training job failed")]


def test_image_pull_failure_never_started_the_container(aws: boto3.Session) -> None:
    h.training_job(aws, "pull-1", transitions=PULL_FAILED,
                   reason="ClientError: Cannot pull algorithm container. Either the image does "
                          "not exist or its permissions are incorrect.")
    f = _collect(aws, JobRef("pull-1")).facts
    assert f["sagemaker.container_started"] is False


def test_training_after_the_image_download_completed_started_the_container(
        aws: boto3.Session) -> None:
    h.training_job(aws, "ran-1", transitions=[*PULL_FAILED[:3], (
        "Training", "Training image download completed. Training in progress."),
        ("Failed", "Training job failed")])
    assert _collect(aws, JobRef("ran-1")).facts["sagemaker.container_started"] is True


def test_data_download_alone_is_not_a_started_container(aws: boto3.Session) -> None:
    h.training_job(aws, "dl-1", transitions=[PULL_FAILED[0], PULL_FAILED[1],
                                             ("Failed", "Training job failed")],
                   reason="ClientError: Data download failed: NoSuchKey")
    assert _collect(aws, JobRef("dl-1")).facts["sagemaker.container_started"] is False


@pytest.mark.parametrize("kind,operation", [("training", "describe_training_job"),
                                            ("processing", "describe_processing_job")])
def test_resource_not_found_is_a_clear_not_found(kind: str, operation: str) -> None:
    """Item 11 of issue 11: botocore's sagemaker model lists ResourceNotFound as the error of
    DescribeTrainingJob and DescribeProcessingJob."""
    from tests.collectors.stubbed import stubbed

    with stubbed("sagemaker") as (ctx, stubs):
        stubs["sagemaker"].add_client_error(operation, "ResourceNotFound",
                                            "Requested resource not found.", 400)
        stubs["sagemaker"].add_client_error(operation, "ResourceNotFound",
                                            "Requested resource not found.", 400)
        with pytest.raises(AwsError, match=f"{kind} job gone-9 not found in us-east-1") as info:
            sm.collect_job(ctx, JobRef("gone-9", kind=kind), is_target=True)
        c = sm.collect_job(ctx, JobRef("gone-9", kind=kind), is_target=False)
    assert info.value.retryable is False
    assert "sagemaker.status" not in c.facts
    assert [(g.source, g.code) for g in c.gaps] == [("sagemaker", "NotFound")]
