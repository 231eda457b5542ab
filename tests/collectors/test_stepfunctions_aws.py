"""Step Functions behaviours of real AWS that moto never produces (issue 11, item 12).

Each history is served through botocore's Stubber, which validates it against the Step
Functions service model (botocore/data/stepfunctions/2016-11-23/service-2.json), so the
shapes are AWS's own. Each test names the AWS source of the behaviour it relies on.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from investigator.collectors import stepfunctions as sfn
from tests.collectors import helpers as h
from tests.collectors.helpers import stubbed_aws  # noqa: F401  (the `aws` fixture)

TRAIN = "createTrainingJob.sync"
JOB_ARN = f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:training-job/"




def _job_cause(job: str, reason: str) -> str:
    """The DescribeTrainingJob JSON a failed `.sync` task carries as its cause."""
    return json.dumps({"TrainingJobName": job, "TrainingJobArn": JOB_ARN + job,
                       "TrainingJobStatus": "Failed", "SecondaryStatus": "Failed",
                       "FailureReason": reason})


def _attempt(b: h.HistoryBuilder, job: str, reason: str, prev: int | None = None) -> int:
    b.schedule(TRAIN, h.training_params(job), prev=prev)
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + job})
    return b.task_failed(TRAIN, "States.TaskFailed", _job_cause(job, reason), seconds=300)


# --- item 1: retry with a fixed job name ------------------------------------------------------


def test_retry_with_a_fixed_job_name_diagnoses_the_job_that_ran(aws: h.StubbedAws) -> None:
    """Step Functions retries with the same parameters, so a fixed TrainingJobName is refused
    with ResourceInUse on every retry (aws/aws-step-functions-data-science-sdk-python#140);
    the job that ran and failed is the one the first attempt's TaskSubmitted names."""
    b = h.HistoryBuilder()
    b.enter("Train")
    _attempt(b, "fixed-name", "AlgorithmError: CUDA out of memory, exit code 1")
    for _ in range(2):  # the retries: CreateTrainingJob refused, no TaskSubmitted
        b.schedule(TRAIN, h.training_params("fixed-name"))
        b.started(TRAIN)
        in_use = ("Training job names must be unique within an AWS account and region, and a "
                  "training job with this name already exists (" + JOB_ARN + "fixed-name) "
                  "(Service: AmazonSageMaker; Status Code: 400; Error Code: ResourceInUse; "
                  "Request ID: 5c0e)")
        b.task_failed(TRAIN, "SageMaker.AmazonSageMakerException", in_use)
    b.execution_failed("SageMaker.AmazonSageMakerException", in_use)
    arn = h.execution_arn("fixed")
    aws.execution(arn, b.events)
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert res.job is not None and res.job.name == "fixed-name" and res.job_started is True
    assert res.job.arn == JOB_ARN + "fixed-name"
    assert f["sfn.job_started"] is True
    assert f["sfn.failed_state"] == "Train"
    # The diagnosis is the failure of the job that ran, not the refused retries.
    assert f["sfn.error"] == "States.TaskFailed"
    assert "CUDA out of memory" in f["sfn.cause"]
    assert res.cause_job is not None and "out of memory" in res.cause_job["FailureReason"]
    assert f["sfn.attempts"] == 3
    assert any("ResourceInUse" in e for e in f["sfn.attempt_errors"])


# --- item 2: earlier attempts keep their errors -----------------------------------------------


def test_earlier_attempts_keep_their_errors(aws: h.StubbedAws) -> None:
    """Retry re-runs the task; each attempt's TaskFailed stays in the history (API_HistoryEvent)."""
    b = h.HistoryBuilder()
    b.enter("Train")
    for i, reason in enumerate(["CapacityError: Unable to provision requested ML compute "
                                "capacity. Please retry using a different ML instance type.",
                                "CapacityError: Unable to provision requested ML compute "
                                "capacity. Please retry using a different ML instance type.",
                                "AlgorithmError: framework error: exit code 1"]):
        _attempt(b, f"train-a{i + 1}", reason)
    b.execution_failed("States.TaskFailed", _job_cause("train-a3", "AlgorithmError: exit code 1"))
    arn = h.execution_arn("attempts")
    aws.execution(arn, b.events)
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert res.job is not None and res.job.name == "train-a3"
    assert f["sfn.attempts"] == 3
    prior = f["sfn.attempt_errors"]
    # Each attempt reads "attempt N: Error: FailureReason" (the cause cut to its telling part).
    capacity = ("States.TaskFailed: CapacityError: Unable to provision requested ML compute "
                "capacity. Please retry using a different ML instance type.")
    assert prior == [f"attempt 1: {capacity}", f"attempt 2: {capacity}"]
    attempts = [t.event for t in res.collected.timeline if "attempt" in t.event]
    assert len(attempts) == 3
    assert "attempt 1" in attempts[0] and "CapacityError" in attempts[0]
    assert "attempt 3" in attempts[2] and "AlgorithmError" in attempts[2]


# --- item 3: Distributed Map ------------------------------------------------------------------

MAP_RUN = (f"arn:aws:states:{h.REGION}:{h.ACCOUNT}:mapRun:training-pipeline/TrainShards:"
           "3a1c9a14-5e4f-3bd4-9f2c-0b1a0d6f1e47")
CHILD = (f"arn:aws:states:{h.REGION}:{h.ACCOUNT}:execution:training-pipeline/TrainShards:"
         "9b2f0c11-7d3a-3e5e-8a41-6c2d1e0f4a77")


def _distributed_map_history() -> h.HistoryBuilder:
    """MapRunStarted carries the mapRunArn; MapRunFailed only error and cause (botocore
    MapRunStartedEventDetails / MapRunFailedEventDetails)."""
    b = h.HistoryBuilder()
    b.enter("Prepare", "Pass")
    b.exit("Prepare", "Pass")
    b.enter("TrainShards", "Map")
    b.add("MapStateStarted", mapStateStartedEventDetails={"length": 0})
    b.add("MapRunStarted", mapRunStartedEventDetails={"mapRunArn": MAP_RUN})
    cause = "The specified tolerated failure threshold was exceeded"
    b.add("MapRunFailed", seconds=900, mapRunFailedEventDetails={
        "error": "States.ExceedToleratedFailureThreshold", "cause": cause})
    b.add("MapStateFailed")
    b.execution_failed("States.ExceedToleratedFailureThreshold", cause)
    return b


def test_distributed_map_follows_the_first_failed_child(aws: h.StubbedAws) -> None:
    """A Distributed Map runs iterations as child executions: ListExecutions(mapRunArn=...,
    statusFilter=FAILED) lists them (botocore ListExecutionsInput.mapRunArn; Step Functions
    guide "Examining Map Run")."""
    arn = h.execution_arn("dmap")
    aws.execution(arn, _distributed_map_history().events)
    aws.stub("stepfunctions").add_response("list_executions", {"executions": [
        {"executionArn": CHILD, "stateMachineArn": MAP_RUN.replace(":mapRun:", ":stateMachine:"),
         "name": CHILD.rsplit(":", 1)[-1], "status": "FAILED", "startDate": h.T0,
         "stopDate": h.T0 + timedelta(minutes=9), "mapRunArn": MAP_RUN}]},
        {"mapRunArn": MAP_RUN, "statusFilter": "FAILED", "maxResults": sfn.MAP_CHILDREN})
    cb = h.HistoryBuilder()
    h.sync_training_failure(cb, "TrainOne", "shard-17", "AlgorithmError: exit code 137")
    aws.execution(CHILD, cb.events)
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert f["sfn.map_run_arn"] == MAP_RUN
    assert f["sfn.map_state"] == "TrainShards"
    assert f["sfn.nested_execution_arn"] == CHILD
    assert f["sfn.parent_failed_state"] == "TrainShards"
    assert f["sfn.failed_state"] == "TrainOne"
    assert res.job is not None and res.job.name == "shard-17" and res.job_started
    assert f["sfn.execution_arn"] == arn  # the target stays the parent
    assert not res.collected.gaps


def test_distributed_map_child_that_cannot_be_listed_is_a_gap(aws: h.StubbedAws) -> None:
    arn = h.execution_arn("dmap-denied")
    aws.execution(arn, _distributed_map_history().events)
    aws.stub("stepfunctions").add_client_error(
        "list_executions", "AccessDeniedException",
        "User is not authorized to perform: states:ListExecutions")
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert f["sfn.failed_state"] == "TrainShards"
    assert f["sfn.error"] == "States.ExceedToleratedFailureThreshold"
    assert [(g.code, g.missing_permission) for g in res.collected.gaps] == [
        ("AccessDenied", "states:ListExecutions")]


def test_distributed_map_without_failed_children_is_a_gap(aws: h.StubbedAws) -> None:
    arn = h.execution_arn("dmap-none")
    aws.execution(arn, _distributed_map_history().events)
    aws.stub("stepfunctions").add_response("list_executions", {"executions": []})
    res = sfn.collect_execution(aws.ctx, arn)
    assert res.collected.facts["sfn.failed_state"] == "TrainShards"
    assert [g.code for g in res.collected.gaps] == ["MapRunChildNotFound"]
    assert MAP_RUN in res.collected.gaps[0].message


# --- item 4: eventual consistency -------------------------------------------------------------


def test_history_terminal_event_wins_over_a_stale_describe(aws: h.StubbedAws) -> None:
    """DescribeExecution "is eventually consistent" (botocore DescribeExecution documentation):
    it may still say RUNNING after the history recorded ExecutionFailed."""
    b = h.HistoryBuilder()
    h.sync_training_failure(b, "Train", "train-fresh", "AlgorithmError: exit code 1")
    arn = h.execution_arn("stale")
    aws.execution(arn, b.events, status="RUNNING")
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert f["sfn.status"] == "FAILED"
    assert f["sfn.failed_state"] == "Train"
    assert f["sfn.error"] == "States.TaskFailed"
    assert res.job is not None and res.job.name == "train-fresh" and res.job_started


# --- item 7: GetExecutionHistory paging -------------------------------------------------------


def test_history_pages_keep_every_argument_but_the_token(aws: h.StubbedAws) -> None:
    """nextToken: "Make the call again using the returned token ... Keep all other arguments
    unchanged." (botocore GetExecutionHistoryInput.nextToken)."""
    b = h.HistoryBuilder()
    b.enter("Fanout", "Map")
    b.enter("Shard")
    b.schedule(TRAIN, h.training_params("shard-3"))
    b.started(TRAIN)
    failed = b.task_failed(TRAIN, "SageMaker.ResourceLimitExceededException", "limit is 2")
    b.add("MapIterationFailed", failed, mapIterationFailedEventDetails={"name": "Fanout",
                                                                        "index": 3})
    for i in range(250):
        b.add("MapIterationAborted", mapIterationAbortedEventDetails={"name": "Fanout",
                                                                      "index": 10 + i})
    b.add("MapStateFailed")
    b.execution_failed("States.TaskFailed", "a Map iteration failed")
    arn = h.execution_arn("pages")
    aws.execution(arn, b.events, page=100)
    res = sfn.collect_execution(aws.ctx, arn)
    assert res.collected.facts["sfn.failed_state"] == "Shard"
    pages = aws.calls("GetExecutionHistory")
    assert len(pages) == 3
    assert [p.get("nextToken") for p in pages] == [None, "token-100", "token-200"]
    rest = [{k: v for k, v in p.items() if k != "nextToken"} for p in pages]
    assert all(r == rest[0] for r in rest)
    assert rest[0]["includeExecutionData"] is True and rest[0]["reverseOrder"] is True


# --- item 11: KMS errors and HPO tasks --------------------------------------------------------


@pytest.mark.parametrize("code,gap_code,permission", [
    ("KmsAccessDeniedException", "AccessDenied", "kms:Decrypt"),
    ("KmsThrottlingException", "Throttling", None),
    ("KmsInvalidStateException", "KmsInvalidState", None),
])
def test_kms_errors_reading_an_encrypted_history(
    aws: h.StubbedAws, code: str, gap_code: str, permission: str | None
) -> None:
    """A state machine encrypted with a customer managed key: GetExecutionHistory raises
    KmsAccessDeniedException / KmsThrottlingException / KmsInvalidStateException (botocore
    GetExecutionHistory errors; Step Functions guide "Data at rest encryption")."""
    arn = h.execution_arn("kms")
    aws.execution(arn, None, describe={"error": "States.TaskFailed", "cause": "boom"})
    aws.stub("stepfunctions").add_client_error("get_execution_history", code, "KMS said no")
    res = sfn.collect_execution(aws.ctx, arn)
    gaps = res.collected.gaps
    assert [(g.code, g.missing_permission) for g in gaps] == [(gap_code, permission)]
    assert "KMS" in gaps[0].message
    assert res.collected.facts["sfn.error"] == "States.TaskFailed"


HPO = h.TUNING


def test_hpo_task_follows_the_first_failed_training_job(aws: h.StubbedAws) -> None:
    """createHyperParameterTuningJob.sync (Step Functions guide connect-sagemaker): the tuning
    job's own FailureReason says little; ListTrainingJobsForHyperParameterTuningJob
    (StatusEquals=Failed) names the training jobs that failed."""
    b = h.HistoryBuilder()
    b.enter("Tune")
    b.schedule(HPO, {"HyperParameterTuningJobName": "tune-7", "HyperParameterTuningJobConfig": {
        "Strategy": "Bayesian"}})
    b.started(HPO)
    b.submitted(HPO, {"HyperParameterTuningJobArn":
                      f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:hyper-parameter-tuning-job/tune-7"})
    cause = json.dumps({"HyperParameterTuningJobName": "tune-7",
                        "HyperParameterTuningJobStatus": "Failed",
                        "FailureReason": "All training jobs failed. Please take a look at the "
                                         "training jobs failures to get more details.",
                        "TrainingJobStatusCounters": {"Failed": 2, "NonRetryableError": 2}})
    b.task_failed(HPO, "States.TaskFailed", cause)
    b.execution_failed("States.TaskFailed", cause)
    arn = h.execution_arn("hpo")
    aws.execution(arn, b.events)
    summary = {"TrainingJobArn": JOB_ARN, "CreationTime": h.T0, "TrainingJobStatus": "Failed",
               "TunedHyperParameters": {"lr": "0.1"}}
    aws.stub("sagemaker").add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": [
            {**summary, "TrainingJobName": "tune-7-001-aaa", "TrainingJobArn": JOB_ARN + "tune-7-001-aaa"},
            {**summary, "TrainingJobName": "tune-7-002-bbb", "TrainingJobArn": JOB_ARN + "tune-7-002-bbb",
             "CreationTime": h.T0 + timedelta(minutes=5)}]},
        {"HyperParameterTuningJobName": "tune-7", "StatusEquals": "Failed",
         "SortBy": "CreationTime", "SortOrder": "Ascending", "MaxResults": 10})
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert f["sfn.failed_state"] == "Tune"
    assert f["sfn.tuning_job_name"] == "tune-7"
    assert res.job is not None and res.job.name == "tune-7-001-aaa" and res.job.kind == "training"
    assert res.job_started is True


def test_hpo_training_jobs_unreadable_is_a_gap(aws: h.StubbedAws) -> None:
    b = h.HistoryBuilder()
    h.sync_tuning_failure(b, "tune-8", "States.TaskFailed", json.dumps(
        {"HyperParameterTuningJobName": "tune-8", "FailureReason": "All jobs failed"}), "x")
    arn = h.execution_arn("hpo-denied")
    aws.execution(arn, b.events)
    aws.stub("sagemaker").add_client_error(
        "list_training_jobs_for_hyper_parameter_tuning_job", "AccessDeniedException", "no")
    res = sfn.collect_execution(aws.ctx, arn)
    assert res.collected.facts["sfn.failed_state"] == "Tune"
    assert [g.missing_permission for g in res.collected.gaps] == [
        "sagemaker:ListTrainingJobsForHyperParameterTuningJob"]


# --- issue 11 item 12: stopped by a person ----------------------------------------------------


def test_aborted_execution_is_a_stop_not_a_failure(aws: h.StubbedAws) -> None:
    """StopExecution ends the history with ExecutionAborted (optional error/cause given to
    StopExecution; botocore ExecutionAbortedEventDetails)."""
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("stopped-1"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + "stopped-1"})
    b.add("ExecutionAborted", seconds=1800, executionAbortedEventDetails={})
    arn = h.execution_arn("stopped")
    aws.execution(arn, b.events, status="ABORTED")
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert f["sfn.status"] == "ABORTED"
    assert f["sfn.stopped_at"] == (h.T0 + timedelta(hours=1)).isoformat()
    assert f["sfn.stopped_state"] == "Train"
    for failure_fact in ("sfn.failed_state", "sfn.error", "sfn.cause", "sfn.failed_event_type"):
        assert failure_fact not in f
    assert res.job is not None and res.job.name == "stopped-1" and res.job_started


def test_kms_refusal_on_the_target_names_kms_decrypt(aws: h.StubbedAws) -> None:
    """DescribeExecution raises KmsAccessDeniedException on a CMK-encrypted state machine
    (botocore DescribeExecution errors): a one-line error naming the missing permission."""
    from investigator.errors import AwsError

    arn = h.execution_arn("kms-target")
    aws.stub("stepfunctions").add_client_error("describe_execution", "KmsAccessDeniedException",
                                               "KMS said no")
    with pytest.raises(AwsError, match="kms:Decrypt") as err:
        sfn.collect_execution(aws.ctx, arn)
    assert err.value.retryable is False


def test_unreadable_history_still_names_the_state_from_the_cause(aws: h.StubbedAws) -> None:
    arn = h.execution_arn("no-history")
    cause = ("An error occurred while executing the state 'BuildConfig' (entered at the event "
             "id #7). Invalid path '$.hp': The choice state's condition path references an "
             "invalid value.")
    aws.execution(arn, None, describe={"error": "States.Runtime", "cause": cause})
    aws.stub("stepfunctions").add_client_error("get_execution_history", "AccessDeniedException")
    res = sfn.collect_execution(aws.ctx, arn)
    assert res.collected.facts["sfn.failed_state"] == "BuildConfig"
    assert [g.missing_permission for g in res.collected.gaps] == ["states:GetExecutionHistory"]


def test_distributed_map_follows_the_earliest_started_failed_child(aws: h.StubbedAws) -> None:
    """ListExecutions' order is not the start order: the child that failed first (by
    startDate) is the one investigated; one listed without a startDate comes last."""
    arn = h.execution_arn("dmap-order")
    aws.execution(arn, _distributed_map_history().events)
    early = CHILD.replace("9b2f0c11", "0a0a0a0a")
    late = CHILD.replace("9b2f0c11", "1b1b1b1b")
    listed = [
        {"executionArn": late, "stateMachineArn": MAP_RUN.replace(":mapRun:", ":stateMachine:"),
         "name": "late", "status": "FAILED", "startDate": h.T0 + timedelta(minutes=5)},
        {"executionArn": early, "stateMachineArn": MAP_RUN.replace(":mapRun:", ":stateMachine:"),
         "name": "early", "status": "FAILED", "startDate": h.T0},
    ]
    aws.stub("stepfunctions").add_response("list_executions", {"executions": listed})
    cb = h.HistoryBuilder()
    h.sync_training_failure(cb, "TrainOne", "shard-0", "AlgorithmError: exit code 137")
    aws.execution(early, cb.events)
    res = sfn.collect_execution(aws.ctx, arn)
    assert res.collected.facts["sfn.nested_execution_arn"] == early


def test_a_map_run_listing_refused_names_the_map_run(aws: h.StubbedAws) -> None:
    arn = h.execution_arn("dmap-denied-msg")
    aws.execution(arn, _distributed_map_history().events)
    aws.stub("stepfunctions").add_client_error("list_executions", "AccessDeniedException", "no")
    res = sfn.collect_execution(aws.ctx, arn)
    assert [g.message for g in res.collected.gaps] == [
        f"access denied: states:ListExecutions on {MAP_RUN}"]


def test_a_map_run_failure_without_its_start_read_lists_nothing(aws: h.StubbedAws) -> None:
    """No mapRunArn in the history (MapRunStartedEventDetails.mapRunArn is optional in the
    botocore model): there is no Map Run to list."""
    b = _distributed_map_history()
    for e in b.events:
        if e["type"] == "MapRunStarted":
            e["mapRunStartedEventDetails"] = {}
    arn = h.execution_arn("dmap-no-start")
    aws.execution(arn, b.events)
    res = sfn.collect_execution(aws.ctx, arn)
    assert res.collected.facts["sfn.failed_state"] == "TrainShards"
    assert aws.calls("ListExecutions") == [] and res.collected.gaps == []


def test_a_tuning_jobs_listing_refused_names_the_tuning_job(aws: h.StubbedAws) -> None:
    b = h.HistoryBuilder()
    h.sync_tuning_failure(b, "tune-9", "States.TaskFailed", "All training jobs failed", "x")
    arn = h.execution_arn("hpo-denied-msg")
    aws.execution(arn, b.events)
    aws.stub("sagemaker").add_client_error(
        "list_training_jobs_for_hyper_parameter_tuning_job", "AccessDeniedException", "no")
    res = sfn.collect_execution(aws.ctx, arn)
    assert [g.message for g in res.collected.gaps] == [
        "access denied: sagemaker:ListTrainingJobsForHyperParameterTuningJob on tune-9"]
