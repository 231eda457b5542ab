"""The history analysis alone: plain HistoryEvent dicts in, the failure out, no boto3."""

from __future__ import annotations

import subprocess
import sys

from investigator.collectors import sfn_history as sh


def _ev(id_: int, type_: str, prev: int, **details: object) -> dict:
    return {"id": id_, "type": type_, "previousEventId": prev, "timestamp": 1740830000 + id_,
            **details}


def test_analysis_reads_a_retried_task_without_any_aws_client() -> None:
    res = {"resourceType": "sagemaker", "resource": "createTrainingJob.sync"}
    events = [
        _ev(1, "ExecutionStarted", 0, executionStartedEventDetails={"input": "{}"}),
        _ev(2, "TaskStateEntered", 1, stateEnteredEventDetails={"name": "Train"}),
        _ev(3, "TaskScheduled", 2, taskScheduledEventDetails={
            **res, "parameters": '{"TrainingJobName": "t-1"}'}),
        _ev(4, "TaskFailed", 3, taskFailedEventDetails={
            **res, "error": "SageMaker.AmazonSageMakerException", "cause": "CapacityError: x"}),
        _ev(5, "TaskScheduled", 4, taskScheduledEventDetails={
            **res, "parameters": '{"TrainingJobName": "t-2"}'}),
        _ev(6, "TaskFailed", 5, taskFailedEventDetails={
            **res, "error": "States.TaskFailed", "cause": "AlgorithmError: y"}),
        _ev(7, "ExecutionFailed", 6, executionFailedEventDetails={"error": "States.TaskFailed"}),
    ]
    history = sh.History()
    history.add(events[::-1])
    a = sh.analyse(history, "FAILED")
    assert (a.state, a.status, len(a.attempts)) == ("Train", "FAILED", 2)
    assert a.root is events[5]
    assert sh.job_from_params(a.scheduled or {}).name == "t-2"  # type: ignore[union-attr]
    assert [(n, sh.details(e)["cause"]) for n, e in sh.other_attempts(a)] == [
        (1, "CapacityError: x")]


def test_the_analysis_module_does_not_import_boto3() -> None:
    code = ("import sys, investigator.collectors.sfn_history; "
            "sys.exit(1 if {'boto3', 'botocore'} & set(sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def _analyse(events: list[dict]) -> sh.Analysis:
    history = sh.History()
    history.add(events[::-1])
    return sh.analyse(history, "FAILED")


def _entered(id_: int, kind: str, name: str, prev: int) -> dict:
    return _ev(id_, f"{kind}StateEntered", prev, stateEnteredEventDetails={"name": name})


def _exited(id_: int, kind: str, name: str, prev: int) -> dict:
    return _ev(id_, f"{kind}StateExited", prev, stateExitedEventDetails={"name": name})


def test_a_failed_parallel_is_the_one_still_open_not_a_nested_one_that_finished() -> None:
    """ParallelStateFailed carries no name (botocore HistoryEvent): the Parallel state entered
    and not exited is the one that failed, not an inner Parallel that completed."""
    lam = {"resourceType": "lambda", "resource": "invoke"}
    events = [
        _ev(1, "ExecutionStarted", 0, executionStartedEventDetails={"input": "{}"}),
        _entered(2, "Parallel", "Outer", 1),
        _entered(3, "Parallel", "Inner", 2),
        _exited(4, "Parallel", "Inner", 3),
        _entered(5, "Task", "Evaluate", 2),
        _ev(6, "TaskScheduled", 5, taskScheduledEventDetails={**lam, "parameters": "{}"}),
        _ev(7, "TaskFailed", 6, taskFailedEventDetails={**lam, "error": "Lambda.Unknown"}),
        _ev(8, "ParallelStateFailed", 7),
        _ev(9, "ExecutionFailed", 8, executionFailedEventDetails={"error": "Lambda.Unknown"}),
    ]
    a = _analyse(events)
    assert (a.parallel_state, a.state) == ("Outer", "Evaluate")


def test_a_stop_names_the_state_still_running_not_one_that_finished_meanwhile() -> None:
    """Parallel branches: Report was entered first and finished after Train was entered; the
    execution was stopped (ExecutionAborted) while Train ran."""
    events = [
        _ev(1, "ExecutionStarted", 0, executionStartedEventDetails={"input": "{}"}),
        _entered(2, "Parallel", "Both", 1),
        _entered(3, "Task", "Report", 2),
        _entered(4, "Task", "Train", 2),
        _exited(5, "Task", "Report", 3),
        _ev(6, "ExecutionAborted", 5, executionAbortedEventDetails={}),
    ]
    history = sh.History()
    history.add(events[::-1])
    a = sh.analyse(history, "ABORTED")
    assert (a.status, a.stopped_state) == ("ABORTED", "Train")


def _stopped(*states: tuple[str, str]) -> sh.Analysis:
    """A history of ("enter" | "exit", name) events, then ExecutionAborted."""
    events = [_ev(1, "ExecutionStarted", 0, executionStartedEventDetails={"input": "{}"})]
    for i, (what, name) in enumerate(states, start=2):
        events.append((_entered if what == "enter" else _exited)(i, "Task", name, i - 1))
    events.append(_ev(len(events) + 1, "ExecutionAborted", len(events),
                      executionAbortedEventDetails={}))
    history = sh.History()
    history.add(events[::-1])
    return sh.analyse(history, "ABORTED")


def test_a_stop_counts_entries_and_exits_of_map_iterations() -> None:
    """Inline Map iterations enter and exit states of the same name: each exit closes one
    entry, the state still open when the execution was stopped is the one reported."""
    # Train ran while two Validate iterations came and went.
    a = _stopped(("enter", "Train"), ("enter", "Validate"), ("enter", "Validate"),
                 ("exit", "Validate"), ("exit", "Validate"))
    assert a.stopped_state == "Train"
    # Three Train iterations, two finished: the first is still running.
    b = _stopped(("enter", "Train"), ("enter", "Train"), ("enter", "Train"),
                 ("exit", "Train"), ("exit", "Train"))
    assert b.stopped_state == "Train"
    # Every entry closed: nothing was running (no state to name).
    c = _stopped(("enter", "Train"), ("exit", "Train"))
    assert c.stopped_state is None


def test_a_caught_parallel_failure_before_a_fail_state_names_the_parallel() -> None:
    """Parallel → Catch → Fail state: the failure is found below the Fail state, with the
    Parallel state it happened in."""
    lam = {"resourceType": "lambda", "resource": "invoke"}
    events = [
        _ev(1, "ExecutionStarted", 0, executionStartedEventDetails={"input": "{}"}),
        _entered(2, "Parallel", "Evaluate", 1),
        _entered(3, "Task", "Score", 2),
        _ev(4, "TaskScheduled", 3, taskScheduledEventDetails={**lam, "parameters": "{}"}),
        _ev(5, "TaskFailed", 4, taskFailedEventDetails={**lam, "error": "Lambda.Unknown"}),
        _ev(6, "ParallelStateFailed", 5),
        _ev(7, "FailStateEntered", 6, stateEnteredEventDetails={"name": "Failed"}),
        _ev(8, "ExecutionFailed", 7, executionFailedEventDetails={"error": "EvaluationFailed"}),
    ]
    a = _analyse(events)
    assert (a.fail_state, a.state, a.parallel_state) == ("Failed", "Score", "Evaluate")
    assert sh.details(a.root)["error"] == "Lambda.Unknown"


def test_an_evaluation_failure_linked_to_another_states_entry_keeps_its_own_state() -> None:
    events = [
        _ev(1, "ExecutionStarted", 0, executionStartedEventDetails={"input": "{}"}),
        _entered(2, "Pass", "Report", 1),
        _ev(3, "EvaluationFailed", 2, evaluationFailedEventDetails={
            "error": "States.QueryEvaluationError", "state": "Publish", "location": "Arguments"}),
        _ev(4, "ExecutionFailed", 3, executionFailedEventDetails={
            "error": "States.QueryEvaluationError"}),
    ]
    a = _analyse(events)
    assert (a.state, a.attempts) == ("Publish", [])


def test_a_map_iteration_failure_without_an_index_names_the_map_only() -> None:
    """MapIterationEventDetails.index is optional in the botocore model."""
    lam = {"resourceType": "lambda", "resource": "invoke"}
    events = [
        _ev(1, "ExecutionStarted", 0, executionStartedEventDetails={"input": "{}"}),
        _entered(2, "Map", "Fanout", 1),
        _entered(3, "Task", "Shard", 2),
        _ev(4, "TaskScheduled", 3, taskScheduledEventDetails={**lam, "parameters": "{}"}),
        _ev(5, "TaskFailed", 4, taskFailedEventDetails={**lam, "error": "Lambda.Unknown"}),
        _ev(6, "MapIterationFailed", 5, mapIterationFailedEventDetails={"name": "Fanout"}),
        _ev(7, "MapStateFailed", 6),
        _ev(8, "ExecutionFailed", 7, executionFailedEventDetails={"error": "States.TaskFailed"}),
    ]
    a = _analyse(events)
    assert (a.state, a.map_state, a.map_iteration) == ("Shard", "Fanout", None)


def test_a_map_failure_whose_iteration_is_off_the_chain_is_searched_for() -> None:
    """MapStateFailed linked to the Map's entry, the failed iteration on its own chain: the
    failure is found by searching below the Map's failure."""
    res = {"resourceType": "sagemaker", "resource": "arn:aws:states:::sagemaker:createTrainingJob.sync"}
    events = [
        _ev(1, "ExecutionStarted", 0, executionStartedEventDetails={"input": "{}"}),
        _entered(2, "Map", "Fanout", 1),
        _entered(3, "Task", "Shard", 2),
        _ev(4, "TaskScheduled", 3, taskScheduledEventDetails={
            **res, "parameters": '{"TrainingJobName": "shard-4"}'}),
        _ev(5, "TaskFailed", 4, taskFailedEventDetails={**res, "error": "States.TaskFailed"}),
        _ev(6, "MapIterationFailed", 5, mapIterationFailedEventDetails={"name": "Fanout",
                                                                        "index": 4}),
        _ev(7, "MapStateFailed", 2),
        _ev(8, "ExecutionFailed", 7, executionFailedEventDetails={"error": "States.TaskFailed"}),
    ]
    a = _analyse(events)
    assert (a.state, a.map_state, a.map_iteration) == ("Shard", "Fanout", 4)
    # The resource is already an ARN: it is kept as it is.
    assert sh.resource_of(a.scheduled) == res["resource"]
    assert sh.job_from_params(a.scheduled).name == "shard-4"


def test_a_timeout_during_a_retry_is_the_failure_not_the_retried_attempt() -> None:
    """The retry of a failed attempt was running when the execution timed out: the earlier
    attempt's error was handled by the Retry, so the verdict is the timeout, on the task's
    state, with the retry's job (found by mutation testing, issue 19)."""
    res = {"resourceType": "sagemaker", "resource": "createTrainingJob.sync"}
    events = [
        _ev(1, "ExecutionStarted", 0, executionStartedEventDetails={"input": "{}"}),
        _entered(2, "Task", "Train", 1),
        _ev(3, "TaskScheduled", 2, taskScheduledEventDetails={
            **res, "parameters": '{"TrainingJobName": "t-1"}'}),
        _ev(4, "TaskSubmitted", 3, taskSubmittedEventDetails=res),
        _ev(5, "TaskFailed", 4, taskFailedEventDetails={
            **res, "error": "SageMaker.AmazonSageMakerException", "cause": "CapacityError: x"}),
        _ev(6, "TaskScheduled", 5, taskScheduledEventDetails={
            **res, "parameters": '{"TrainingJobName": "t-2"}'}),
        _ev(7, "TaskSubmitted", 6, taskSubmittedEventDetails=res),
        _ev(8, "ExecutionTimedOut", 7, executionTimedOutEventDetails={
            "error": "States.Timeout"}),
    ]
    history = sh.History()
    history.add(events[::-1])
    a = sh.analyse(history, "TIMED_OUT")
    assert a.root is None  # not the retried attempt's CapacityError
    assert (a.state, a.status) == ("Train", "TIMED_OUT")
    assert sh.job_from_params(a.scheduled or {}).name == "t-2"  # type: ignore[union-attr]
    assert [(n, sh.details(e)["cause"]) for n, e in sh.other_attempts(a)] == [
        (1, "CapacityError: x")]
