"""Contract tests: every failure event type of botocore's Step Functions `HistoryEventType`.

Each history is served through botocore's Stubber, which validates it against the service
model (botocore/data/stepfunctions/2016-11-23/service-2.json, shapes HistoryEvent and
*EventDetails; API reference https://docs.aws.amazon.com/step-functions/latest/apireference/
API_HistoryEvent.html). The assertions are what a user reads: the failed state, the error,
the cause and the job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from investigator.collectors import stepfunctions as sfn
from tests.collectors import helpers as h
from tests.collectors.helpers import stubbed_aws  # noqa: F401  (the `aws` fixture)

TRAIN = "createTrainingJob.sync"
JOB_ARN = f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:training-job/"
ACTIVITY = f"arn:aws:states:{h.REGION}:{h.ACCOUNT}:activity:label-review"
FUNCTION = f"arn:aws:lambda:{h.REGION}:{h.ACCOUNT}:function:prepare-data"
MAP_RUN = f"arn:aws:states:{h.REGION}:{h.ACCOUNT}:mapRun:training-pipeline/Shards:0f3c"




@dataclass
class Case:
    history: h.HistoryBuilder
    state: str | None
    error: str | None
    cause: str | None
    job: str | None = None
    job_started: bool = False
    status: str = "FAILED"
    extra: dict = field(default_factory=dict)


def _details(kind: str, error: str, cause: str, resource: str = TRAIN) -> dict:
    return {f"{kind[0].lower()}{kind[1:]}EventDetails": {
        "resourceType": "sagemaker", "resource": resource, "error": error, "cause": cause}}


def _sagemaker_task(event: str, *, started: bool, submitted: bool, error: str,
                    cause: str) -> Case:
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("job-1"))
    if started:
        b.started(TRAIN)
    if submitted:
        b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + "job-1"})
    b.add(event, **_details(event, error, cause))
    b.execution_failed(error, cause)
    return Case(b, "Train", error, cause, "job-1", submitted)


def task_failed() -> Case:
    cause = json.dumps({"TrainingJobName": "job-1", "TrainingJobStatus": "Failed",
                        "FailureReason": "AlgorithmError: exit code 1"})
    return _sagemaker_task("TaskFailed", started=True, submitted=True,
                           error="States.TaskFailed", cause=cause)


def task_timed_out() -> Case:
    return _sagemaker_task("TaskTimedOut", started=True, submitted=True,
                           error="States.Timeout", cause="The task timed out after 3600 s")


def task_start_failed() -> Case:
    return _sagemaker_task("TaskStartFailed", started=False, submitted=False,
                           error="States.Permissions", cause="Neither the global service "
                           "principal states.amazonaws.com, nor the regional one is authorized "
                           "to assume the provided role.")


def task_submit_failed() -> Case:
    cause = ("The account-level service limit 'ml.p4d.24xlarge for training job usage' is 0 "
             "Instances (Service: AmazonSageMaker; Status Code: 400; Error Code: "
             "ResourceLimitExceeded; Request ID: 77aa)")
    return _sagemaker_task("TaskSubmitFailed", started=True, submitted=False,
                           error="SageMaker.ResourceLimitExceededException", cause=cause)


def _activity(end: str, error: str, cause: str, started: bool = True) -> Case:
    b = h.HistoryBuilder()
    b.enter("HumanReview")
    if end != "ActivityScheduleFailed":
        b.add("ActivityScheduled", activityScheduledEventDetails={
            "resource": ACTIVITY, "input": "{}", "inputDetails": {"truncated": False},
            "timeoutInSeconds": 600, "heartbeatInSeconds": 60})
    if started and end != "ActivityScheduleFailed":
        b.add("ActivityStarted", activityStartedEventDetails={"workerName": "reviewer-3"})
    key = f"{end[0].lower()}{end[1:]}EventDetails"
    b.add(end, **{key: {"error": error, "cause": cause}})
    b.execution_failed(error, cause)
    return Case(b, "HumanReview", error, cause)


def activity_failed() -> Case:
    return _activity("ActivityFailed", "ReviewRejected", "labels disagree on 31% of items")


def activity_timed_out() -> Case:
    return _activity("ActivityTimedOut", "States.HeartbeatTimeout", "no heartbeat for 60 s")


def activity_schedule_failed() -> Case:
    return _activity("ActivityScheduleFailed", "States.Runtime",
                     "The activity arn does not exist", started=False)


def _lambda(end: str, error: str, cause: str) -> Case:
    b = h.HistoryBuilder()
    b.enter("Prepare")
    if end != "LambdaFunctionScheduleFailed":
        b.add("LambdaFunctionScheduled", lambdaFunctionScheduledEventDetails={
            "resource": FUNCTION, "input": "{}", "inputDetails": {"truncated": False},
            "timeoutInSeconds": 60})
    if end in ("LambdaFunctionFailed", "LambdaFunctionTimedOut"):
        b.add("LambdaFunctionStarted")
    key = f"{end[0].lower()}{end[1:]}EventDetails"
    b.add(end, **{key: {"error": error, "cause": cause}})
    b.execution_failed(error, cause)
    return Case(b, "Prepare", error, cause)


def lambda_failed() -> Case:
    return _lambda("LambdaFunctionFailed", "KeyError",
                   json.dumps({"errorMessage": "'bucket'", "errorType": "KeyError"}))


def lambda_timed_out() -> Case:
    return _lambda("LambdaFunctionTimedOut", "States.Timeout", "timed out after 60 s")


def lambda_start_failed() -> Case:
    return _lambda("LambdaFunctionStartFailed", "Lambda.AWSLambdaException",
                   "Rate Exceeded. (Service: AWSLambda; Status Code: 429)")


def lambda_schedule_failed() -> Case:
    return _lambda("LambdaFunctionScheduleFailed", "States.Runtime",
                   "Invalid function ARN")


def _inline_map(end: str) -> Case:
    """An inline Map whose iteration 2 fails in its training task; the others are aborted."""
    b = h.HistoryBuilder()
    m = b.enter("TrainAll", "Map")
    b.add("MapStateStarted", mapStateStartedEventDetails={"length": 3})
    it = b.add("MapIterationStarted", m, mapIterationStartedEventDetails={"name": "TrainAll",
                                                                          "index": 2})
    b.enter("TrainOne", prev=it)
    b.schedule(TRAIN, h.training_params("shard-2"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + "shard-2"})
    if end == "MapStateAborted":  # the execution was stopped while the iteration trained
        b.add("TaskStateAborted", stateExitedEventDetails={"name": "TrainOne", "output": "{}"})
        b.add("MapIterationAborted", mapIterationAbortedEventDetails={"name": "TrainAll",
                                                                      "index": 2})
        b.add("MapStateAborted")
        b.add("ExecutionAborted", executionAbortedEventDetails={})
        return Case(b, None, None, None, "shard-2", True, status="ABORTED",
                    extra={"sfn.stopped_state": "TrainOne"})
    cause = json.dumps({"TrainingJobName": "shard-2", "FailureReason": "AlgorithmError: OOM"})
    failed = b.task_failed(TRAIN, "States.TaskFailed", cause)
    it_failed = b.add("MapIterationFailed", failed,
                      mapIterationFailedEventDetails={"name": "TrainAll", "index": 2})
    b.add("MapIterationAborted", it_failed,
          mapIterationAbortedEventDetails={"name": "TrainAll", "index": 0})
    b.add("MapStateFailed")
    b.execution_failed("States.TaskFailed", cause)
    return Case(b, "TrainOne", "States.TaskFailed", cause, "shard-2", True,
                extra={"sfn.map_state": "TrainAll", "sfn.map_iteration": 2})


def map_iteration_failed() -> Case:
    return _inline_map("MapStateFailed")


def map_state_failed() -> Case:
    return _inline_map("MapStateFailed")


def map_iteration_aborted() -> Case:
    return _inline_map("MapStateFailed")


def map_state_aborted() -> Case:
    return _inline_map("MapStateAborted")


def _map_run(end: str) -> Case:
    b = h.HistoryBuilder()
    b.enter("Shards", "Map")
    b.add("MapStateStarted", mapStateStartedEventDetails={"length": 0})
    b.add("MapRunStarted", mapRunStartedEventDetails={"mapRunArn": MAP_RUN})
    if end == "MapRunAborted":
        b.add("MapRunAborted")
        b.add("MapStateAborted")
        b.add("ExecutionAborted", executionAbortedEventDetails={
            "error": "Stopped", "cause": "stopped by the on-call"})
        return Case(b, None, None, None, status="ABORTED", extra={"sfn.stopped_state": "Shards"})
    cause = "The specified tolerated failure threshold was exceeded"
    b.add("MapRunFailed", mapRunFailedEventDetails={
        "error": "States.ExceedToleratedFailureThreshold", "cause": cause})
    b.add("MapStateFailed")
    b.execution_failed("States.ExceedToleratedFailureThreshold", cause)
    return Case(b, "Shards", "States.ExceedToleratedFailureThreshold", cause,
                extra={"sfn.map_run_arn": MAP_RUN})


def map_run_failed() -> Case:
    return _map_run("MapRunFailed")


def map_run_aborted() -> Case:
    return _map_run("MapRunAborted")


def _parallel(end: str) -> Case:
    b = h.HistoryBuilder()
    par = b.enter("Both", "Parallel")
    b.add("ParallelStateStarted")
    b.enter("Evaluate", prev=par)
    b.add("LambdaFunctionScheduled", lambdaFunctionScheduledEventDetails={
        "resource": FUNCTION, "input": "{}"})
    b.add("LambdaFunctionStarted")
    if end == "ParallelStateAborted":
        b.add("TaskStateAborted", stateExitedEventDetails={"name": "Evaluate", "output": "{}"})
        b.add("ParallelStateAborted")
        b.add("ExecutionTimedOut", seconds=600, executionTimedOutEventDetails={
            "error": "States.Timeout", "cause": "The execution timed out"})
        return Case(b, "Evaluate", "States.Timeout", "The execution timed out",
                    status="TIMED_OUT")
    cause = json.dumps({"errorMessage": "metrics.json missing", "errorType": "FileNotFoundError"})
    b.add("LambdaFunctionFailed", lambdaFunctionFailedEventDetails={
        "error": "FileNotFoundError", "cause": cause})
    b.add("ParallelStateFailed")
    b.execution_failed("FileNotFoundError", cause)
    return Case(b, "Evaluate", "FileNotFoundError", cause, extra={"sfn.parallel_state": "Both"})


def parallel_state_failed() -> Case:
    return _parallel("ParallelStateFailed")


def parallel_state_aborted() -> Case:
    return _parallel("ParallelStateAborted")


def evaluation_failed() -> Case:
    """JSONata: the event's previousEventId points at the previous state's exit (issue 17)."""
    b = h.HistoryBuilder()
    b.enter("Start", "Pass")
    exited = b.exit("Start", "Pass")
    b.enter("MapIterateState", "Map", prev=exited)
    cause = ("An error occurred while executing the state 'MapIterateState' (entered at the "
             "event id #4). The JSONata expression '$states.input.items' specified for the "
             "field 'Items' returned an unexpected type. Expected: array; Got: null")
    b.add("EvaluationFailed", exited, evaluationFailedEventDetails={
        "error": "States.QueryEvaluationError", "cause": cause, "location": "Items",
        "state": "MapIterateState"})
    b.execution_failed("States.QueryEvaluationError", cause)
    return Case(b, "MapIterateState", "States.QueryEvaluationError", cause)


def execution_failed() -> Case:
    b = h.HistoryBuilder()
    b.enter("Route", "Choice")
    cause = ("An error occurred while executing the state 'Route' (entered at the event id "
             "#2). Invalid path '$.metrics.f1': The choice state's condition path references "
             "an invalid value.")
    b.execution_failed("States.Runtime", cause)
    return Case(b, "Route", "States.Runtime", cause)


def execution_timed_out() -> Case:
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("slow-1"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + "slow-1"})
    b.add("ExecutionTimedOut", seconds=7200, executionTimedOutEventDetails={
        "error": "States.Timeout", "cause": "The execution timed out"})
    return Case(b, "Train", "States.Timeout", "The execution timed out", "slow-1", True,
                status="TIMED_OUT")


def wait_state_aborted() -> Case:
    b = h.HistoryBuilder()
    b.enter("Cooldown", "Wait")
    b.add("WaitStateAborted", stateExitedEventDetails={"name": "Cooldown", "output": "{}"})
    b.add("ExecutionTimedOut", executionTimedOutEventDetails={
        "error": "States.Timeout", "cause": "The execution timed out"})
    return Case(b, "Cooldown", "States.Timeout", "The execution timed out", status="TIMED_OUT")


def execution_aborted() -> Case:
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("stop-1"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + "stop-1"})
    b.add("TaskStateAborted", stateExitedEventDetails={"name": "Train", "output": "{}"})
    b.add("ExecutionAborted", executionAbortedEventDetails={
        "error": "ManualStop", "cause": "wrong dataset"})
    return Case(b, None, None, None, "stop-1", True, status="ABORTED",
                extra={"sfn.stopped_state": "Train", "sfn.execution_error": "ManualStop"})


def execution_redriven() -> Case:
    """Redrive restarts the failed state (Step Functions guide "redrive-executions"); the
    newest failure decides and the redrive count is kept."""
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("redo-1"))
    b.started(TRAIN)
    b.task_failed(TRAIN, "SageMaker.ResourceLimitExceededException", "limit is 0 Instances")
    b.execution_failed("SageMaker.ResourceLimitExceededException", "limit is 0 Instances")
    b.add("ExecutionRedriven", executionRedrivenEventDetails={"redriveCount": 1})
    b.schedule(TRAIN, h.training_params("redo-1"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + "redo-1"})
    cause = json.dumps({"TrainingJobName": "redo-1", "FailureReason": "AlgorithmError: nan loss"})
    b.task_failed(TRAIN, "States.TaskFailed", cause)
    b.execution_failed("States.TaskFailed", cause)
    return Case(b, "Train", "States.TaskFailed", cause, "redo-1", True,
                extra={"sfn.redrive_count": 1})


def map_run_redriven() -> Case:
    b = h.HistoryBuilder()
    b.enter("Shards", "Map")
    b.add("MapStateStarted", mapStateStartedEventDetails={"length": 0})
    b.add("MapRunStarted", mapRunStartedEventDetails={"mapRunArn": MAP_RUN})
    b.add("MapRunFailed", mapRunFailedEventDetails={"error": "States.ExceedToleratedFailureThreshold"})
    b.add("MapStateFailed")
    b.execution_failed("States.ExceedToleratedFailureThreshold", "threshold exceeded")
    b.add("ExecutionRedriven", executionRedrivenEventDetails={"redriveCount": 1})
    redriven = MAP_RUN + "-redriven"
    b.add("MapRunRedriven", mapRunRedrivenEventDetails={"mapRunArn": redriven, "redriveCount": 1})
    b.add("MapRunFailed", mapRunFailedEventDetails={
        "error": "States.ExceedToleratedFailureThreshold", "cause": "again"})
    b.add("MapStateFailed")
    b.execution_failed("States.ExceedToleratedFailureThreshold", "again")
    return Case(b, "Shards", "States.ExceedToleratedFailureThreshold", "again",
                extra={"sfn.map_run_arn": redriven, "sfn.redrive_count": 1})


CASES: dict[str, Callable[[], Case]] = {
    "TaskFailed": task_failed,
    "TaskTimedOut": task_timed_out,
    "TaskStartFailed": task_start_failed,
    "TaskSubmitFailed": task_submit_failed,
    "ActivityFailed": activity_failed,
    "ActivityTimedOut": activity_timed_out,
    "ActivityScheduleFailed": activity_schedule_failed,
    "LambdaFunctionFailed": lambda_failed,
    "LambdaFunctionTimedOut": lambda_timed_out,
    "LambdaFunctionStartFailed": lambda_start_failed,
    "LambdaFunctionScheduleFailed": lambda_schedule_failed,
    "MapIterationFailed": map_iteration_failed,
    "MapIterationAborted": map_iteration_aborted,
    "MapStateFailed": map_state_failed,
    "MapStateAborted": map_state_aborted,
    "MapRunFailed": map_run_failed,
    "MapRunAborted": map_run_aborted,
    "ParallelStateFailed": parallel_state_failed,
    "ParallelStateAborted": parallel_state_aborted,
    "EvaluationFailed": evaluation_failed,
    "ExecutionFailed": execution_failed,
    "ExecutionTimedOut": execution_timed_out,
    "ExecutionAborted": execution_aborted,
    "WaitStateAborted": wait_state_aborted,
    "ExecutionRedriven": execution_redriven,
    "MapRunRedriven": map_run_redriven,
}


@pytest.mark.parametrize("event", sorted(CASES))
def test_failure_event_contract(aws: h.StubbedAws, event: str) -> None:
    case = CASES[event]()
    assert any(e["type"] == event for e in case.history.events)
    arn = h.execution_arn(event.lower())
    aws.execution(arn, case.history.events, status=case.status)
    if event.startswith("MapRun"):  # the Map Run's children are not listable here: a gap
        aws.stub("stepfunctions").add_response("list_executions", {"executions": []})
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert f.get("sfn.failed_state") == case.state
    assert f.get("sfn.error") == case.error
    assert f.get("sfn.cause") == case.cause
    assert (res.job.name if res.job else None) == case.job
    assert res.job_started is case.job_started
    assert f["sfn.status"] == case.status
    for k, v in case.extra.items():
        assert f.get(k) == v, k


def test_every_failure_event_type_of_the_service_model_is_covered() -> None:
    """The event types that end or abort a state, as botocore's HistoryEventType lists them."""
    failure_types = {
        "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted",
        "TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed",
        "ActivityFailed", "ActivityTimedOut", "ActivityScheduleFailed",
        "LambdaFunctionFailed", "LambdaFunctionTimedOut", "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed", "MapIterationFailed", "MapIterationAborted",
        "MapRunFailed", "MapRunAborted", "MapStateFailed", "MapStateAborted",
        "ParallelStateFailed", "ParallelStateAborted", "EvaluationFailed", "WaitStateAborted",
        "ExecutionRedriven", "MapRunRedriven",
    }
    assert failure_types <= set(CASES)
    assert set(CASES) >= sfn.ROOT_FAILURES
