"""Issue 19: pins on the history walk, each failing when the behaviour it names breaks.

Through the collector's public entry point (collect_execution) with botocore Stubber
histories; the assertions are what a user reads (failed state, error, cause, job).
"""

from __future__ import annotations

import json

from botocore.stub import ANY

from investigator.collectors import stepfunctions as sfn
from tests.collectors import helpers as h
from tests.collectors.helpers import stubbed_aws  # noqa: F401  (the `aws` fixture)

TRAIN = "createTrainingJob.sync"
PROCESS = "createProcessingJob.sync"
JOB_ARN = f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:training-job/"




def _run(aws: h.StubbedAws, name: str, b: h.HistoryBuilder, status: str = "FAILED"
         ) -> sfn.ExecutionResult:
    arn = h.execution_arn(name)
    aws.execution(arn, b.events, status=status)
    return sfn.collect_execution(aws.ctx, arn)


def test_missing_previous_event_ids_fall_back_to_the_preceding_event(aws: h.StubbedAws) -> None:
    """Some emulators write previousEventId 0 everywhere; the preceding id is used instead."""
    b = h.HistoryBuilder()
    b.enter("Prepare", "Pass")
    b.exit("Prepare", "Pass")
    h.sync_training_failure(b, "Train", "no-links", "AlgorithmError: exit code 1")
    for ev in b.events:
        ev["previousEventId"] = 0
    res = _run(aws, "nolinks", b)
    f = res.collected.facts
    assert f["sfn.failed_state"] == "Train"
    assert f["sfn.error"] == "States.TaskFailed"
    assert res.job is not None and res.job.name == "no-links" and res.job_started


def test_state_name_read_from_the_cause_when_no_state_was_entered(aws: h.StubbedAws) -> None:
    """A runtime error whose chain reaches ExecutionStarted: the cause names the state."""
    b = h.HistoryBuilder()
    cause = ("An error occurred while executing the state 'LoadConfig' (entered at the event "
             "id #2). The JSONPath '$.cfg' specified for the field 'InputPath' could not be "
             "found in the input '{}'")
    b.execution_failed("States.Runtime", cause)
    res = _run(aws, "cause-name", b)
    assert res.collected.facts["sfn.failed_state"] == "LoadConfig"
    assert res.collected.facts["sfn.error"] == "States.Runtime"
    assert res.job is None


def test_a_retried_then_succeeded_failure_is_not_blamed(aws: h.StubbedAws) -> None:
    """TaskFailed → TaskScheduled (Retry, previousEventId = the failure) → TaskSucceeded; later a
    Choice routes to a Fail state. The retried failure did not end its state."""
    b = h.HistoryBuilder()
    b.enter("Evaluate")
    b.schedule("invoke", {"FunctionName": "evaluate-model"}, rtype="lambda")
    b.started("invoke", rtype="lambda")
    failed = b.task_failed("invoke", "Lambda.ServiceException", "Lambda is unavailable",
                           rtype="lambda")
    b.schedule("invoke", {"FunctionName": "evaluate-model"}, rtype="lambda", prev=failed)
    b.started("invoke", rtype="lambda")
    b.succeeded("invoke", rtype="lambda")
    b.exit("Evaluate")
    b.enter("Gate", "Choice")
    b.exit("Gate", "Choice")
    b.enter("Rejected", "Fail")
    b.execution_failed("Rejected", "F1 below target")
    res = _run(aws, "retried-ok", b)
    f = res.collected.facts
    assert f["sfn.failed_state"] == "Rejected"
    assert f["sfn.error"] == "Rejected"
    assert f["sfn.cause"] == "F1 below target"
    assert (f["sfn.execution_error"], f["sfn.execution_cause"]) == ("Rejected", "F1 below target")


def _nested(aws: h.StubbedAws, levels: int) -> list[str]:
    """A chain of startExecution.sync executions, the deepest running a failing training."""
    arns = [h.execution_arn(f"level-{i}", f"machine-{i}") for i in range(levels)]
    for i, arn in enumerate(arns):
        b = h.HistoryBuilder()
        if i == levels - 1:
            h.sync_training_failure(b, "TrainModel", "deep-job", "AlgorithmError: exit code 3")
        else:
            res = "startExecution.sync:2"
            b.enter(f"RunLevel{i + 1}")
            b.schedule(res, {"StateMachineArn": arns[i + 1]}, rtype="states")
            b.started(res, rtype="states")
            b.submitted(res, {"ExecutionArn": arns[i + 1], "StartDate": 1}, rtype="states")
            cause = json.dumps({"ExecutionArn": arns[i + 1], "Status": "FAILED",
                                "Error": "States.TaskFailed", "Cause": "child failed"})
            b.task_failed(res, "States.TaskFailed", cause, rtype="states")
            b.execution_failed("States.TaskFailed", cause)
        aws.execution(arn, b.events)
    return arns


def test_nested_child_is_followed_and_the_parent_timeline_kept(aws: h.StubbedAws) -> None:
    arns = _nested(aws, 2)
    res = sfn.collect_execution(aws.ctx, arns[0])
    f = res.collected.facts
    assert f["sfn.failed_state"] == "TrainModel"
    assert f["sfn.parent_failed_state"] == "RunLevel1"
    assert f["sfn.nested_execution_arn"] == arns[1]
    assert res.job is not None and res.job.name == "deep-job"
    events = [t.event for t in res.collected.timeline]
    assert "TaskFailed: States.TaskFailed" in events  # the parent's own failure
    assert "child: state TrainModel" not in events  # the child's state never exited …
    assert any(e.startswith("child: TaskFailed") for e in events)  # … but its failure shows


def test_nesting_limit_stops_with_a_gap_and_keeps_what_was_read(aws: h.StubbedAws) -> None:
    arns = _nested(aws, sfn.MAX_DEPTH + 2)
    res = sfn.collect_execution(aws.ctx, arns[0])
    f = res.collected.facts
    gaps = [g for g in res.collected.gaps if g.code == "NestingLimit"]
    assert len(gaps) == 1 and arns[sfn.MAX_DEPTH + 1] in gaps[0].message
    # The deepest execution read: its failed state and the ARN of the one it started.
    assert f["sfn.nested_execution_arn"] == arns[sfn.MAX_DEPTH]
    assert f["sfn.failed_state"] == f"RunLevel{sfn.MAX_DEPTH + 1}"
    assert f["sfn.execution_arn"] == arns[0]


def test_job_arn_comes_from_task_submitted(aws: h.StubbedAws) -> None:
    """Parameters without a job name (e.g. an SDK-generated one): TaskSubmitted's output has
    the ARN CreateTrainingJob returned."""
    b = h.HistoryBuilder()
    b.enter("Train")
    params = h.training_params("ignored")
    del params["TrainingJobName"]
    b.schedule(TRAIN, params)
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + "from-submitted",
                        "SdkHttpMetadata": {"HttpStatusCode": 200}})
    b.task_failed(TRAIN, "States.TaskFailed", "job failed")
    b.execution_failed("States.TaskFailed", "job failed")
    res = _run(aws, "arn-only", b)
    assert res.job is not None
    assert (res.job.name, res.job.kind, res.job.arn) == (
        "from-submitted", "training", JOB_ARN + "from-submitted")
    assert res.job_started is True


def test_processing_job_from_task_submitted(aws: h.StubbedAws) -> None:
    arn = f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:processing-job/prep-2025-03-01"
    b = h.HistoryBuilder()
    b.enter("Preprocess")
    b.schedule(PROCESS, {"AppSpecification": {"ImageUri": h.IMAGE}})
    b.started(PROCESS)
    b.submitted(PROCESS, {"ProcessingJobArn": arn})
    b.task_failed(PROCESS, "States.TaskFailed", "processing failed")
    b.execution_failed("States.TaskFailed", "processing failed")
    res = _run(aws, "processing", b)
    assert res.job is not None
    assert (res.job.name, res.job.kind, res.job.arn) == ("prep-2025-03-01", "processing", arn)
    assert res.collected.facts["sfn.failed_state"] == "Preprocess"


def test_history_is_requested_with_execution_data(aws: h.StubbedAws) -> None:
    """includeExecutionData defaults to true on AWS but a false value drops every event's
    input/output (botocore GetExecutionHistoryInput), where the job ARN is found; moto
    ignores the flag, so the request itself is pinned."""
    b = h.HistoryBuilder()
    h.sync_training_failure(b, "Train", "with-data", "AlgorithmError: x")
    arn = h.execution_arn("data")
    stub = aws.stub("stepfunctions")
    stub.add_response("describe_execution", {
        "executionArn": arn, "stateMachineArn": arn.rsplit(":", 1)[0], "status": "FAILED",
        "startDate": h.T0}, {"executionArn": arn})
    stub.add_response("get_execution_history", {"events": b.events[::-1]}, {
        "executionArn": arn, "reverseOrder": True, "includeExecutionData": True,
        "maxResults": ANY})
    res = sfn.collect_execution(aws.ctx, arn)
    stub.assert_no_pending_responses()
    assert res.job is not None and res.job.name == "with-data"


def test_each_earlier_attempt_reads_error_and_cause_even_when_either_is_missing(
    aws: h.StubbedAws,
) -> None:
    """TaskTimedOut/TaskFailed error and cause are optional (botocore TaskTimedOutEventDetails,
    TaskFailedEventDetails): an attempt without them is named by its event type."""
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("t-1"))
    b.started(TRAIN)
    b.add("TaskTimedOut", taskTimedOutEventDetails={"resourceType": "sagemaker",
                                                    "resource": TRAIN})
    b.schedule(TRAIN, h.training_params("t-2"))
    b.started(TRAIN)
    b.add("TaskFailed", taskFailedEventDetails={"resourceType": "sagemaker", "resource": TRAIN,
                                                "error": "SageMaker.AmazonSageMakerException"})
    b.schedule(TRAIN, h.training_params("t-3"))
    b.started(TRAIN)
    long_cause = "Out of capacity:\n\n   " + "retry later " * 40
    b.task_failed(TRAIN, "States.TaskFailed", long_cause)
    b.schedule(TRAIN, h.training_params("t-4"))
    b.started(TRAIN)
    b.task_failed(TRAIN, "States.TaskFailed", "KeyError: SM_CHANNEL_TRAIN_PREFIX")
    b.schedule(TRAIN, h.training_params("t-5"))
    b.started(TRAIN)
    b.task_failed(TRAIN, "States.TaskFailed", "final")
    b.execution_failed("States.TaskFailed", "final")
    res = _run(aws, "optional-details", b)
    errors = res.collected.facts["sfn.attempt_errors"]
    assert errors[:2] == ["attempt 1: TaskTimedOut",
                          "attempt 2: SageMaker.AmazonSageMakerException"]
    # Whitespace folded, cut at 300 characters.
    third = errors[2].removeprefix("attempt 3: ")
    assert third.startswith("States.TaskFailed: Out of capacity: retry later retry later")
    assert len(third) == 300
    assert errors[3] == "attempt 4: States.TaskFailed: KeyError: SM_CHANNEL_TRAIN_PREFIX"
    timeline = [t.event for t in res.collected.timeline if "attempt" in t.event]
    assert timeline[0] == "Train attempt 1 of 5 failed: TaskTimedOut"


def test_the_timeline_holds_the_start_the_states_the_failure_and_the_end(
    aws: h.StubbedAws,
) -> None:
    b = h.HistoryBuilder()
    b.enter("Prepare", "Pass")
    b.exit("Prepare", "Pass")
    h.sync_training_failure(b, "Train", "timeline-job", "AlgorithmError: exit code 1")
    res = _run(aws, "timeline", b)
    assert [t.event for t in res.collected.timeline] == [
        "ExecutionStarted",
        "state Prepare",
        "state Train (no exit)",
        "TaskFailed: States.TaskFailed",
        "ExecutionFailed: States.TaskFailed",
    ]


def test_the_timeline_names_the_failed_map_iteration(aws: h.StubbedAws) -> None:
    b = h.HistoryBuilder()
    b.enter("Fanout", "Map")
    b.enter("Shard")
    b.schedule(TRAIN, h.training_params("shard-3"))
    failed = b.task_failed(TRAIN, "SageMaker.ResourceLimitExceededException", "limit is 2")
    b.add("MapIterationFailed", failed, mapIterationFailedEventDetails={"name": "Fanout",
                                                                        "index": 3})
    b.add("MapStateFailed")
    b.execution_failed("States.TaskFailed", "a Map iteration failed")
    res = _run(aws, "map-timeline", b)
    events = [t.event for t in res.collected.timeline]
    assert events[-3:] == ["TaskFailed: SageMaker.ResourceLimitExceededException",
                           "map Fanout iteration 3 failed", "ExecutionFailed: States.TaskFailed"]


def test_processing_job_named_by_its_parameters(aws: h.StubbedAws) -> None:
    b = h.HistoryBuilder()
    b.enter("Preprocess")
    b.schedule(PROCESS, {"ProcessingJobName": "prep-7", "AppSpecification": {"ImageUri": h.IMAGE}})
    b.started(PROCESS)
    b.task_failed(PROCESS, "SageMaker.AmazonSageMakerException", "ValidationException: bad")
    b.execution_failed("SageMaker.AmazonSageMakerException", "ValidationException: bad")
    res = _run(aws, "processing-params", b)
    assert res.job is not None
    assert (res.job.name, res.job.kind, res.job_started) == ("prep-7", "processing", False)


def test_a_transform_job_task_is_not_taken_for_a_training_job(aws: h.StubbedAws) -> None:
    transform = "createTransformJob.sync"
    b = h.HistoryBuilder()
    b.enter("BatchScore")
    b.schedule(transform, {"TransformJobName": "score-7", "ModelName": "m-7"})
    b.started(transform)
    b.task_failed(transform, "States.TaskFailed", "ClientError: model not found")
    b.execution_failed("States.TaskFailed", "ClientError: model not found")
    res = _run(aws, "transform", b)
    assert res.collected.facts["sfn.failed_state"] == "BatchScore"
    assert res.job is None


def test_training_parameters_cut_short_leave_the_job_to_task_submitted(aws: h.StubbedAws) -> None:
    b = h.HistoryBuilder()
    b.enter("Train")
    b.add("TaskScheduled", taskScheduledEventDetails={
        "resourceType": "sagemaker", "resource": TRAIN, "region": h.REGION,
        "parameters": '{"TrainingJobName": "cut-1", "AlgorithmSpecifica'})
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + "cut-1"})
    b.task_failed(TRAIN, "States.TaskFailed", "job failed")
    b.execution_failed("States.TaskFailed", "job failed")
    res = _run(aws, "cut-params", b)
    assert res.job is not None and (res.job.name, res.job.arn) == ("cut-1", JOB_ARN + "cut-1")
    assert res.job_params is None


def test_an_empty_job_name_in_the_parameters_is_no_job(aws: h.StubbedAws) -> None:
    """"TrainingJobName.$": "$.name" with an empty name: CreateTrainingJob refuses it, and the
    investigation names no job (rather than a job called '')."""
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params(""))
    b.started(TRAIN)
    b.task_failed(TRAIN, "SageMaker.AmazonSageMakerException",
                  "1 validation error detected: Value '' at 'trainingJobName' failed to satisfy "
                  "constraint: Member must have length greater than or equal to 1")
    b.execution_failed("SageMaker.AmazonSageMakerException", "validation error")
    res = _run(aws, "empty-name", b)
    assert res.collected.facts["sfn.failed_state"] == "Train"
    assert res.job is None and "sfn.job_name" not in res.collected.facts


def test_an_evaluation_failure_pointing_back_does_not_take_the_previous_tasks_job(
    aws: h.StubbedAws,
) -> None:
    """EvaluationFailed of a Pass state linked to the previous Task state's exit (as AWS
    records it): that task's training job, which succeeded, is not the failed job."""
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("good-job"))
    b.started(TRAIN)
    b.succeeded(TRAIN)
    exited = b.exit("Train")
    b.enter("Report", "Pass", prev=exited)
    cause = "The JSONata expression '$states.input.metrics' returned nothing (undefined)."
    b.add("EvaluationFailed", exited, evaluationFailedEventDetails={
        "error": "States.QueryEvaluationError", "cause": cause, "location": "Output",
        "state": "Report"})
    b.execution_failed("States.QueryEvaluationError", cause)
    res = _run(aws, "eval-back", b)
    f = res.collected.facts
    assert f["sfn.failed_state"] == "Report"
    assert res.job is None
    assert "sfn.task_resource" not in f and "sfn.attempts" not in f



def test_an_output_evaluation_failure_after_the_job_names_that_job(aws: h.StubbedAws) -> None:
    """The training task succeeded, then its JSONata Output failed to evaluate: the state's
    own task (and its job) is what the failure is about."""
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("evaluated-job"))
    b.started(TRAIN)
    done = b.succeeded(TRAIN)
    cause = "The JSONata expression '$states.result.ModelArtifacts' returned nothing."
    b.add("EvaluationFailed", done, evaluationFailedEventDetails={
        "error": "States.QueryEvaluationError", "cause": cause, "location": "Output",
        "state": "Train"})
    b.execution_failed("States.QueryEvaluationError", cause)
    res = _run(aws, "eval-output", b)
    f = res.collected.facts
    assert (f["sfn.failed_state"], f["sfn.attempts"]) == ("Train", 1)
    assert res.job is not None and res.job.name == "evaluated-job"


def test_a_processing_job_named_only_by_the_failure_cause(aws: h.StubbedAws) -> None:
    """Parameters cut short, no TaskSubmitted: the .sync task's cause (DescribeProcessingJob
    output) names the processing job."""
    b = h.HistoryBuilder()
    b.enter("Preprocess")
    b.add("TaskScheduled", taskScheduledEventDetails={
        "resourceType": "sagemaker", "resource": PROCESS, "region": h.REGION,
        "parameters": '{"ProcessingJobName": "prep-9", "AppSpec'})
    b.started(PROCESS)
    cause = json.dumps({"ProcessingJobName": "prep-9", "ProcessingJobStatus": "Failed",
                        "FailureReason": "AlgorithmError: café missing"})
    b.task_failed(PROCESS, "States.TaskFailed", cause)
    b.execution_failed("States.TaskFailed", cause)
    res = _run(aws, "processing-cause", b)
    assert res.job is not None and (res.job.name, res.job.kind) == ("prep-9", "processing")
    assert res.cause_job is not None and res.cause_job["ProcessingJobStatus"] == "Failed"
    # The cause is shown as JSON re-written after redaction, non-ASCII text kept as is.
    assert res.collected.facts["sfn.cause"] == (
        '{"ProcessingJobName": "prep-9", "ProcessingJobStatus": "Failed", '
        '"FailureReason": "AlgorithmError: café missing"}')


def test_a_training_job_named_only_by_the_failure_cause(aws: h.StubbedAws) -> None:
    b = h.HistoryBuilder()
    b.enter("Train")
    b.add("TaskScheduled", taskScheduledEventDetails={
        "resourceType": "sagemaker", "resource": TRAIN, "region": h.REGION,
        "parameters": '{"TrainingJobName": "train-9", "Algorith'})
    b.started(TRAIN)
    cause = json.dumps({"TrainingJobName": "train-9", "TrainingJobStatus": "Failed"})
    b.task_failed(TRAIN, "States.TaskFailed", cause)
    b.execution_failed("States.TaskFailed", cause)
    res = _run(aws, "training-cause", b)
    assert res.job is not None and (res.job.name, res.job.kind) == ("train-9", "training")
    assert res.job_started is True


def test_a_failed_describe_task_means_the_job_exists(aws: h.StubbedAws) -> None:
    """A polling loop (DescribeTrainingJob through the AWS SDK integration) failed: the job it
    polls was created, so the investigation reads it."""
    sdk = "arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob"
    b = h.HistoryBuilder()
    b.enter("WaitForTraining")
    b.add("TaskScheduled", taskScheduledEventDetails={
        "resourceType": "aws-sdk:sagemaker", "resource": "describeTrainingJob",
        "region": h.REGION, "parameters": json.dumps({"TrainingJobName": "polled-1"})})
    b.started("describeTrainingJob", rtype="aws-sdk:sagemaker")
    b.task_failed("describeTrainingJob", "SageMaker.SageMakerException", "Rate exceeded",
                  rtype="aws-sdk:sagemaker")
    b.execution_failed("SageMaker.SageMakerException", "Rate exceeded")
    res = _run(aws, "describe-task", b)
    assert res.collected.facts["sfn.task_resource"] == sdk
    assert res.job is not None and res.job.name == "polled-1" and res.job_started is True
