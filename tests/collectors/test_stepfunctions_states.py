"""Issue 17: where the workflow failed and how it ended, in the facts and in every report.

Histories through botocore's Stubber (shapes validated against the Step Functions service
model); classification through the real playbooks; reports through the real renderers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from investigator.classifier import classify
from investigator.collectors import stepfunctions as sfn
from investigator.models import Evidence, Investigation, Target
from investigator.reporter import render
from tests.collectors import helpers as h
from tests.collectors.helpers import stubbed_aws  # noqa: F401  (the `aws` fixture)

TRAIN = "createTrainingJob.sync"
JOB_ARN = f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:training-job/"




def _investigate(aws: h.StubbedAws, arn: str, **extra_facts: object) -> tuple[
        sfn.ExecutionResult, Investigation]:
    res = sfn.collect_execution(aws.ctx, arn)
    facts = {"target.kind": "execution", "target.name": arn, **res.collected.facts,
             **extra_facts}
    ev = Evidence(target=Target(kind="execution", name=arn), facts=facts,
                  gaps=res.collected.gaps, timeline=res.collected.timeline,
                  collected_at=datetime(2025, 3, 1, tzinfo=UTC))
    return res, classify(ev)


def _quality_gate() -> h.HistoryBuilder:
    """Training succeeds, a Choice on the evaluation metric routes to a Fail state."""
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("gate-job"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + "gate-job"})
    b.succeeded(TRAIN)
    b.exit("Train")
    b.enter("CheckAccuracy", "Choice")
    b.exit("CheckAccuracy", "Choice")
    b.enter("ModelBelowThreshold", "Fail")
    b.execution_failed("ModelBelowThreshold", "validation accuracy 0.71 is below 0.80")
    return b


def test_deliberate_fail_state_is_the_failed_state(aws: h.StubbedAws) -> None:
    arn = h.execution_arn("gate")
    aws.execution(arn, _quality_gate().events)
    # The training job itself completed: the workflow, not the job, decided to stop.
    res, inv = _investigate(aws, arn, **{"sagemaker.status": "Completed",
                                         "sagemaker.job_name": "gate-job"})
    f = res.collected.facts
    assert f["sfn.failed_state"] == "ModelBelowThreshold"
    assert f["sfn.fail_state"] == "ModelBelowThreshold"
    assert f["sfn.failed_event_type"] == "FailStateEntered"
    assert (f["sfn.error"], f["sfn.cause"]) == ("ModelBelowThreshold",
                                               "validation accuracy 0.71 is below 0.80")
    assert inv.failed_state == "ModelBelowThreshold"
    assert inv.finding.rule == "orchestration-sfn-fail-state"
    assert inv.finding.category == "orchestration"
    assert "stopped itself" in inv.finding.title and "ModelBelowThreshold" in inv.finding.title
    assert "validation accuracy 0.71 is below 0.80" in inv.finding.title
    for fmt in ("text", "md", "html"):
        assert "ModelBelowThreshold" in render(inv, fmt)


def test_fail_state_whose_cause_names_a_specific_failure_gets_that_rule(
    aws: h.StubbedAws
) -> None:
    b = h.HistoryBuilder()
    b.enter("Check", "Choice")
    b.exit("Check", "Choice")
    b.enter("NoCapacity", "Fail")
    b.execution_failed("TrainingFailed", "CapacityError: Unable to provision requested ML "
                       "compute capacity. Please retry using a different ML instance type.")
    arn = h.execution_arn("gate-capacity")
    aws.execution(arn, b.events)
    _, inv = _investigate(aws, arn)
    assert inv.failed_state == "NoCapacity"
    assert inv.finding.category == "capacity"


def _catch_then_fail() -> h.HistoryBuilder:
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("caught-job"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + "caught-job"})
    cause = json.dumps({"TrainingJobName": "caught-job", "TrainingJobStatus": "Failed",
                        "FailureReason": "AlgorithmError: ModuleNotFoundError: No module "
                                         "named 'einops'"})
    b.task_failed(TRAIN, "States.TaskFailed", cause)
    b.exit("Train")
    b.enter("NotifyFailure")
    b.schedule("publish", {"TopicArn": f"arn:aws:sns:{h.REGION}:{h.ACCOUNT}:oncall"}, rtype="sns")
    b.succeeded("publish", rtype="sns")
    b.exit("NotifyFailure")
    b.enter("PipelineFailed", "Fail")
    b.execution_failed("TrainingStepFailed", "see the Train state")
    return b


def test_catch_then_fail_names_both_in_every_format(aws: h.StubbedAws) -> None:
    arn = h.execution_arn("catch")
    aws.execution(arn, _catch_then_fail().events)
    res, inv = _investigate(aws, arn)
    f = res.collected.facts
    assert (f["sfn.failed_state"], f["sfn.fail_state"]) == ("Train", "PipelineFailed")
    assert f["sfn.error"] == "States.TaskFailed" and "einops" in f["sfn.cause"]
    assert (f["sfn.fail_error"], f["sfn.fail_cause"]) == ("TrainingStepFailed",
                                                         "see the Train state")
    assert res.job is not None and res.job.name == "caught-job"
    assert inv.failed_state == "Train"
    data = json.loads(render(inv, "json"))
    assert data["failed_state"] == "Train"
    assert data["facts"]["sfn.fail_state"] == "PipelineFailed"
    assert data["facts"]["sfn.fail_error"] == "TrainingStepFailed"
    for fmt in ("text", "md", "html"):
        out = render(inv, fmt)
        assert "Train" in out and "PipelineFailed" in out, fmt
        assert "TrainingStepFailed" in out and "see the Train state" in out, fmt


def _parent_of_unreadable_child(child: str) -> h.HistoryBuilder:
    inner = json.dumps({"TrainingJobName": "child-job", "TrainingJobStatus": "Failed",
                        "FailureReason": "CapacityError: Unable to provision requested ML "
                                         "compute capacity. Please retry using a different "
                                         "ML instance type."})
    # startExecution.sync puts the child's DescribeExecution output in the cause
    # (Step Functions guide connect-stepfunctions).
    cause = json.dumps({"ExecutionArn": child, "Status": "FAILED", "Error": "States.TaskFailed",
                        "Cause": inner, "StateMachineArn": child.rsplit(":", 1)[0]})
    b = h.HistoryBuilder()
    b.enter("RunTraining")
    res = "startExecution.sync:2"
    b.schedule(res, {"StateMachineArn": child.rsplit(":", 1)[0]}, rtype="states")
    b.started(res, rtype="states")
    b.submitted(res, {"ExecutionArn": child, "StartDate": 1}, rtype="states")
    b.task_failed(res, "States.TaskFailed", cause, rtype="states")
    b.execution_failed("States.TaskFailed", cause)
    return b


def test_unreadable_child_keeps_the_parent_failure(aws: h.StubbedAws) -> None:
    child = (f"arn:aws:states:{h.REGION}:210987654321:execution:team-b-training:"
             "child-run-1")
    arn = h.execution_arn("parent")
    aws.execution(arn, _parent_of_unreadable_child(child).events)
    aws.stub("stepfunctions").add_client_error(
        "describe_execution", "AccessDeniedException",
        "User is not authorized to perform: states:DescribeExecution",
        expected_params={"executionArn": child})
    res, inv = _investigate(aws, arn)
    f = res.collected.facts
    assert f["sfn.failed_state"] == "RunTraining"
    assert f["sfn.error"] == "States.TaskFailed"
    assert "CapacityError" in f["sfn.cause"]
    assert f["sfn.nested_execution_arn"] == child
    assert [(g.code, g.missing_permission) for g in res.collected.gaps] == [
        ("AccessDenied", "states:DescribeExecution")]
    assert inv.failed_state == "RunTraining"
    assert res.job is not None and res.job.name == "child-job"
    # The child's own error and cause, unwrapped from the parent's cause, and its job.
    assert f["sfn.child_error"] == "States.TaskFailed"
    assert "CapacityError: Unable to provision" in f["sfn.child_cause"]
    assert (res.job.kind, res.job_started) == ("training", True)
    assert (f["sfn.job_name"], f["sfn.job_kind"], f["sfn.job_started"]) == (
        "child-job", "training", True)
    assert res.cause_job is not None and res.cause_job["TrainingJobStatus"] == "Failed"
    assert res.job_params is None
    # The classifier reads the child's error out of the parent's cause.
    assert inv.finding.category == "capacity"


def test_unreadable_child_with_a_processing_job_names_it(aws: h.StubbedAws) -> None:
    child = f"arn:aws:states:{h.REGION}:210987654321:execution:team-b-prep:child-run-2"
    job_arn = f"arn:aws:sagemaker:{h.REGION}:210987654321:processing-job/child-prep"
    inner = json.dumps({"ProcessingJobName": "child-prep", "ProcessingJobArn": job_arn,
                        "ProcessingJobStatus": "Failed", "FailureReason": "ClientError: x"})
    cause = json.dumps({"ExecutionArn": child, "Status": "FAILED", "Error": "States.TaskFailed",
                        "Cause": inner})
    b = h.HistoryBuilder()
    b.enter("RunPrep")
    res_type = "startExecution.sync:2"
    b.schedule(res_type, {"StateMachineArn": child.rsplit(":", 1)[0]}, rtype="states")
    b.started(res_type, rtype="states")
    b.submitted(res_type, {"ExecutionArn": child, "StartDate": 1}, rtype="states")
    b.task_failed(res_type, "States.TaskFailed", cause, rtype="states")
    b.execution_failed("States.TaskFailed", cause)
    arn = h.execution_arn("parent-prep")
    aws.execution(arn, b.events)
    aws.stub("stepfunctions").add_client_error(
        "describe_execution", "AccessDeniedException", "not authorized",
        expected_params={"executionArn": child})
    res = sfn.collect_execution(aws.ctx, arn)
    assert res.job is not None
    assert (res.job.name, res.job.kind, res.job.arn) == ("child-prep", "processing", job_arn)
    assert res.collected.facts["sfn.nested_execution_arn"] == child


def test_jsonata_state_machine_reads_like_jsonpath(aws: h.StubbedAws) -> None:
    """QueryLanguage JSONata: Arguments are evaluated into the same TaskScheduled parameters
    (Step Functions guide "Transforming data with JSONata")."""
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("jsonata-job"))
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": JOB_ARN + "jsonata-job"})
    cause = json.dumps({"TrainingJobName": "jsonata-job", "FailureReason": "AlgorithmError: x"})
    b.task_failed(TRAIN, "States.TaskFailed", cause)
    b.execution_failed("States.TaskFailed", cause)
    arn = h.execution_arn("jsonata-task")
    aws.execution(arn, b.events)
    res = sfn.collect_execution(aws.ctx, arn)
    assert res.collected.facts["sfn.failed_state"] == "Train"
    assert res.job is not None and res.job.name == "jsonata-job" and res.job_started


def test_jsonata_evaluation_error_is_orchestration(aws: h.StubbedAws) -> None:
    b = h.HistoryBuilder()
    b.enter("Prepare", "Pass")
    exited = b.exit("Prepare", "Pass")
    b.enter("Train", prev=exited)
    cause = ("An error occurred while executing the state 'Train' (entered at the event id "
             "#4). The JSONata expression '$states.input.hp.lr' specified for the field "
             "'Arguments/HyperParameters/lr' returned nothing (undefined).")
    b.add("EvaluationFailed", exited, evaluationFailedEventDetails={
        "error": "States.QueryEvaluationError", "cause": cause,
        "location": "Arguments/HyperParameters/lr", "state": "Train"})
    b.execution_failed("States.QueryEvaluationError", cause)
    arn = h.execution_arn("jsonata-eval")
    aws.execution(arn, b.events)
    res, inv = _investigate(aws, arn)
    assert inv.failed_state == "Train"
    assert res.job is None
    assert inv.finding.category == "orchestration"


def test_evaluation_failed_named_state_wins_even_when_every_link_points_back(
    aws: h.StubbedAws
) -> None:
    """Both EvaluationFailed and ExecutionFailed linked to the previous state's exit: the
    event's `state` member (botocore EvaluationFailedEventDetails.state) still decides."""
    b = h.HistoryBuilder()
    b.enter("State1", "Pass")
    exited = b.exit("State1", "Pass")
    b.enter("State2", "Pass", prev=exited)
    cause = ("An error occurred while executing the state 'State2' (entered at the event id "
             "#4). The JSONata expression '$undefinedVar' specified for the field 'Output' "
             "returned nothing (undefined).")
    b.add("EvaluationFailed", exited, evaluationFailedEventDetails={
        "error": "States.QueryEvaluationError", "cause": cause, "location": "Output",
        "state": "State2"})
    b.execution_failed("States.QueryEvaluationError", cause, prev=exited)
    arn = h.execution_arn("jsonata-links")
    aws.execution(arn, b.events)
    res = sfn.collect_execution(aws.ctx, arn)
    f = res.collected.facts
    assert (f["sfn.failed_state"], f["sfn.error"]) == ("State2", "States.QueryEvaluationError")
    assert f["sfn.failed_event_type"] == "EvaluationFailed"
