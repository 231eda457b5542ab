"""Issue 19: pins on what the collector follows past the failed state: a child execution it
could or could not read, the training jobs of a tuning job, and a target it cannot read.

Histories through botocore's Stubber (shapes validated against the Step Functions service
model); each assertion is what an investigation reports (failed state, error, job, gap).
"""

from __future__ import annotations

import json
import time

import pytest

from investigator.collectors import stepfunctions as sfn
from investigator.errors import AwsError
from tests.collectors import helpers as h
from tests.collectors.helpers import stubbed_aws  # noqa: F401  (the `aws` fixture)

START = "startExecution.sync:2"
HPO = h.TUNING
JOB_ARN = f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:training-job/"
CHILD = f"arn:aws:states:{h.REGION}:210987654321:execution:team-b-training:child-run-9"


def _parent(child: str, inner: str, state: str = "RunTraining") -> h.HistoryBuilder:
    """A startExecution.sync task whose child failed; the cause holds the child's
    DescribeExecution output (Step Functions guide connect-stepfunctions)."""
    cause = json.dumps({"ExecutionArn": child, "Status": "FAILED", "Error": "States.TaskFailed",
                        "Cause": inner})
    b = h.HistoryBuilder()
    b.enter(state)
    b.schedule(START, {"StateMachineArn": child.rsplit(":", 1)[0]}, rtype="states")
    b.started(START, rtype="states")
    b.submitted(START, {"ExecutionArn": child, "StartDate": 1}, rtype="states")
    b.task_failed(START, "States.TaskFailed", cause, rtype="states")
    b.execution_failed("States.TaskFailed", cause)
    return b


def _unreadable_child(aws: h.StubbedAws, name: str, inner: str) -> sfn.ExecutionResult:
    arn = h.execution_arn(name)
    aws.execution(arn, _parent(CHILD, inner).events)
    aws.stub("stepfunctions").add_client_error(
        "describe_execution", "AccessDeniedException", "not authorized",
        expected_params={"executionArn": CHILD})
    return sfn.collect_execution(aws.ctx, arn)


def test_unreadable_child_names_its_training_job_and_arn(aws: h.StubbedAws) -> None:
    inner = json.dumps({"TrainingJobName": "child-train", "TrainingJobArn": JOB_ARN + "child-train",
                        "TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: x"})
    res = _unreadable_child(aws, "child-train", inner)
    assert res.job is not None
    assert (res.job.name, res.job.kind, res.job.arn) == (
        "child-train", "training", JOB_ARN + "child-train")
    assert res.job_started is True


def test_unreadable_child_that_ran_no_job_reports_no_job(aws: h.StubbedAws) -> None:
    """The child failed in a Lambda: its cause is JSON without a job; no job is invented."""
    inner = json.dumps({"errorMessage": "bucket not found", "errorType": "ValueError"})
    res = _unreadable_child(aws, "child-lambda", inner)
    f = res.collected.facts
    assert res.job is None and res.job_started is False
    assert "sfn.job_name" not in f
    assert f["sfn.failed_state"] == "RunTraining"
    assert f["sfn.child_error"] == "States.TaskFailed"
    assert json.loads(f["sfn.child_cause"]) == json.loads(inner)


def test_unreadable_child_with_a_plain_text_cause(aws: h.StubbedAws) -> None:
    res = _unreadable_child(aws, "child-text", "the child state machine was deleted")
    f = res.collected.facts
    assert res.job is None
    assert f["sfn.child_cause"] == "the child state machine was deleted"
    assert f["sfn.nested_execution_arn"] == CHILD


def test_tuning_job_named_by_the_task_parameters(aws: h.StubbedAws) -> None:
    """The tuning task timed out: its cause is no DescribeHyperParameterTuningJob JSON, so the
    tuning job's name comes from the task's parameters."""
    b = h.HistoryBuilder()
    h.sync_tuning_failure(b, "tune-params", "States.Timeout",
                          "Task timed out after 86400 seconds", "Task timed out")
    arn = h.execution_arn("hpo-timeout")
    aws.execution(arn, b.events)
    aws.stub("sagemaker").add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job", {"TrainingJobSummaries": []},
        {"HyperParameterTuningJobName": "tune-params", "StatusEquals": "Failed",
         "SortBy": "CreationTime", "SortOrder": "Ascending", "MaxResults": 10})
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert f["sfn.tuning_job_name"] == "tune-params"
    assert [(g.code, g.message) for g in res.collected.gaps] == [
        ("TuningJobsNotFound", "no failed training job listed for tuning job tune-params")]
    assert res.job is None


def _expect_tuning_jobs(aws: h.StubbedAws, name: str) -> None:
    summary = {"TrainingJobName": f"{name}-001-aaa", "TrainingJobArn": JOB_ARN + f"{name}-001-aaa",
               "CreationTime": h.T0, "TrainingJobStatus": "Failed",
               "TunedHyperParameters": {"lr": "0.1"}}
    aws.stub("sagemaker").add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job", {"TrainingJobSummaries": [summary]},
        {"HyperParameterTuningJobName": name, "StatusEquals": "Failed",
         "SortBy": "CreationTime", "SortOrder": "Ascending", "MaxResults": 10})


def test_execution_timed_out_while_tuning_follows_the_tuning_job(aws: h.StubbedAws) -> None:
    """ExecutionTimedOut while the tuning task ran: no task failure, the parameters name it."""
    b = h.HistoryBuilder()
    b.enter("Tune")
    b.schedule(HPO, {"HyperParameterTuningJobName": "tune-long"})
    b.started(HPO)
    b.add("ExecutionTimedOut", executionTimedOutEventDetails={
        "error": "States.Timeout", "cause": "The execution timed out"})
    arn = h.execution_arn("hpo-exec-timeout")
    aws.execution(arn, b.events, status="TIMED_OUT")
    _expect_tuning_jobs(aws, "tune-long")
    res = sfn.collect_execution(aws.ctx, arn)
    assert res.collected.facts["sfn.failed_state"] == "Tune"
    assert res.collected.facts["sfn.tuning_job_name"] == "tune-long"
    assert res.job is not None and res.job.name == "tune-long-001-aaa"


def test_tuning_job_named_by_the_cause_when_the_parameters_do_not(aws: h.StubbedAws) -> None:
    """Parameters that are no JSON object (here: cut short) leave the cause's
    DescribeHyperParameterTuningJob output to name the tuning job."""
    b = h.HistoryBuilder()
    b.enter("Tune")
    b.add("TaskScheduled", taskScheduledEventDetails={
        "resourceType": "sagemaker", "resource": HPO, "region": h.REGION,
        "parameters": '{"HyperParameterTuningJobName": "tune-cut", "HyperParameterTu'})
    b.started(HPO)
    cause = json.dumps({"HyperParameterTuningJobName": "tune-cut",
                        "HyperParameterTuningJobStatus": "Failed",
                        "FailureReason": "All training jobs failed."})
    b.task_failed(HPO, "States.TaskFailed", cause)
    b.execution_failed("States.TaskFailed", cause)
    arn = h.execution_arn("hpo-cut")
    aws.execution(arn, b.events)
    _expect_tuning_jobs(aws, "tune-cut")
    res = sfn.collect_execution(aws.ctx, arn)
    assert res.collected.facts["sfn.tuning_job_name"] == "tune-cut"
    assert res.job is not None
    assert (res.job.name, res.job.kind, res.job.arn) == (
        "tune-cut-001-aaa", "training", JOB_ARN + "tune-cut-001-aaa")


# --- a target encrypted with a customer managed key --------------------------------------------

KMS_TARGET = [
    ("KmsAccessDeniedException", False,
     "access denied by the KMS key of execution {arn}: the caller needs kms:Decrypt on the "
     "state machine's customer managed key"),
    ("KmsThrottlingException", True, "KMS throttled the decryption of execution {arn}; retry later"),
    ("KmsInvalidStateException", False,
     "the KMS key of execution {arn} is disabled or pending deletion"),
]


@pytest.mark.parametrize("code,retryable,message", KMS_TARGET)
def test_kms_refusal_of_the_target_is_one_line_naming_the_key(
    aws: h.StubbedAws, code: str, retryable: bool, message: str
) -> None:
    """DescribeExecution of a CMK-encrypted state machine raises these (botocore
    DescribeExecution errors; Step Functions guide "Data at rest encryption")."""
    arn = h.execution_arn("kms-target")
    aws.stub("stepfunctions").add_client_error("describe_execution", code, "KMS said no")
    with pytest.raises(AwsError) as err:
        sfn.collect_execution(aws.ctx, arn)
    assert str(err.value) == message.format(arn=arn)
    assert err.value.retryable is retryable


def test_stop_time_from_the_history_when_describe_is_stale(aws: h.StubbedAws) -> None:
    """DescribeExecution is eventually consistent (botocore DescribeExecution documentation): it
    may still say RUNNING, without a stopDate, after the history recorded ExecutionAborted."""
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule("createTrainingJob.sync", h.training_params("stopped-2"))
    aborted = b.add("ExecutionAborted", seconds=600, executionAbortedEventDetails={})
    arn = h.execution_arn("stale-stop")
    aws.execution(arn, b.events, status="RUNNING")
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert f["sfn.status"] == "ABORTED"
    assert f["sfn.stopped_at"] == b.events[aborted - 1]["timestamp"].isoformat()
    assert f["sfn.stopped_state"] == "Train"


# --- which child execution a startExecution task ran -------------------------------------------


def _child_failure(aws: h.StubbedAws, child: str) -> None:
    """The child, readable: it prepared for a minute, then a training job failed in it."""
    b = h.HistoryBuilder()
    b.enter("Prepare", "Pass")
    b.add("PassStateExited", seconds=60, stateExitedEventDetails={"name": "Prepare"})
    h.sync_training_failure(b, "TrainModel", "child-job", "AlgorithmError: exit code 3")
    aws.execution(child, b.events)


def _start_task(b: h.HistoryBuilder, submitted: dict | str | None) -> None:
    b.enter("RunChild")
    b.schedule(START, {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:c"},
               rtype="states")
    b.started(START, rtype="states")
    if isinstance(submitted, dict):
        b.submitted(START, submitted, rtype="states")
    elif isinstance(submitted, str):  # output cut short (outputDetails.truncated)
        b.add("TaskSubmitted", taskSubmittedEventDetails={
            "resourceType": "states", "resource": START, "output": submitted,
            "outputDetails": {"truncated": True}})


def test_child_found_from_task_submitted_when_the_execution_timed_out(aws: h.StubbedAws) -> None:
    """ExecutionTimedOut while the child ran: no task failure; TaskSubmitted's output (the
    StartExecution response, executionArn/startDate) names the child."""
    child = h.execution_arn("child-slow", "child-machine")
    b = h.HistoryBuilder()
    _start_task(b, {"executionArn": child, "startDate": 1})
    b.add("ExecutionTimedOut", executionTimedOutEventDetails={
        "error": "States.Timeout", "cause": "The execution timed out"})
    arn = h.execution_arn("parent-slow")
    aws.execution(arn, b.events, status="TIMED_OUT")
    _child_failure(aws, child)
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert (f["sfn.parent_failed_state"], f["sfn.failed_state"]) == ("RunChild", "TrainModel")
    assert f["sfn.nested_execution_arn"] == child
    # The execution asked about stays the parent, with its state machine.
    assert (f["sfn.execution_arn"], f["sfn.state_machine_arn"]) == (
        arn, arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0])
    assert res.job is not None and res.job.name == "child-job"
    # The child's states are in the timeline as spans, marked as the child's.
    prepare = next(t for t in res.collected.timeline if t.event == "child: state Prepare")
    assert prepare.end is not None and (prepare.end - prepare.time).total_seconds() == 60
    # The progress line names the child execution by its name.
    assert res.collected.summary == "failed state TrainModel, child child-slow"


def test_child_found_from_the_cause_when_the_submitted_output_was_cut(aws: h.StubbedAws) -> None:
    child = h.execution_arn("child-cut", "child-machine")
    b = h.HistoryBuilder()
    _start_task(b, '{"ExecutionArn": "' + child[:30])
    cause = json.dumps({"ExecutionArn": child, "Status": "FAILED", "Error": "States.TaskFailed"})
    b.task_failed(START, "States.TaskFailed", cause, rtype="states")
    b.execution_failed("States.TaskFailed", cause)
    arn = h.execution_arn("parent-cut")
    aws.execution(arn, b.events)
    _child_failure(aws, child)
    res = sfn.collect_execution(aws.ctx, arn)
    assert res.collected.facts["sfn.nested_execution_arn"] == child
    assert res.collected.facts["sfn.failed_state"] == "TrainModel"


def test_a_child_that_never_started_is_not_followed(aws: h.StubbedAws) -> None:
    """StartExecution refused (no TaskSubmitted); the cause is JSON without an execution ARN."""
    b = h.HistoryBuilder()
    _start_task(b, None)
    cause = json.dumps({"errorMessage": "State Machine Does Not Exist"})
    b.task_failed(START, "StepFunctions.StateMachineDoesNotExistException", cause, rtype="states")
    b.execution_failed("StepFunctions.StateMachineDoesNotExistException", cause)
    arn = h.execution_arn("parent-refused")
    aws.execution(arn, b.events)
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert f["sfn.failed_state"] == "RunChild"
    assert f["sfn.error"] == "StepFunctions.StateMachineDoesNotExistException"
    assert "sfn.nested_execution_arn" not in f and res.collected.gaps == []


def test_a_child_failing_in_a_map_iteration_reports_that_map(aws: h.StubbedAws) -> None:
    child = h.execution_arn("child-map", "child-machine")
    c = h.HistoryBuilder()
    c.enter("Fanout", "Map")
    c.enter("Shard")
    c.schedule("createTrainingJob.sync", h.training_params("shard-3"))
    failed = c.task_failed("createTrainingJob.sync", "SageMaker.ResourceLimitExceededException",
                           "limit is 2")
    c.add("MapIterationFailed", failed, mapIterationFailedEventDetails={"name": "Fanout",
                                                                        "index": 3})
    c.add("MapStateFailed")
    c.execution_failed("States.TaskFailed", "a Map iteration failed")
    parent = _parent(child, "a Map iteration failed", state="RunShards")
    arn = h.execution_arn("parent-map")
    aws.execution(arn, parent.events)
    aws.execution(child, c.events)
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert (f["sfn.parent_failed_state"], f["sfn.failed_state"]) == ("RunShards", "Shard")
    assert (f["sfn.map_state"], f["sfn.map_iteration"]) == ("Fanout", 3)


def test_the_parents_gaps_stay_when_a_child_is_followed(aws: h.StubbedAws) -> None:
    """The deadline cut the parent's history after its first page; the failure on that page
    still names the child, which is read (its newest page is part of the target)."""
    child = h.execution_arn("child-late", "child-machine")
    parent = _parent(child, "child failed")
    arn = h.execution_arn("parent-late")
    aws.execution(arn, None)  # DescribeExecution; then only the newest page is asked for
    newest = sorted(parent.events, key=lambda e: e["id"], reverse=True)[:3]
    aws.stub("stepfunctions").add_response(
        "get_execution_history", {"events": newest, "nextToken": "token-3"})
    _child_failure(aws, child)
    aws.ctx.deadline = time.monotonic()  # already reached: no second page
    res = sfn.collect_execution(aws.ctx, arn)
    assert [g.code for g in res.collected.gaps] == ["Deadline"]
    assert res.collected.facts["sfn.failed_state"] == "TrainModel"
    assert res.collected.facts["sfn.nested_execution_arn"] == child


KMS_HISTORY = [
    ("KmsAccessDeniedException", "AccessDenied", "kms:Decrypt",
     "access denied by the KMS key of {arn}: states:GetExecutionHistory needs kms:Decrypt on "
     "the state machine's customer managed key"),
    ("KmsThrottlingException", "Throttling", None,
     "KMS throttled the decryption of {arn} (states:GetExecutionHistory); retry later"),
    ("KmsInvalidStateException", "KmsInvalidState", None,
     "the KMS key of {arn} is disabled or pending deletion (states:GetExecutionHistory); its "
     "history cannot be decrypted"),
    ("AccessDeniedException", "AccessDenied", "states:GetExecutionHistory",
     "access denied: states:GetExecutionHistory on {arn}"),
]


@pytest.mark.parametrize("code,gap,permission,message", KMS_HISTORY)
def test_an_unreadable_history_is_a_gap_naming_the_execution(
    aws: h.StubbedAws, code: str, gap: str, permission: str | None, message: str
) -> None:
    arn = h.execution_arn("sealed")
    aws.execution(arn, None, describe={"error": "States.TaskFailed", "cause": "boom"})
    aws.stub("stepfunctions").add_client_error("get_execution_history", code, "no")
    res = sfn.collect_execution(aws.ctx, arn)
    assert [(g.code, g.missing_permission, g.message) for g in res.collected.gaps] == [
        (gap, permission, message.format(arn=arn))]


def test_a_malformed_target_arn_says_what_an_execution_arn_looks_like() -> None:
    from investigator.errors import InputError

    with pytest.raises(InputError) as err:
        sfn.parse_execution_arn(" training-pipeline/run-7 ")
    assert str(err.value) == (
        "not a Step Functions execution ARN: 'training-pipeline/run-7' "
        "(expected arn:aws:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME)")


def test_an_unreadable_target_names_the_permission_it_needs(aws: h.StubbedAws) -> None:
    arn = h.execution_arn("denied")
    aws.stub("stepfunctions").add_client_error("describe_execution", "AccessDeniedException",
                                               "not authorized")
    with pytest.raises(AwsError) as err:
        sfn.collect_execution(aws.ctx, arn)
    assert str(err.value) == (f"access denied reading execution {arn}: the caller needs "
                              "states:DescribeExecution")


def test_a_stopped_execution_names_the_task_that_was_running(aws: h.StubbedAws) -> None:
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule("createTrainingJob.sync", h.training_params("stopped-3"))
    b.started("createTrainingJob.sync")
    b.add("ExecutionAborted", seconds=60, executionAbortedEventDetails={})
    arn = h.execution_arn("stopped-task")
    aws.execution(arn, b.events, status="ABORTED", describe={"input": '{"lr": "0.1"}'})
    res = sfn.collect_execution(aws.ctx, arn)
    # What the last-good-run lookup starts from: the state machine, the start and the input.
    assert (res.state_machine_arn, res.start, res.input) == (
        arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0], h.T0, '{"lr": "0.1"}')
    f = res.collected.facts
    assert (f["sfn.stopped_state"], f["sfn.task_resource"]) == (
        "Train", "arn:aws:states:::sagemaker:createTrainingJob.sync")
    assert res.collected.summary == "stopped in state Train"
    # Stopped before CreateTrainingJob answered (no TaskSubmitted): no job was created.
    assert res.job is not None and res.job.name == "stopped-3"
    assert res.job_started is False


def test_a_fail_state_without_a_cause_quotes_none(aws: h.StubbedAws) -> None:
    """A Fail state's Cause is optional (Amazon States Language, Fail state)."""
    b = h.HistoryBuilder()
    b.enter("Check", "Choice")
    b.exit("Check", "Choice")
    b.add("FailStateEntered", stateEnteredEventDetails={"name": "Rejected", "input": "{}"})
    b.add("ExecutionFailed", executionFailedEventDetails={"error": "QualityGateFailed"})
    arn = h.execution_arn("no-cause")
    aws.execution(arn, b.events)
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert (f["sfn.fail_state"], f["sfn.fail_error"]) == ("Rejected", "QualityGateFailed")
    assert "sfn.fail_cause" not in f and "sfn.cause" not in f


def test_tuning_job_named_by_the_cause_when_the_deadline_cut_the_history(
    aws: h.StubbedAws,
) -> None:
    """Only the newest page was read (deadline): the task's TaskScheduled is not known, the
    failure's cause still names the tuning job."""
    b = h.HistoryBuilder()
    h.sync_tuning_failure(b, "tune-late", "States.TaskFailed", json.dumps(
        {"HyperParameterTuningJobName": "tune-late", "FailureReason": "All training jobs failed."}))
    arn = h.execution_arn("hpo-late")
    aws.execution(arn, None)
    newest = sorted(b.events, key=lambda e: e["id"], reverse=True)[:2]
    aws.stub("stepfunctions").add_response(
        "get_execution_history", {"events": newest, "nextToken": "token-2"})
    _expect_tuning_jobs(aws, "tune-late")
    aws.ctx.deadline = time.monotonic()
    res = sfn.collect_execution(aws.ctx, arn)
    assert res.collected.facts["sfn.tuning_job_name"] == "tune-late"
    assert res.job is not None and res.job.name == "tune-late-001-aaa"
    assert [g.code for g in res.collected.gaps] == ["Deadline"]


def test_a_stop_reads_older_pages_until_the_running_state_is_found(aws: h.StubbedAws) -> None:
    b = h.HistoryBuilder()
    b.enter("Prepare", "Pass")
    b.exit("Prepare", "Pass")
    b.enter("Train")
    b.schedule("createTrainingJob.sync", h.training_params("stopped-4"))
    b.started("createTrainingJob.sync")
    b.submitted("createTrainingJob.sync", {"TrainingJobArn": JOB_ARN + "stopped-4"})
    b.add("ExecutionAborted", seconds=60, executionAbortedEventDetails={})
    arn = h.execution_arn("stopped-pages")
    aws.execution(arn, b.events, status="ABORTED", page=2)
    res = sfn.collect_execution(aws.ctx, arn)
    assert res.collected.facts["sfn.stopped_state"] == "Train"
    assert res.job is not None and res.job.name == "stopped-4"
    # Pages of two, newest first: the third holds Train's entry; the fourth is never asked for.
    assert len(aws.calls("GetExecutionHistory")) == 3
    assert res.collected.facts["sfn.events_read"] == 6


def test_an_unreadable_history_without_a_cause_names_no_state(aws: h.StubbedAws) -> None:
    """DescribeExecution's cause is optional: with only an error, no state can be named."""
    arn = h.execution_arn("no-cause-no-history")
    aws.execution(arn, None, describe={"error": "States.Timeout"})
    aws.stub("stepfunctions").add_client_error("get_execution_history", "AccessDeniedException")
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert f["sfn.error"] == "States.Timeout"
    assert "sfn.failed_state" not in f and "sfn.cause" not in f


def test_the_progress_line_of_a_succeeded_execution_gives_its_status(aws: h.StubbedAws) -> None:
    b = h.HistoryBuilder()
    b.enter("Train", "Pass")
    b.exit("Train", "Pass")
    b.execution_succeeded()
    arn = h.execution_arn("fine")
    aws.execution(arn, b.events, status="SUCCEEDED")
    assert sfn.collect_execution(aws.ctx, arn).collected.summary == "status SUCCEEDED"
