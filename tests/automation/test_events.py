"""Event parsing: every documented shape becomes a Failure, a sweep, or a reasoned Ignored."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from investigator.automation.events import (
    Failure,
    Ignored,
    SweepRequest,
    parse_event,
    safe_name,
)

from .conftest import load_event


def test_step_functions_failure_carries_target_time_and_event_facts():
    parsed = parse_event(load_event("sfn_execution_failed"))
    assert isinstance(parsed, Failure)
    arn = "arn:aws:states:us-east-1:123456789012:execution:training-pipeline:run-20240501-0930"
    assert parsed.target.kind == "execution" and parsed.target.name == arn
    assert parsed.target.region == "us-east-1"
    assert parsed.key == f"execution:{arn}"
    # stopDate is a number of epoch milliseconds in Step Functions events
    assert parsed.failed_at == datetime(2024, 5, 1, 10, 42, 21, 881000, tzinfo=UTC)
    assert parsed.report_name == "training-pipeline.run-20240501-0930"
    assert parsed.facts["sfn.error"] == "States.TaskFailed"
    assert "ModuleNotFoundError" in parsed.facts["sfn.cause"]


@pytest.mark.parametrize("name", ["sfn_execution_timed_out", "sfn_execution_aborted"])
def test_other_failed_statuses_are_failures_even_without_error_fields(name):
    parsed = parse_event(load_event(name))
    assert isinstance(parsed, Failure)
    assert parsed.facts["sfn.status"] in ("TIMED_OUT", "ABORTED")
    assert "sfn.error" not in parsed.facts


def test_a_redriven_execution_that_fails_again_is_a_new_failure():
    first = load_event("sfn_execution_failed")
    again = copy.deepcopy(first)
    again["detail"]["redriveCount"] = 1
    a, b = parse_event(first), parse_event(again)
    assert isinstance(a, Failure) and isinstance(b, Failure)
    assert a.key != b.key and a.report_name != b.report_name


def test_sagemaker_failure_reads_string_epoch_ms_and_never_keeps_hyperparameters():
    parsed = parse_event(load_event("sagemaker_training_failed"))
    assert isinstance(parsed, Failure)
    assert parsed.target.kind == "job" and parsed.target.job_kind == "training"
    assert parsed.target.name == "train-20240501-0930"
    # TrainingEndTime is the *string* "1714559473000" in SageMaker events
    assert parsed.failed_at == datetime(2024, 5, 1, 10, 31, 13, tzinfo=UTC)
    assert parsed.facts["sagemaker.instance_type"] == "ml.g5.xlarge"
    assert parsed.facts["sagemaker.failure_reason"].startswith("AlgorithmError")
    assert "hf_abcdefghij" not in repr(parsed)


def test_max_runtime_exceeded_is_a_failure_but_a_user_stop_is_not():
    timeout = parse_event(load_event("sagemaker_training_max_runtime"))
    assert isinstance(timeout, Failure)
    assert timeout.facts["sagemaker.secondary_status"] == "MaxRuntimeExceeded"
    stopped = parse_event(load_event("sagemaker_training_stopped_by_user"))
    assert isinstance(stopped, Ignored)
    assert "Stopped/Stopped" in stopped.reason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("sfn_execution_succeeded", "SUCCEEDED is not a failure"),
        ("sagemaker_training_completed", "Completed/Completed is not a failure"),
        ("unrelated_ec2_state_change", "unrelated event aws.ec2"),
        ("malformed_sfn_no_execution_arn", "malformed execution event: executionArn"),
    ],
)
def test_unrelated_and_malformed_events_are_ignored_with_a_reason(name, reason):
    parsed = parse_event(load_event(name))
    assert isinstance(parsed, Ignored)
    assert reason in parsed.reason


@pytest.mark.parametrize(
    "raw",
    [None, "text", 42, [], {}, {"detail-type": "x"}, {"source": "aws.states", "detail-type": 5},
     {"source": "aws.sagemaker", "detail-type": "SageMaker Training Job State Change",
      "detail": {"TrainingJobName": "j", "TrainingJobStatus": "Failed",
                 "TrainingEndTime": "9" * 40}},
     {"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
      "detail": "not a mapping"}],
)
def test_garbage_never_raises(raw):
    assert isinstance(parse_event(raw), Ignored)


def test_schedule_is_a_sweep():
    parsed = parse_event(load_event("scheduled"))
    assert isinstance(parsed, SweepRequest)
    assert parsed.time == datetime(2024, 5, 3, 12, 0, tzinfo=UTC)


def test_safe_name_keeps_plain_names_and_disambiguates_rewritten_ones():
    assert safe_name("train-2024.v1_a") == "train-2024.v1_a"
    a, b = safe_name("run/ä"), safe_name("run/ö")
    assert a != b and a.startswith("run-")
    assert safe_name("../../etc/passwd").startswith("etc_passwd-")
    assert "/" not in safe_name("a/b") and safe_name("").startswith("unnamed")


# -- processing jobs (issue 11, item 11) ------------------------------------------------------
# The fixture is the documented example of "SageMaker processing job state change" in the
# SageMaker Developer Guide, "Events that Amazon SageMaker AI sends to Amazon EventBridge"
# (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html):
# unlike the training event, its times are *numbers* of epoch milliseconds.


def test_processing_failure_event_is_a_processing_job_failure():
    parsed = parse_event(load_event("sagemaker_processing_failed"))
    assert isinstance(parsed, Failure)
    name = "integ-test-analytics-algo-54ee3282-5899-4aa3-afc2-7ce1d02"
    assert parsed.key == f"job:processing:{name}"
    assert parsed.target.kind == "job" and parsed.target.job_kind == "processing"
    assert parsed.target.name == name and parsed.report_name == name
    assert parsed.failed_at == datetime(2024, 1, 3, 22, 25, 46, tzinfo=UTC)  # ProcessingEndTime
    assert parsed.facts["sagemaker.job_kind"] == "processing"
    assert parsed.facts["sagemaker.failure_reason"].startswith("InternalServerError")
    assert parsed.facts["sagemaker.instance_type"] == "ml.c5.xlarge"
    assert parsed.facts["sagemaker.instance_count"] == 3
    assert parsed.facts["sagemaker.image"].endswith("/processing-uri:latest")


@pytest.mark.parametrize("status", ["Completed", "Stopped", "InProgress"])
def test_processing_events_that_are_not_failures_are_ignored(status):
    event = load_event("sagemaker_processing_completed")
    event["detail"]["ProcessingJobStatus"] = status
    parsed = parse_event(event)
    assert isinstance(parsed, Ignored) and f"status {status} is not a failure" in parsed.reason


def test_a_processing_event_without_its_name_is_malformed():
    event = load_event("sagemaker_processing_failed")
    del event["detail"]["ProcessingJobName"]
    parsed = parse_event(event)
    assert isinstance(parsed, Ignored) and "malformed processing job event" in parsed.reason
