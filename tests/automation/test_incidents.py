"""Issue 18: one page per incident, and nothing given up silently.

A failed pipeline is one incident seen by three paths (the job's event, the execution's
event, the sweep) in any order, each delivered possibly twice. Whatever the interleaving:
exactly one SNS message and one report (the pipeline's, when the execution is seen), and
every later path updates or links that report. The interleavings are driven
deterministically: one path runs *inside* another's investigation or deferral.
"""

from __future__ import annotations

import json

import pytest

from investigator import lambda_handler
from investigator.automation.store import ReportStore
from investigator.errors import AwsError

from .conftest import BUCKET, FakeContext, FakeInvestigate, load_event

JOB = "train-20240501-0930"
JOB_STEM = f"reports/2024/05/01/{JOB}"
EXEC_STEM = "reports/2024/05/01/training-pipeline.run-20240501-0930"


def _handle(aws, event, *, investigate=None, settings=None, context=None):
    return lambda_handler.handle(event, context or FakeContext(), settings=settings or aws.settings,
                                 services=aws.services,
                                 investigate=investigate or FakeInvestigate())


def _job_event():
    return load_event("sagemaker_training_failed")


def _exec_event():
    return load_event("sfn_execution_failed")


def _report_sets(aws) -> set[str]:
    """Report stems written (each stem is one .html/.json/.bundle.json set)."""
    return {k.removesuffix(".bundle.json").removesuffix(".html").removesuffix(".json")
            for k in aws.reports()}


def _one_pipeline_page(aws) -> dict:
    [note] = aws.notifications()
    assert "Target: execution arn:aws:states:" in note["Message"]
    assert "Failed state: Train" in note["Message"]
    return note


class During(FakeInvestigate):
    """Runs another delivery while this one is being investigated."""

    def __init__(self, other) -> None:
        super().__init__()
        self.other, self.result = other, None

    def __call__(self, target, **kwargs):
        if self.result is None:
            self.result = self.other()
        return super().__call__(target, **kwargs)


def test_job_event_first_then_execution_one_page_and_one_report(aws):
    job = _handle(aws, _job_event())
    execution = _handle(aws, _exec_event())
    assert (job["status"], execution["status"]) == ("reported", "updated")
    assert len(aws.notifications()) == 1
    # one report: the job's, rewritten in place with the pipeline's investigation
    assert _report_sets(aws) == {JOB_STEM}
    report = json.loads(aws.reports()[f"{JOB_STEM}.json"])
    assert report["target"]["kind"] == "execution" and report["failed_state"] == "Train"
    assert execution["report"]["html"].endswith(f"{JOB_STEM}.html")


def test_execution_first_then_job_one_page_with_the_pipeline_context(aws):
    execution = _handle(aws, _exec_event())
    job = _handle(aws, _job_event())
    assert (execution["status"], job["status"]) == ("reported", "duplicate")
    _one_pipeline_page(aws)
    assert _report_sets(aws) == {EXEC_STEM}
    assert job["report"]["html"].endswith(f"{EXEC_STEM}.html")


def test_execution_arriving_while_the_job_is_investigated(aws):
    """The job holds its claim, so the execution cannot mark it covered (paged twice today)."""
    inner = During(lambda: _handle(aws, _exec_event()))
    job = _handle(aws, _job_event(), investigate=inner)
    assert (inner.result["status"], job["status"]) == ("reported", "linked")
    _one_pipeline_page(aws)
    assert _report_sets(aws) == {EXEC_STEM}


def test_job_arriving_while_the_execution_is_investigated(aws):
    inner = During(lambda: _handle(aws, _job_event()))
    execution = _handle(aws, _exec_event(), investigate=inner)
    assert (inner.result["status"], execution["status"]) == ("reported", "updated")
    assert len(aws.notifications()) == 1
    assert _report_sets(aws) == {JOB_STEM}


def test_duplicates_and_the_sweep_after_an_incident_never_page_again(aws):
    for event in (_job_event(), _exec_event(), _job_event(), _exec_event()):
        _handle(aws, event)
    assert len(aws.notifications()) == 1
    result = _handle(aws, load_event("scheduled"))  # the execution is not in moto: lists none
    assert result["status"] == "swept" and aws.notifications() == []


# -- nothing given up silently ---------------------------------------------------------------

THROTTLED = "AWS throttled sagemaker:DescribeTrainingJob on training job x after 4 attempts"


def test_a_failure_whose_attempts_run_out_is_reported_with_what_could_not_be_read(aws):
    event = _job_event()
    fake = FakeInvestigate(raise_exc=AwsError(THROTTLED, retryable=True))
    for _ in range(2):  # the event, then Lambda's first retry: raised for a retry
        with pytest.raises(AwsError):
            _handle(aws, event, investigate=fake)
    assert aws.notifications() == []
    final = _handle(aws, event, investigate=fake)  # Lambda's second (last) retry
    assert final["status"] == "reported" and final["final"] is True
    report = json.loads(aws.reports()[f"{JOB_STEM}.json"])
    [gap] = report["gaps"]
    assert gap["source"] == "sagemaker" and gap["code"] == "AwsError"
    assert "could not be read in 3 attempts" in gap["message"]
    assert gap["message"].count("throttled sagemaker:DescribeTrainingJob") == 3
    # what the event said is still in the report, and on-call is paged once
    assert report["facts"]["sagemaker.failure_reason"].startswith("AlgorithmError")
    assert len(aws.notifications()) == 1
    # a dead-letter replay (or a late duplicate) sees it reported
    assert _handle(aws, event)["status"] == "duplicate"


def test_a_crash_on_the_final_attempt_is_reported_not_raised(aws):
    event = _job_event()
    store = ReportStore(aws.services.s3, BUCKET)
    key = f"job:training:{JOB}"
    for i in range(2):
        store.abandon(store.claim(key, f"req-{i}").claim, f"RuntimeError: bug {i}")
    result = _handle(aws, event, investigate=FakeInvestigate(raise_exc=KeyError("TrainingJobArn")))
    assert result["status"] == "reported"
    report = json.loads(aws.reports()[f"{JOB_STEM}.json"])
    assert "KeyError" in report["gaps"][0]["message"]
    assert "attempt 1: RuntimeError: bug 0" in report["gaps"][0]["message"]


def test_a_dead_lettered_failure_left_by_three_failed_attempts_is_reported_by_the_replay(aws):
    """What the old code left behind (attempts 3, failed) was answered `gave_up` forever."""
    store = ReportStore(aws.services.s3, BUCKET)
    key = f"job:training:{JOB}"
    store.s3.put_object(Bucket=BUCKET, Key=store.claim_key(key), Body=json.dumps({
        "key": key, "state": "failed", "owner": "req-3", "attempts": 3,
        "updated_at": "2024-05-01T10:40:00Z", "error": "AwsError: throttled"}).encode())
    result = _handle(aws, _job_event())
    assert result["status"] == "reported"
    assert len(aws.notifications()) == 1
