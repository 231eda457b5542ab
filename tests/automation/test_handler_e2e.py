"""The real handler and the real collectors against moto, with the demo's seeded incidents.

Every AWS call goes to moto (S3, SNS→SQS, SSM, Step Functions, SageMaker, Logs, ECR); the
incidents come from investigator/demo (its seed module documents the moto gaps it fills).
Each event fixture keeps its documented shape and only its identity fields are pointed at a
seeded incident, the way AWS would emit it for that execution or job.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from investigator import lambda_handler
from investigator.demo import scenarios as S

from .conftest import CHECKPOINT, Aws, FakeContext, load_event, moto_world

DEMO_MACHINES = [S.state_machine_arn(n) for n in
                 (S.RECSYS_SM, S.CRLF_SM, S.FORECAST_SM, S.RANKER_SM)]


@pytest.fixture
def demo() -> Iterator[Aws]:
    env = {"STATE_MACHINE_ARNS": ",".join(DEMO_MACHINES),
           # the demo incidents happened in 2025: look back far enough to see them
           "SWEEP_INITIAL_LOOKBACK_HOURS": str(24 * 3650), "SWEEP_HORIZON_HOURS": "48"}
    with moto_world(S.REGION, env) as world:
        yield world


def naive_job_times(region: str = S.REGION) -> None:
    """moto gap: jobs it creates keep naive UTC times and it compares the List*Jobs
    LastModifiedTime window with them; the demo seeds aware ones. Make them alike."""
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends[S.ACCOUNT][region]
    for job in [*backend.training_jobs.values(), *backend.processing_jobs.values()]:
        for name in ("creation_time", "last_modified_time"):
            value = getattr(job, name, None)
            if isinstance(value, datetime) and value.tzinfo is not None:
                setattr(job, name, value.astimezone(UTC).replace(tzinfo=None))


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000)


def execution_event(aws: Aws, fixture: str, arn: str) -> dict[str, Any]:
    """The fixture's event, about the seeded execution (as EventBridge would send it)."""
    desc = aws.services.sfn.describe_execution(executionArn=arn)
    event = copy.deepcopy(load_event(fixture))
    event["region"] = aws.region
    event["resources"] = [arn]
    event["detail"].update(executionArn=arn, stateMachineArn=desc["stateMachineArn"],
                           name=desc["name"], startDate=_ms(desc["startDate"]),
                           stopDate=_ms(desc["stopDate"]))
    return event


def job_event(aws: Aws, fixture: str, name: str) -> dict[str, Any]:
    desc = aws.session.client("sagemaker").describe_training_job(TrainingJobName=name)
    event = copy.deepcopy(load_event(fixture))
    event["region"] = aws.region
    event["resources"] = [desc["TrainingJobArn"]]
    end = desc.get("TrainingEndTime") or desc["LastModifiedTime"]
    event["detail"].update(TrainingJobName=name, TrainingJobArn=desc["TrainingJobArn"],
                           TrainingEndTime=str(_ms(end)), LastModifiedTime=str(_ms(end)))
    return event


def _handle(aws: Aws, event: dict[str, Any], context: FakeContext | None = None) -> dict:
    # investigate=None: the real investigator.pipeline.investigate_target
    return lambda_handler.handle(event, context or FakeContext(), settings=aws.settings,
                                 services=aws.services)


def _report(aws: Aws, result: dict[str, Any]) -> dict[str, Any]:
    key = result["report"]["json"].split("/", 3)[3]
    return json.loads(aws.reports()[key])


CASES = [
    ("sfn_execution_failed", "crlf-entrypoint"),
    ("sfn_execution_timed_out", "max-runtime"),
    ("sfn_execution_aborted", "bad-jsonpath"),
    ("sagemaker_training_failed", "capacity-no-logs"),
    ("sagemaker_training_max_runtime", "max-runtime"),
]


@pytest.mark.parametrize(("fixture", "scenario"), CASES)
def test_each_event_fixture_reports_the_seeded_incident(demo, fixture, scenario):
    sc = S.BY_NAME[scenario]
    S.seed([sc])
    if fixture.startswith("sfn_"):
        event = execution_event(demo, fixture, sc.target)
    else:
        event = job_event(demo, fixture, sc.job or sc.target)

    result = _handle(demo, event)

    assert result["status"] == "reported"
    report = _report(demo, result)
    assert report["category"] == sc.expected
    if sc.job and fixture.startswith("sagemaker_"):
        assert report["job"]["name"] == sc.job
    assert report["api_calls"] > 0
    stem = result["report"]["html"].rsplit("/", 1)[-1].removesuffix(".html")
    assert len([k for k in demo.reports() if stem in k]) == 3
    [note] = demo.notifications()
    assert note["Subject"].startswith(f"[{sc.expected}] ")
    assert result["report"]["html"] in note["Message"]


def test_duplicate_delivery_writes_once_and_publishes_once(demo):
    sc = S.BY_NAME["capacity-no-logs"]
    S.seed([sc])
    event = job_event(demo, "sagemaker_training_failed", sc.target)
    first = _handle(demo, event)
    objects = demo.objects()
    second = _handle(demo, event)
    assert (first["status"], second["status"]) == ("reported", "duplicate")
    assert demo.objects() == objects
    assert len(demo.notifications()) == 1


def test_access_denied_on_logs_still_yields_a_report_with_the_gap(demo):
    sc = S.BY_NAME["logs-access-denied"]
    S.seed([sc])
    result = _handle(demo, job_event(demo, "sagemaker_training_failed", sc.target))
    assert result["status"] == "reported"
    report = _report(demo, result)
    [gap] = [g for g in report["gaps"] if g["source"] == "logs"]
    assert gap["code"] == "AccessDenied" and gap["missing_permission"].startswith("logs:")
    assert any(gap["missing_permission"] in c["missing_permissions"]
               for c in report["could_not_rule_out"])
    assert len(demo.notifications()) == 1


def test_near_timeout_yields_a_partial_report_with_deadline_gaps(demo):
    sc = S.BY_NAME["max-runtime"]
    S.seed([sc])
    event = execution_event(demo, "sfn_execution_timed_out", sc.target)
    # 3 s left, 10 s kept for storing: only the required first source (the execution) starts
    result = _handle(demo, event, FakeContext(remaining_ms=3000))
    assert result["status"] == "reported"
    report = _report(demo, result)
    deadline = {g["source"] for g in report["gaps"] if g["code"] == "Deadline"}
    assert "lastgood" in deadline
    assert report["facts"]["sfn.status"] == "FAILED"  # what was read is kept
    assert report["api_calls"] < 5
    [note] = demo.notifications()
    assert "Partial: stopped at the Lambda deadline" in note["Message"]


def test_sweep_reports_exactly_the_unreported_failures_and_moves_the_checkpoint(demo):
    S.seed(S.select(["max-runtime", "crlf-entrypoint", "bad-jsonpath", "healthy"]))
    naive_job_times()
    crlf = S.BY_NAME["crlf-entrypoint"]
    assert _handle(demo, execution_event(demo, "sfn_execution_failed", crlf.target))[
        "status"] == "reported"
    demo.notifications()

    result = _handle(demo, load_event("scheduled") | {"region": demo.region})

    outcomes: dict[str, int] = {}
    for machine in result["state_machines"]:
        for status, n in machine["outcomes"].items():
            outcomes[status] = outcomes.get(status, 0) + n
    assert outcomes == {"reported": 2, "duplicate": 1}  # healthy: not a failure
    subjects = sorted(n["Subject"].split("]")[0] for n in demo.notifications())
    assert subjects == ["[orchestration", "[timeout"]
    saved = json.loads(demo.services.ssm.get_parameter(Name=CHECKPOINT)["Parameter"]["Value"])
    for arn in DEMO_MACHINES:
        moved = datetime.fromisoformat(saved["state_machines"][arn])
        assert moved > datetime(2025, 11, 1, tzinfo=UTC)  # past every seeded incident

    again = _handle(demo, load_event("scheduled") | {"region": demo.region})
    assert all(set(m["outcomes"]) <= {"duplicate"} for m in again["state_machines"])
    assert demo.notifications() == []


def test_a_stale_running_describe_does_not_hide_the_failed_event(demo):
    """Issue 11 item 4. DescribeExecution is eventually consistent (botocore's stepfunctions
    service-2.json: "may not reflect very recent updates"); moto is always consistent, so
    the seeded execution is put back to RUNNING as AWS may still describe it right after
    its FAILED event. The history (ExecutionFailed) and the event are what is true."""
    from moto.stepfunctions.models import stepfunctions_backends

    sc = S.BY_NAME["crlf-entrypoint"]
    S.seed([sc])
    event = execution_event(demo, "sfn_execution_failed", sc.target)
    backend = stepfunctions_backends[S.ACCOUNT][S.REGION]
    [execution] = [e for m in backend.state_machines for e in m.executions
                   if e.execution_arn == sc.target]
    execution.status = "RUNNING"

    result = _handle(demo, event)
    assert result["status"] == "reported"
    report = _report(demo, result)
    assert report["facts"]["sfn.status"] == "FAILED"
    assert report["category"] == sc.expected
    [note] = demo.notifications()
    assert note["Subject"].startswith(f"[{sc.expected}] ")
