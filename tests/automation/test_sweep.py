"""The scheduled sweep against moto Step Functions + SSM: exactly the unreported failures."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from investigator import lambda_handler
from investigator.automation.store import ReportStore

from .conftest import (
    BUCKET,
    CHECKPOINT,
    SM_ARN,
    FakeContext,
    FakeInvestigate,
    load_event,
    seed_execution,
    seed_job,
)

NOW = datetime.now(UTC)
H = timedelta(hours=1)


def _sweep(aws, *, investigate=None, settings=None, context=None):
    return lambda_handler.handle(
        load_event("scheduled"), context or FakeContext(), settings=settings or aws.settings,
        services=aws.services, investigate=investigate or FakeInvestigate())


def _checkpoint(aws) -> datetime | None:
    value = aws.services.ssm.get_parameter(Name=CHECKPOINT)["Parameter"]["Value"]
    machines = json.loads(value).get("state_machines", {})
    return datetime.fromisoformat(machines[SM_ARN]) if SM_ARN in machines else None


def _set_checkpoint(aws, when: datetime) -> None:
    aws.services.ssm.put_parameter(
        Name=CHECKPOINT, Overwrite=True, Type="String",
        Value=json.dumps({"version": 1, "state_machines": {SM_ARN: when.isoformat()}}))


def _with_sweep(aws, **changes):
    return replace(aws.settings, sweep=replace(aws.settings.sweep, **changes))


def _targets(fake: FakeInvestigate) -> list[str]:
    return [c["target"].name.rsplit(":", 1)[-1] for c in fake.calls]


def test_sweep_reports_exactly_the_unreported_failures_and_moves_the_checkpoint(aws):
    _set_checkpoint(aws, NOW - 6 * H)
    seed_execution(aws, "old-failure", "FAILED", started=NOW - 9 * H, stopped=NOW - 8 * H)
    seed_execution(aws, "failed", "FAILED", started=NOW - 5 * H, stopped=NOW - 4 * H)
    seed_execution(aws, "timed-out", "TIMED_OUT", started=NOW - 4 * H, stopped=NOW - 3 * H)
    seed_execution(aws, "aborted", "ABORTED", started=NOW - 3 * H, stopped=NOW - 2 * H)
    seed_execution(aws, "ok", "SUCCEEDED", started=NOW - 3 * H, stopped=NOW - 2 * H)
    seed_execution(aws, "running", "RUNNING", started=NOW - H, stopped=None)
    # long-running: started before the checkpoint, failed after it
    seed_execution(aws, "long", "FAILED", started=NOW - 7 * H, stopped=NOW - H)
    # already reported by the event path
    reported = seed_execution(aws, "evented", "FAILED", started=NOW - 3 * H, stopped=NOW - 2 * H)
    event = load_event("sfn_execution_failed")
    event["detail"].update(executionArn=reported, name="evented")
    assert lambda_handler.handle(event, FakeContext(), settings=aws.settings,
                                 services=aws.services,
                                 investigate=FakeInvestigate())["status"] == "reported"
    aws.notifications()  # drain the event's notification

    fake = FakeInvestigate()
    result = _sweep(aws, investigate=fake)

    assert sorted(_targets(fake)) == ["aborted", "failed", "long", "timed-out"]
    [machine] = result["state_machines"]
    assert machine["outcomes"] == {"reported": 4, "duplicate": 1}
    assert len(aws.notifications()) == 4
    # all handled: the checkpoint moves up to (almost) now
    assert _checkpoint(aws) > NOW - timedelta(minutes=2)

    again = FakeInvestigate()
    second = _sweep(aws, investigate=again)
    assert again.calls == [] and aws.notifications() == []
    # only the TIMED_OUT one is listed again: moto omits its stopDate (AWS does not)
    assert set(second["state_machines"][0]["outcomes"]) <= {"duplicate"}


def test_first_sweep_looks_back_the_initial_window_only(aws):
    seed_execution(aws, "two-days-ago", "FAILED", started=NOW - 49 * H, stopped=NOW - 48 * H)
    seed_execution(aws, "an-hour-ago", "FAILED", started=NOW - 2 * H, stopped=NOW - H)
    fake = FakeInvestigate()
    _sweep(aws, investigate=fake)  # SWEEP_INITIAL_LOOKBACK_HOURS defaults to 24
    assert _targets(fake) == ["an-hour-ago"]


def test_checkpoint_only_moves_over_what_was_handled_when_the_budget_runs_out(aws):
    _set_checkpoint(aws, NOW - 6 * H)
    seed_execution(aws, "first", "FAILED", started=NOW - 5 * H, stopped=NOW - 4 * H)
    seed_execution(aws, "second", "FAILED", started=NOW - 4 * H, stopped=NOW - 3 * H)
    settings = _with_sweep(aws, max_items=1)

    fake = FakeInvestigate()
    result = _sweep(aws, investigate=fake, settings=settings)
    assert _targets(fake) == ["first"]
    assert result["stopped_early"] and result["state_machines"][0]["deferred"] == 1
    checkpoint = _checkpoint(aws)
    assert NOW - 4 * H - timedelta(seconds=1) < checkpoint < NOW - 3 * H

    fake = FakeInvestigate()
    _sweep(aws, investigate=fake, settings=settings)
    assert _targets(fake) == ["second"]
    assert _checkpoint(aws) > NOW - timedelta(minutes=2)


def test_near_timeout_sweep_defers_everything_and_keeps_the_checkpoint(aws):
    start = NOW - 6 * H
    _set_checkpoint(aws, start)
    seed_execution(aws, "failed", "FAILED", started=NOW - 5 * H, stopped=NOW - 4 * H)
    fake = FakeInvestigate()
    result = _sweep(aws, investigate=fake, context=FakeContext(remaining_ms=5000))
    assert fake.calls == [] and result["stopped_early"]
    assert start <= _checkpoint(aws) < NOW - 4 * H  # still before the deferred failure


def test_a_failing_item_holds_the_checkpoint_but_not_the_others(aws):
    _set_checkpoint(aws, NOW - 6 * H)
    seed_execution(aws, "poison", "FAILED", started=NOW - 5 * H, stopped=NOW - 4 * H)
    seed_execution(aws, "fine", "FAILED", started=NOW - 4 * H, stopped=NOW - 3 * H)

    class PoisonOne(FakeInvestigate):
        def __call__(self, target, **kwargs):
            if target.name.endswith(":poison"):
                self.calls.append({"target": target, **kwargs})
                raise RuntimeError("ThrottlingException after retries")
            return super().__call__(target, **kwargs)

    result = _sweep(aws, investigate=PoisonOne())
    machine = result["state_machines"][0]
    assert machine["outcomes"] == {"error": 1, "reported": 1}
    assert "ThrottlingException" in machine["errors"][0]
    assert _checkpoint(aws) < NOW - 4 * H
    # the next sweep retries the poison item (and only re-sees the other as done)
    fake = FakeInvestigate()
    _sweep(aws, investigate=fake)
    assert _targets(fake) == ["poison"]
    assert _checkpoint(aws) > NOW - timedelta(minutes=2)


def test_an_item_another_invocation_is_reporting_holds_the_checkpoint(aws):
    _set_checkpoint(aws, NOW - 6 * H)
    arn = seed_execution(aws, "busy", "FAILED", started=NOW - 5 * H, stopped=NOW - 4 * H)
    ReportStore(aws.services.s3, BUCKET).claim(f"execution:{arn}", "event-invocation")
    fake = FakeInvestigate()
    result = _sweep(aws, investigate=fake)
    assert fake.calls == [] and result["state_machines"][0]["outcomes"] == {"in_progress": 1}
    assert _checkpoint(aws) < NOW - 4 * H


def test_a_listing_cut_short_by_the_page_bound_does_not_move_the_checkpoint(aws):
    start = NOW - 6 * H
    _set_checkpoint(aws, start)
    for i in range(3):
        seed_execution(aws, f"f{i}", "FAILED", started=NOW - (5 - i) * H, stopped=NOW - (4 - i) * H)
    fake = FakeInvestigate()
    result = _sweep(aws, investigate=fake,
                    settings=_with_sweep(aws, max_pages=1, page_size=2))
    assert len(fake.calls) == 2  # what it saw is reported...
    assert result["state_machines"][0]["complete"] is False
    assert _checkpoint(aws) == start  # ...but nothing older than the page can be ruled out


@pytest.mark.parametrize("value", ["not json", "[]", '{"state_machines": {"x": "yesterday"}}'])
def test_an_unreadable_checkpoint_falls_back_to_the_initial_lookback(aws, value):
    aws.services.ssm.put_parameter(Name=CHECKPOINT, Value=value, Type="String", Overwrite=True)
    seed_execution(aws, "recent", "FAILED", started=NOW - 2 * H, stopped=NOW - H)
    fake = FakeInvestigate()
    _sweep(aws, investigate=fake)
    assert _targets(fake) == ["recent"]
    assert _checkpoint(aws) is not None



# -- issue 18 item 3: failed jobs are swept too ----------------------------------------------


def _job_outcomes(result) -> dict[str, dict[str, int]]:
    return {j["kind"]: j["outcomes"] for j in result["jobs"]}


def _job_checkpoints(aws) -> dict[str, datetime]:
    value = json.loads(aws.services.ssm.get_parameter(Name=CHECKPOINT)["Parameter"]["Value"])
    return {k: datetime.fromisoformat(v) for k, v in value.get("jobs", {}).items()}


def test_a_job_only_failure_whose_event_was_lost_is_reported_by_the_next_sweep(aws):
    seed_job(aws, "notebook-train-1", modified=NOW - 2 * H)
    seed_job(aws, "etl-prep-1", kind="processing", modified=NOW - 3 * H)
    seed_job(aws, "fine-1", status="Completed", modified=NOW - 2 * H)
    seed_job(aws, "stopped-by-hand", status="Stopped", secondary="Stopped", modified=NOW - H)
    seed_job(aws, "too-old", modified=NOW - 30 * H)  # before the initial lookback
    fake = FakeInvestigate()
    result = _sweep(aws, investigate=fake)
    assert sorted((c["target"].job_kind, c["target"].name) for c in fake.calls) == [
        ("processing", "etl-prep-1"), ("training", "notebook-train-1")]
    assert _job_outcomes(result) == {"training": {"reported": 1}, "processing": {"reported": 1}}
    assert len(aws.notifications()) == 2
    assert all(c > NOW - timedelta(minutes=2) for c in _job_checkpoints(aws).values())
    # the next sweep starts after them
    again = FakeInvestigate()
    _sweep(aws, investigate=again)
    assert again.calls == [] and aws.notifications() == []


def test_a_job_stopped_by_its_time_limit_is_a_failure(aws):
    # TrainingJobSummary carries SecondaryStatus (botocore sagemaker service-2.json)
    seed_job(aws, "long-run", status="Stopped", secondary="MaxRuntimeExceeded",
             modified=NOW - H)
    fake = FakeInvestigate()
    sm = aws.services.sagemaker
    original = sm.list_training_jobs

    # moto's TrainingJobSummary lacks SecondaryStatus; AWS's has it
    def with_secondary(**kwargs):
        resp = original(**kwargs)
        for s in resp["TrainingJobSummaries"]:
            s.setdefault("SecondaryStatus", "MaxRuntimeExceeded")
        return resp

    sm.list_training_jobs = with_secondary
    try:
        _sweep(aws, investigate=fake)
    finally:
        del sm.list_training_jobs
    assert [c["target"].name for c in fake.calls] == ["long-run"]


def test_a_job_inside_a_reported_execution_is_not_reported_again(aws):
    _set_checkpoint(aws, NOW - 6 * H)
    seed_execution(aws, "run-7", "FAILED", started=NOW - 3 * H, stopped=NOW - 2 * H)
    seed_job(aws, "train-7", modified=NOW - 2 * H - timedelta(minutes=1))  # its job (fake)
    fake = FakeInvestigate()
    result = _sweep(aws, investigate=fake)
    assert [c["target"].kind for c in fake.calls] == ["execution"]
    assert result["state_machines"][0]["outcomes"] == {"reported": 1}
    assert _job_outcomes(result)["training"] == {"duplicate": 1}
    [note] = aws.notifications()
    assert "Target: execution" in note["Message"]


def test_the_job_listing_is_bounded_and_a_cut_listing_holds_the_checkpoint(aws):
    for i in range(3):
        seed_job(aws, f"job-{i}", modified=NOW - (3 - i) * H)
    settings = _with_sweep(aws, max_pages=1, page_size=2, job_kinds=("training",))
    calls = []
    sm = aws.services.sagemaker
    original = sm.list_training_jobs

    def spy(**kwargs):
        calls.append(kwargs)
        return original(**kwargs)

    sm.list_training_jobs = spy
    try:
        result = _sweep(aws, settings=settings)
    finally:
        del sm.list_training_jobs
    # one page per status, StatusEquals and a LastModifiedTime window from the checkpoint
    assert [c["StatusEquals"] for c in calls] == ["Failed", "Stopped"]
    assert all(c["MaxResults"] == 2 and c["LastModifiedTimeAfter"] < c["LastModifiedTimeBefore"]
               for c in calls)
    [jobs] = result["jobs"]
    assert jobs["complete"] is False and jobs["outcomes"] == {"reported": 2}
    assert "training" not in _job_checkpoints(aws) or \
        _job_checkpoints(aws)["training"] <= NOW - 23 * H


def test_the_training_prefix_scopes_the_job_sweep(aws):
    seed_job(aws, "team-a-1", modified=NOW - H)
    seed_job(aws, "team-b-1", modified=NOW - H)
    fake = FakeInvestigate()
    _sweep(aws, investigate=fake, settings=_with_sweep(aws, training_job_prefix="team-a-"))
    assert [c["target"].name for c in fake.calls] == ["team-a-1"]


def test_a_failure_left_failed_after_its_attempts_is_not_treated_as_handled(aws):
    """Issue 18 item 2: a failure whose attempts ran out holds the checkpoint until a final
    attempt reports it; it is never counted as handled without a report."""
    _set_checkpoint(aws, NOW - 6 * H)
    arn = seed_execution(aws, "run-poison", "FAILED", started=NOW - 5 * H, stopped=NOW - 4 * H)
    store = ReportStore(aws.services.s3, BUCKET)
    for i in range(2):
        store.abandon(store.claim(f"execution:{arn}", f"req-{i}").claim, "AwsError: throttled")
    fake = FakeInvestigate(raise_exc=RuntimeError("ThrottlingException"))
    result = _sweep(aws, investigate=fake)
    assert result["state_machines"][0]["outcomes"] == {"reported": 1}  # the final attempt
    [note] = aws.notifications()
    assert "run-poison" in note["Message"]
