"""Step Functions collector: the failed state, its error, retries, Map, nesting, bounded paging."""

from __future__ import annotations

import json

import boto3
import pytest

from investigator.aws import AwsContext, close_context, open_context
from investigator.collectors import stepfunctions as sfn
from investigator.errors import AwsError, InputError
from tests.collectors import helpers as h

TRAIN = "createTrainingJob.sync"


def _ctx(session: boto3.Session) -> AwsContext:
    return open_context(profile=None, region=h.REGION, deadline=None, session=session)


def _collect(session: boto3.Session, arn: str) -> tuple[sfn.ExecutionResult, AwsContext]:
    ctx = _ctx(session)
    try:
        return sfn.collect_execution(ctx, arn), ctx
    finally:
        close_context(ctx)


def test_sync_training_failure(aws: boto3.Session, paged_history: dict[str, int]) -> None:
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    b.enter("Preprocess", "Pass")
    b.exit("Preprocess", "Pass")
    h.sync_training_failure(b, "Train", "train-abc", "AlgorithmError: exit code 1")
    res, ctx = _collect(aws, h.execution(aws, sm, "run-1", b))
    f = res.collected.facts
    assert f["sfn.failed_state"] == "Train"
    assert f["sfn.error"] == "States.TaskFailed"
    assert "AlgorithmError: exit code 1" in f["sfn.cause"]
    assert f["sfn.failed_event_type"] == "TaskFailed"
    assert f["sfn.task_resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    assert (f["sfn.attempts"], f["sfn.retry_count"]) == (1, 0)
    assert res.job is not None and res.job.name == "train-abc" and res.job.kind == "training"
    assert res.job_started is True and f["sfn.job_started"] is True
    assert res.cause_job is not None and res.cause_job["FailureReason"].startswith("AlgorithmError")
    assert ctx.counter.total == 2  # DescribeExecution + one history page
    spans = {t.event: t for t in res.collected.timeline}
    assert spans["state Preprocess"].end is not None  # entered → exited as one span
    assert "TaskFailed: States.TaskFailed" in spans


def test_reverse_paging_stops_early_on_25000_events(
    aws: boto3.Session, paged_history: dict[str, int]
) -> None:
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    while len(b.events) < 24_990:  # a long-running loop of Pass states before the failure
        b.enter("Poll", "Pass", )
        b.exit("Poll", "Pass")
    h.sync_training_failure(b, "Train", "train-long", "AlgorithmError: boom")
    assert len(b.events) >= 24_995
    res, ctx = _collect(aws, h.execution(aws, sm, "long", b))
    assert res.collected.facts["sfn.failed_state"] == "Train"
    assert res.job is not None and res.job.name == "train-long"
    assert paged_history["pages"] == 1 and paged_history["events"] <= sfn.PAGE_SIZE
    assert ctx.counter.total == 2
    assert not res.collected.gaps


def test_retried_task_failing_on_last_attempt(
    aws: boto3.Session, paged_history: dict[str, int]
) -> None:
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    h.sync_training_failure(b, "Train", "train-retry", "CapacityError: no capacity", attempts=3)
    res, _ = _collect(aws, h.execution(aws, sm, "retry", b))
    f = res.collected.facts
    assert f["sfn.attempts"] == 3
    assert f["sfn.retry_count"] == 2
    assert f["sfn.failed_state"] == "Train"


def test_retry_that_succeeded_is_not_the_failure(
    aws: boto3.Session, paged_history: dict[str, int]
) -> None:
    """A task that failed once, was retried and succeeded; then a later state hit States.Runtime."""
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("t-1"))
    b.task_failed(TRAIN, "SageMaker.AmazonSageMakerException", "Throttled")
    b.schedule(TRAIN, h.training_params("t-1"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/t-1"})
    b.succeeded(TRAIN)
    b.exit("Train")
    b.enter("Evaluate")
    cause = ("An error occurred while executing the state 'Evaluate' (entered at the event id "
             "#10). The JSONPath '$.metrics.accuracy' specified for the field 'Value.$' could "
             "not be found in the input '{}'")
    b.execution_failed("States.Runtime", cause)
    res, _ = _collect(aws, h.execution(aws, sm, "rt", b))
    f = res.collected.facts
    assert f["sfn.failed_state"] == "Evaluate"
    assert f["sfn.error"] == "States.Runtime"
    assert f["sfn.job_started"] is False and res.job is None


def test_bad_jsonpath_before_any_job(aws: boto3.Session, paged_history: dict[str, int]) -> None:
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    b.enter("Train")
    cause = ("An error occurred while executing the state 'Train' (entered at the event id #2). "
             "The JSONPath '$.job_name' specified for the field 'TrainingJobName.$' could not be "
             "found in the input '{\"run\": 1}'")
    b.execution_failed("States.Runtime", cause)
    res, _ = _collect(aws, h.execution(aws, sm, "jp", b))
    f = res.collected.facts
    assert f["sfn.failed_state"] == "Train"
    assert f["sfn.error"] == "States.Runtime"
    assert "JSONPath '$.job_name'" in f["sfn.cause"]
    assert f["sfn.job_started"] is False
    assert res.job is None


def test_lambda_task_error_before_any_job(
    aws: boto3.Session, paged_history: dict[str, int]
) -> None:
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    b.enter("Prepare")
    b.schedule("invoke", {"FunctionName": "prep"}, rtype="lambda")
    b.started("invoke", rtype="lambda")
    cause = json.dumps({"errorMessage": "KeyError: 'bucket'", "errorType": "KeyError"})
    b.task_failed("invoke", "KeyError", cause, rtype="lambda")
    b.execution_failed("KeyError", cause)
    res, _ = _collect(aws, h.execution(aws, sm, "lam", b))
    f = res.collected.facts
    assert f["sfn.failed_state"] == "Prepare"
    assert f["sfn.task_resource"] == "arn:aws:states:::lambda:invoke"
    assert f["sfn.job_started"] is False and res.job is None


def test_create_training_job_validation_error(
    aws: boto3.Session, paged_history: dict[str, int]
) -> None:
    """CreateTrainingJob refused: no TaskSubmitted, so no job exists; its request is kept."""
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("bad-job", instance="ml.t2.medium"))
    b.started(TRAIN)
    cause = ("1 validation error detected: Value 'ml.t2.medium' at 'resourceConfig.instanceType' "
             "failed to satisfy constraint (Service: AmazonSageMaker; Status Code: 400; "
             "Error Code: ValidationException; Request ID: 1a2b)")
    b.task_failed(TRAIN, "SageMaker.AmazonSageMakerException", cause)
    b.execution_failed("SageMaker.AmazonSageMakerException", cause)
    res, _ = _collect(aws, h.execution(aws, sm, "val", b))
    assert res.collected.facts["sfn.job_started"] is False
    assert res.job is not None and res.job.name == "bad-job"
    assert res.job_params is not None
    assert res.job_params["ResourceConfig"]["InstanceType"] == "ml.t2.medium"


def test_map_iteration_failure(aws: boto3.Session, paged_history: dict[str, int]) -> None:
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    entered = b.enter("TrainAll", "Map")
    b.add("MapStateStarted", mapStateStartedEventDetails={"length": 3})
    iters = []
    for i in range(3):
        iters.append(b.add("MapIterationStarted", entered,
                           mapIterationStartedEventDetails={"name": "TrainAll", "index": i}))
    # Iterations interleave; iteration 1 fails, the others are aborted afterwards.
    e0 = b.enter("TrainOne", prev=iters[0])
    e1 = b.enter("TrainOne", prev=iters[1])
    s1 = b.schedule(TRAIN, h.training_params("shard-1"), prev=e1)
    s0 = b.schedule(TRAIN, h.training_params("shard-0"), prev=e0)
    st1 = b.started(TRAIN, prev=s1)
    b.started(TRAIN, prev=s0)
    sub1 = b.submitted(TRAIN, {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/shard-1"},
                       prev=st1)
    cause = json.dumps({"TrainingJobName": "shard-1", "TrainingJobStatus": "Failed",
                        "FailureReason": "AlgorithmError: OOM"})
    failed = b.task_failed(TRAIN, "States.TaskFailed", cause, prev=sub1)
    it_failed = b.add("MapIterationFailed", failed,
                      mapIterationFailedEventDetails={"name": "TrainAll", "index": 1})
    b.add("MapIterationAborted", it_failed,
          mapIterationAbortedEventDetails={"name": "TrainAll", "index": 0})
    b.add("TaskStateAborted", stateExitedEventDetails={"name": "TrainOne", "output": "{}"})
    b.add("MapStateFailed")
    b.execution_failed("States.TaskFailed", cause)
    res, _ = _collect(aws, h.execution(aws, sm, "map", b))
    f = res.collected.facts
    assert f["sfn.map_state"] == "TrainAll"
    assert f["sfn.map_iteration"] == 1
    assert f["sfn.failed_state"] == "TrainOne"
    assert res.job is not None and res.job.name == "shard-1"


def test_caught_failure_then_fail_state(aws: boto3.Session, paged_history: dict[str, int]) -> None:
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("caught-job"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/caught-job"})
    cause = json.dumps({"TrainingJobName": "caught-job", "TrainingJobStatus": "Failed",
                        "FailureReason": "AlgorithmError: exit code 2"})
    b.task_failed(TRAIN, "States.TaskFailed", cause)
    b.exit("Train")
    b.enter("Notify")
    b.schedule("publish", {"TopicArn": "arn:aws:sns:us-east-1:1:oncall"}, rtype="sns")
    b.succeeded("publish", rtype="sns")
    b.exit("Notify")
    b.enter("TrainingFailed", "Fail")
    b.execution_failed("TrainingFailed", "The training job failed")
    res, _ = _collect(aws, h.execution(aws, sm, "caught", b))
    f = res.collected.facts
    assert f["sfn.failed_state"] == "Train"
    assert f["sfn.fail_state"] == "TrainingFailed"
    assert f["sfn.error"] == "States.TaskFailed"
    assert f["sfn.execution_error"] == "TrainingFailed"
    assert res.job is not None and res.job.name == "caught-job" and res.job_started


def test_polling_loop_then_fail_state(aws: boto3.Session, paged_history: dict[str, int]) -> None:
    """Non-.sync pattern: DescribeTrainingJob in a loop, a Choice, a Fail state."""
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    b.enter("Status")
    b.schedule("describeTrainingJob", {"TrainingJobName": "polled-job"}, rtype="aws-sdk:sagemaker")
    b.succeeded("describeTrainingJob", rtype="aws-sdk:sagemaker")
    b.exit("Status")
    b.enter("IsDone", "Choice")
    b.exit("IsDone", "Choice")
    b.enter("JobFailed", "Fail")
    b.execution_failed("JobFailed", "training job failed")
    res, _ = _collect(aws, h.execution(aws, sm, "poll", b))
    assert res.job is not None and res.job.name == "polled-job"
    assert res.job_started is True
    assert res.collected.facts["sfn.fail_state"] == "JobFailed"


def test_nested_execution_is_followed(aws: boto3.Session, paged_history: dict[str, int]) -> None:
    parent_sm = h.state_machine(aws, "parent")
    child_sm = h.state_machine(aws, "child")
    cb = h.HistoryBuilder()
    h.sync_training_failure(cb, "TrainModel", "child-job", "AlgorithmError: exit code 1")
    child = h.execution(aws, child_sm, "child-run", cb)
    pb = h.HistoryBuilder()
    res_name = "startExecution.sync:2"
    pb.enter("RunTraining")
    pb.schedule(res_name, {"StateMachineArn": child_sm}, rtype="states")
    pb.started(res_name, rtype="states")
    pb.submitted(res_name, {"ExecutionArn": child, "StartDate": 1}, rtype="states")
    cause = json.dumps({"ExecutionArn": child, "Status": "FAILED",
                        "Error": "States.TaskFailed", "Cause": "child failed"})
    pb.task_failed(res_name, "States.TaskFailed", cause, rtype="states")
    pb.execution_failed("States.TaskFailed", cause)
    parent = h.execution(aws, parent_sm, "parent-run", pb)
    res, ctx = _collect(aws, parent)
    f = res.collected.facts
    assert f["sfn.execution_arn"] == parent
    assert f["sfn.nested_execution_arn"] == child
    assert f["sfn.parent_failed_state"] == "RunTraining"
    assert f["sfn.failed_state"] == "TrainModel"
    assert res.job is not None and res.job.name == "child-job" and res.job_started
    assert any(t.event.startswith("child: ") for t in res.collected.timeline)
    assert ctx.counter.total == 4  # two executions: describe + one page each


def test_history_in_ascending_order_is_handled(aws: boto3.Session) -> None:
    """Without the paging patch moto returns the whole history oldest-first in one page."""
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    h.sync_training_failure(b, "Train", "asc-job", "AlgorithmError: x", attempts=2)
    res, ctx = _collect(aws, h.execution(aws, sm, "asc", b))
    assert res.collected.facts["sfn.failed_state"] == "Train"
    assert res.collected.facts["sfn.attempts"] == 2
    assert ctx.counter.total == 2


def test_succeeded_execution_reads_one_page(
    aws: boto3.Session, paged_history: dict[str, int]
) -> None:
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("ok-job"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/ok-job"})
    b.succeeded(TRAIN)
    b.exit("Train")
    for _ in range(600):
        b.enter("Wait", "Pass")
        b.exit("Wait", "Pass")
    b.execution_succeeded()
    res, _ = _collect(aws, h.execution(aws, sm, "ok", b, status="SUCCEEDED"))
    assert paged_history["pages"] == 1
    assert res.collected.facts["sfn.status"] == "SUCCEEDED"
    assert "sfn.failed_state" not in res.collected.facts


def test_history_access_denied_is_a_gap(aws: boto3.Session) -> None:
    sm = h.state_machine(aws)
    arn = h.execution(aws, sm, "denied", h.HistoryBuilder(), error="States.TaskFailed",
                      cause="boom")
    h.deny(aws, "GetExecutionHistory")
    res, _ = _collect(aws, arn)
    gap = res.collected.gaps[0]
    assert (gap.source, gap.code, gap.missing_permission) == (
        "sfn", "AccessDenied", "states:GetExecutionHistory")
    # DescribeExecution still gives the execution's error and cause.
    assert res.collected.facts["sfn.error"] == "States.TaskFailed"


def test_unknown_execution_is_an_aws_error(aws: boto3.Session) -> None:
    h.state_machine(aws)
    arn = f"arn:aws:states:{h.REGION}:{h.ACCOUNT}:execution:training-pipeline:nope"
    with pytest.raises(AwsError, match=f"execution {arn} not found in us-east-1"):
        _collect(aws, arn)


def test_access_denied_on_the_target_is_an_aws_error(aws: boto3.Session) -> None:
    sm = h.state_machine(aws)
    arn = h.execution(aws, sm, "x", h.HistoryBuilder())
    h.deny(aws, "DescribeExecution")
    with pytest.raises(AwsError, match="states:DescribeExecution"):
        _collect(aws, arn)


@pytest.mark.parametrize(
    "arn,message",
    [
        ("arn:aws:states:us-east-1:123456789012:stateMachine:pipe", "state machine ARN"),
        ("not-an-arn", "not a Step Functions execution ARN"),
        ("arn:aws:states:us-east-1:12345:execution:pipe:run", "not a Step Functions execution"),
    ],
)
def test_malformed_arn_is_input_error(arn: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        sfn.parse_execution_arn(arn)


def test_region_comes_from_the_arn() -> None:
    assert sfn.parse_execution_arn(
        "arn:aws:states:eu-west-1:123456789012:execution:pipe:run-1") == "eu-west-1"


def test_failure_beyond_the_first_page_reads_the_next(
    aws: boto3.Session, paged_history: dict[str, int]
) -> None:
    """Hundreds of aborted Map iterations after the failure push it past the first page."""
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    b.enter("Fanout", "Map")
    b.enter("Shard")
    b.schedule(TRAIN, h.training_params("shard-7"))
    b.started(TRAIN)
    failed = b.task_failed(TRAIN, "SageMaker.ResourceLimitExceededException",
                           "The account-level service limit is 2 Instances")
    b.add("MapIterationFailed", failed,
          mapIterationFailedEventDetails={"name": "Fanout", "index": 7})
    for i in range(sfn.PAGE_SIZE + 100):
        b.add("MapIterationAborted", mapIterationAbortedEventDetails={"name": "Fanout",
                                                                      "index": 100 + i})
    b.add("MapStateFailed")
    b.execution_failed("States.TaskFailed", "a Map iteration failed")
    res, ctx = _collect(aws, h.execution(aws, sm, "fan", b))
    f = res.collected.facts
    assert f["sfn.error"] == "SageMaker.ResourceLimitExceededException"
    assert f["sfn.failed_state"] == "Shard"
    assert f["sfn.map_iteration"] == 7
    assert f["sfn.job_started"] is False  # the CreateTrainingJob call itself was refused
    assert paged_history["pages"] == 2
    assert ctx.counter.total == 3


def test_unfound_failure_stops_at_the_page_budget(
    aws: boto3.Session, paged_history: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Smaller pages: the same page budget, without moto serialising 5,000 events (slow).
    monkeypatch.setattr(sfn, "PAGE_SIZE", 100)
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    while len(b.events) < 24_990:
        b.enter("Spin", "Pass")
        b.exit("Spin", "Pass")
    b.enter("Give up", "Fail")
    b.execution_failed("Exhausted", "gave up")
    res, ctx = _collect(aws, h.execution(aws, sm, "spin", b))
    assert paged_history["pages"] == sfn.MAX_PAGES
    assert ctx.counter.total == 1 + sfn.MAX_PAGES
    assert [g.code for g in res.collected.gaps] == ["HistoryBudget"]
    assert res.collected.facts["sfn.fail_state"] == "Give up"
    assert res.collected.facts["sfn.error"] == "Exhausted"


def test_parallel_branch_failure(aws: boto3.Session, paged_history: dict[str, int]) -> None:
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    par = b.enter("TrainBoth", "Parallel")
    b.add("ParallelStateStarted")
    b.enter("TrainSmall", prev=par)
    s = b.schedule(TRAIN, h.training_params("small-1"))
    big = b.enter("TrainBig", prev=par)
    b.schedule(TRAIN, h.training_params("big-1"), prev=big)
    st = b.started(TRAIN, prev=s)
    sub = b.submitted(TRAIN, {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/small-1"},
                      prev=st)
    cause = json.dumps({"TrainingJobName": "small-1", "TrainingJobStatus": "Failed",
                        "FailureReason": "AlgorithmError: exit code 1"})
    b.task_failed(TRAIN, "States.TaskFailed", cause, prev=sub)
    b.add("TaskStateAborted", stateExitedEventDetails={"name": "TrainBig", "output": "{}"})
    b.add("ParallelStateFailed")
    b.execution_failed("States.TaskFailed", cause)
    res, _ = _collect(aws, h.execution(aws, sm, "par", b))
    f = res.collected.facts
    assert f["sfn.parallel_state"] == "TrainBoth"
    assert f["sfn.failed_state"] == "TrainSmall"
    assert res.job is not None and res.job.name == "small-1"


def test_execution_timed_out_while_the_job_ran(
    aws: boto3.Session, paged_history: dict[str, int]
) -> None:
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("slow-1"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/slow-1"})
    b.add("ExecutionTimedOut", seconds=3600, executionTimedOutEventDetails={
        "error": "States.Timeout", "cause": "The execution timed out"})
    res, _ = _collect(aws, h.execution(aws, sm, "to", b, status="TIMED_OUT"))
    f = res.collected.facts
    assert (f["sfn.failed_state"], f["sfn.failed_event_type"]) == ("Train", "ExecutionTimedOut")
    assert f["sfn.error"] == "States.Timeout"
    assert res.job is not None and res.job.name == "slow-1" and res.job_started is True
