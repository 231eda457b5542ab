"""The SNS message: short, says what to do, where the report is, and leaks nothing."""

from __future__ import annotations

from investigator.automation import notify
from investigator.automation.store import ReportLocation
from investigator.models import Finding, Gap, Investigation, JobInfo, Target

LOC = ReportLocation("bucket", "reports/2024/05/01/p.r.html", "reports/2024/05/01/p.r.json",
                     "reports/2024/05/01/p.r.bundle.json")
ARN = "arn:aws:states:us-east-1:123456789012:execution:training-pipeline:run-1"


def _inv(category="deps", retryable=False, title="Python module missing in the image",
         gaps=(), remediation=("Add the package to the image",)) -> Investigation:
    return Investigation(
        source=ARN,
        target=Target(kind="execution", name=ARN),
        finding=Finding(category=category, rule="deps-module-not-found", title=title,
                        confidence=0.9, confidence_label="high", retryable=retryable,
                        explanation="x", remediation=list(remediation)),
        failed_state="Train",
        job=JobInfo(name="train-1", status="Failed"),
        gaps=list(gaps),
    )


def test_message_has_category_title_retry_target_and_report_location():
    text = notify.message(_inv(), LOC, region="us-east-1")
    assert text.splitlines()[0] == "deps: Python module missing in the image"
    assert "Retry: no: a retry will fail the same way" in text
    assert f"Target: execution {ARN}" in text
    assert "Failed state: Train" in text and "Job: train-1 (Failed)" in text
    assert "Report: s3://bucket/reports/2024/05/01/p.r.html" in text
    assert "https://us-east-1.console.aws.amazon.com/s3/object/bucket?" in text
    assert "First step: Add the package to the image" in text
    assert len(text.splitlines()) <= 12


def test_retry_advice_follows_the_finding():
    assert notify.retry_advice(_inv(category="capacity", retryable=True)).startswith("yes")
    assert notify.retry_advice(_inv(category="unknown", retryable=True)).startswith("unknown")


def test_partial_reports_say_so():
    gaps = [Gap(source="logs", code="Deadline", message="m"),
            Gap(source="ecr", code="Deadline", message="m")]
    text = notify.message(_inv(gaps=gaps), LOC)
    assert "Partial: stopped at the Lambda deadline before reading ecr, logs" in text


def test_subject_is_one_short_ascii_line_and_secrets_are_masked():
    inv = _inv(title="Bad token HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz012345 in\nconfig ✗ " + "x" * 200)
    subject = notify.subject(inv)
    assert len(subject) < 100 and subject.isascii() and "\n" not in subject
    assert subject.startswith("[deps] Bad token")
    assert "hf_abcdefghij" not in subject
    assert "hf_abcdefghij" not in notify.message(inv, LOC)


def test_attributes_allow_filter_policies_on_category_and_retryable():
    attrs = notify.attributes(_inv(category="cuda", retryable=False))
    assert attrs["category"]["StringValue"] == "cuda"
    assert attrs["retryable"]["StringValue"] == "false"
