"""The handler with the pipeline replaced by a fake: event → claim → report in S3 → one SNS.

The real collectors are exercised in test_handler_e2e.py; these tests pin the automation
behaviour (idempotency, deadline, gaps, acknowledgement of bad events) on its own.
"""

from __future__ import annotations

import json

import pytest

from investigator import lambda_handler
from investigator.automation.runner import Settings
from investigator.automation.store import ReportStore
from investigator.errors import AwsError

from .conftest import BUCKET, FakeContext, FakeInvestigate, load_event

FAILURES = {
    "sfn_execution_failed": "reports/2024/05/01/training-pipeline.run-20240501-0930",
    "sfn_execution_timed_out": "reports/2024/05/02/training-pipeline.nightly-20240501",
    "sfn_execution_aborted": "reports/2024/05/03/training-pipeline.manual-retry-7",
    "sagemaker_training_failed": "reports/2024/05/01/train-20240501-0930",
    "sagemaker_training_max_runtime": "reports/2024/05/02/train-long-20240502",
}


def _handle(aws, event, *, investigate=None, context=None, settings=None):
    return lambda_handler.handle(
        event, context or FakeContext(), settings=settings or aws.settings,
        services=aws.services, investigate=investigate or FakeInvestigate())


@pytest.mark.parametrize(("fixture", "stem"), sorted(FAILURES.items()))
def test_each_failure_event_writes_html_json_bundle_and_notifies_once(aws, fixture, stem):
    fake = FakeInvestigate()
    result = _handle(aws, load_event(fixture), investigate=fake)

    assert result["status"] == "reported"
    reports = aws.reports()
    assert sorted(reports) == sorted(f"{stem}{ext}" for ext in (".bundle.json", ".html", ".json"))
    report = json.loads(reports[f"{stem}.json"])
    assert report["target"]["name"] == fake.calls[0]["target"].name
    assert reports[f"{stem}.html"].startswith(b"<!doctype html>")
    assert json.loads(reports[f"{stem}.bundle.json"])["kind"] == "evidence"
    # the collectors ran in the event's region, with a deadline inside the Lambda timeout
    assert fake.calls[0]["region"] == "us-east-1" and fake.calls[0]["deadline"] is not None

    [note] = aws.notifications()
    assert note["Subject"].startswith(f"[{report['category']}] ")
    assert f"Report: s3://{BUCKET}/{stem}.html" in note["Message"]
    assert note["MessageAttributes"]["category"]["Value"] == report["category"]


def test_duplicate_delivery_investigates_writes_and_notifies_once(aws):
    fake = FakeInvestigate()
    event = load_event("sagemaker_training_failed")
    first = _handle(aws, event, investigate=fake)
    written = aws.objects()
    second = _handle(aws, event, investigate=fake)

    assert (first["status"], second["status"]) == ("reported", "duplicate")
    assert len(fake.calls) == 1
    assert aws.objects() == written
    assert len(aws.notifications()) == 1


def test_a_job_inside_a_reported_execution_is_not_reported_twice(aws):
    fake = FakeInvestigate()  # its evidence names job train-20240501-0930
    assert _handle(aws, load_event("sfn_execution_failed"), investigate=fake)["status"] == "reported"
    late = _handle(aws, load_event("sagemaker_training_failed"), investigate=fake)
    assert late["status"] == "duplicate"
    assert len(aws.notifications()) == 1


def test_event_racing_an_unfinished_claim_does_not_report(aws):
    event = load_event("sfn_execution_failed")
    store = ReportStore(aws.services.s3, BUCKET)
    key = "execution:" + event["detail"]["executionArn"]
    assert store.claim(key, "sweep-invocation").status == "claimed"

    fake = FakeInvestigate()
    result = _handle(aws, event, investigate=fake)
    assert result["status"] == "in_progress"
    assert fake.calls == [] and aws.reports() == {} and aws.notifications() == []


@pytest.mark.parametrize(
    "fixture",
    ["malformed_sfn_no_execution_arn", "unrelated_ec2_state_change", "sfn_execution_succeeded",
     "sagemaker_training_stopped_by_user", "sagemaker_training_completed"],
)
def test_malformed_and_unrelated_events_are_acknowledged_without_writing(aws, fixture, capsys):
    fake = FakeInvestigate()
    result = _handle(aws, load_event(fixture), investigate=fake)
    assert result["status"] == "ignored" and result["reason"]
    assert fake.calls == [] and aws.objects() == {} and aws.notifications() == []
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["message"] == "ignored" and line["reason"] == result["reason"]


def test_bad_events_are_acknowledged_even_before_configuration_is_read(monkeypatch):
    monkeypatch.delenv("REPORT_BUCKET", raising=False)
    result = lambda_handler.handler({"hello": "world"}, FakeContext())
    assert result["status"] == "ignored"


def test_a_state_machine_outside_the_configuration_is_ignored(aws):
    event = load_event("sfn_execution_failed")
    event["detail"]["stateMachineArn"] = "arn:aws:states:us-east-1:123456789012:stateMachine:other"
    result = _handle(aws, event)
    assert result["status"] == "ignored" and "not configured" in result["reason"]
    assert aws.objects() == {}


def test_near_timeout_still_writes_a_partial_report_with_deadline_gaps(aws):
    # 2 s left, 10 s reserved for rendering and storing: no time to collect anything
    result = _handle(aws, load_event("sfn_execution_failed"), context=FakeContext(remaining_ms=2000))

    assert result["status"] == "reported"
    assert {g.split(":")[1] for g in result["gaps"]} == {"Deadline"}
    report = json.loads(aws.reports()["reports/2024/05/01/training-pipeline.run-20240501-0930.json"])
    assert {g["code"] for g in report["gaps"]} == {"Deadline"}
    # what the event itself said survives into the partial report
    assert report["facts"]["sfn.error"] == "States.TaskFailed"
    [note] = aws.notifications()
    assert "Partial: stopped at the Lambda deadline" in note["Message"]


def test_an_unreadable_target_still_gets_a_report_naming_the_gap(aws):
    fake = FakeInvestigate(raise_exc=AwsError("execution not found: arn:...:run-20240501-0930"))
    result = _handle(aws, load_event("sfn_execution_failed"), investigate=fake)
    assert result["status"] == "reported"
    report = json.loads(aws.reports()["reports/2024/05/01/training-pipeline.run-20240501-0930.json"])
    [gap] = report["gaps"]
    assert gap["source"] == "sfn" and gap["code"] == "AwsError"
    assert "execution not found" in gap["message"]
    assert report["facts"]["sfn.status"] == "FAILED"
    assert len(aws.notifications()) == 1


@pytest.mark.parametrize("message", [
    "AWS throttled states:DescribeExecution on execution arn:x after 4 attempts",
    "cannot reach the AWS endpoint: Could not connect to the endpoint URL",
])
def test_a_transient_aws_error_is_retried_not_reported_as_unreadable(aws, message):
    fake = FakeInvestigate(raise_exc=AwsError(message, retryable=True))
    with pytest.raises(AwsError):
        _handle(aws, load_event("sfn_execution_failed"), investigate=fake)
    assert aws.reports() == {} and aws.notifications() == []


def test_a_crash_is_raised_for_retry_and_the_retry_reports(aws):
    event = load_event("sagemaker_training_failed")
    with pytest.raises(RuntimeError):
        _handle(aws, event, investigate=FakeInvestigate(raise_exc=RuntimeError("throttled")))
    assert aws.reports() == {} and aws.notifications() == []
    assert _handle(aws, event)["status"] == "reported"
    assert len(aws.notifications()) == 1


def test_the_stored_bundle_and_report_are_redacted(aws):
    fake = FakeInvestigate(log_line="export HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz012345")
    _handle(aws, load_event("sagemaker_training_failed"), investigate=fake)
    for key, body in aws.reports().items():
        assert b"hf_abcdefghijklmnop" not in body, key


def test_logs_are_one_json_object_per_line_with_the_outcome(aws, capsys):
    _handle(aws, load_event("sagemaker_training_failed"))
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["message"] == "investigating"
    final = lines[-1]
    assert final["message"] == "reported" and final["request_id"] == "req-0001"
    assert final["report"]["html"].endswith("train-20240501-0930.html")
    assert all("HyperParameters" not in json.dumps(x) for x in lines)


def test_without_a_topic_the_report_is_still_stored(aws):
    settings = Settings.from_env({"REPORT_BUCKET": BUCKET, "AWS_REGION": "us-east-1"})
    result = _handle(aws, load_event("sagemaker_training_failed"), settings=settings)
    assert result["status"] == "reported" and result["notified"] is False
    assert len(aws.reports()) == 3 and aws.notifications() == []


def test_the_claim_lease_ends_with_the_invocation_so_lambda_retries_can_take_over(aws):
    event = load_event("sagemaker_training_failed")
    _handle(aws, event, context=FakeContext(remaining_ms=100_000))
    record, _ = ReportStore(aws.services.s3, BUCKET).read_claim("job:training:train-20240501-0930")
    # 100 s left in the invocation + a 30 s margin, not the 960 s default
    assert 120 <= record["lease_s"] <= 131


def test_a_processing_job_event_is_investigated_as_a_processing_job(aws):
    fake = FakeInvestigate()
    result = _handle(aws, load_event("sagemaker_processing_failed"), investigate=fake)
    assert result["status"] == "reported"
    [call] = fake.calls
    assert call["target"].job_kind == "processing"
    name = "integ-test-analytics-algo-54ee3282-5899-4aa3-afc2-7ce1d02"
    assert result["report"]["html"].endswith(f"reports/2024/01/03/{name}.html")
    assert len(aws.notifications()) == 1


def test_the_processing_prefix_scopes_processing_events(aws):
    from dataclasses import replace

    settings = replace(aws.settings, processing_job_prefix="etl-")
    result = _handle(aws, load_event("sagemaker_processing_failed"), settings=settings)
    assert result["status"] == "ignored" and "PROCESSING_JOB_PREFIX" in result["reason"]


class _StaleDescribe(FakeInvestigate):
    """DescribeExecution right after the FAILED event may still say RUNNING: it is
    eventually consistent (botocore stepfunctions service-2.json, DescribeExecution:
    "This operation is eventually consistent. The results are best effort and may not
    reflect very recent updates and changes.")."""

    def __call__(self, target, **kwargs):
        evidence, _ = super().__call__(target, **kwargs)
        from investigator.classifier import classify

        stale = evidence.replace(facts={**evidence.facts, "sfn.status": "RUNNING"})
        return stale, classify(stale)


@pytest.mark.parametrize("fixture,status", [("sfn_execution_failed", "FAILED"),
                                            ("sfn_execution_timed_out", "TIMED_OUT"),
                                            ("sfn_execution_aborted", "ABORTED")])
def test_the_events_terminal_status_wins_over_a_stale_describe(aws, fixture, status):
    result = _handle(aws, load_event(fixture), investigate=_StaleDescribe())
    assert result["status"] == "reported"
    key = result["report"]["json"].split("/", 3)[3]
    report = json.loads(aws.reports()[key])
    assert report["facts"]["sfn.status"] == status
    assert report["facts"]["sfn.status_described"] == "RUNNING"


def _sqs(*bodies):
    return {"Records": [{"messageId": f"m-{i}", "eventSource": "aws:sqs",
                         "body": b if isinstance(b, str) else json.dumps(b)}
                        for i, b in enumerate(bodies)]}


def test_job_events_arrive_as_sqs_records_from_the_delay_queue(aws):
    result = _handle(aws, _sqs(load_event("sagemaker_training_failed"),
                               load_event("sagemaker_processing_failed"), "not json"))
    assert result["batchItemFailures"] == []
    assert [r["status"] for r in result["results"]] == ["reported", "reported", "ignored"]
    assert len(aws.notifications()) == 2


def test_a_record_that_fails_is_handed_back_to_sqs_for_a_retry(aws):
    fake = FakeInvestigate(raise_exc=RuntimeError("throttled"))
    result = _handle(aws, _sqs(load_event("sagemaker_training_failed")), investigate=fake)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-0"}], "results": []}
    assert aws.reports() == {}
