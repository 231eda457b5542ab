"""Last known good: the newest earlier success and what changed since, in at most 4 calls."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from investigator.aws import AwsContext, close_context, open_context
from investigator.collectors import JobRef, lastgood
from investigator.collectors import sagemaker as sm
from tests.collectors import helpers as h

TRAIN = "createTrainingJob.sync"


def _ctx(session: boto3.Session) -> AwsContext:
    return open_context(profile=None, region=h.REGION, deadline=None, session=session)


def _good_history(job: str, **params: object) -> h.HistoryBuilder:
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params(job, **params))  # type: ignore[arg-type]
    b.started(TRAIN)
    b.submitted(TRAIN, {"TrainingJobArn": f"arn:aws:sagemaker:us-east-1:1:training-job/{job}"})
    b.succeeded(TRAIN)
    b.exit("Train")
    b.execution_succeeded()
    return b


def test_compares_the_job_of_the_state_that_failed(aws: boto3.Session, paged_history: dict) -> None:
    """A pipeline with a preprocessing job and a training job: compare Train with Train."""
    sm_arn = h.state_machine(aws)
    b = h.HistoryBuilder()
    b.enter("Train")
    b.schedule(TRAIN, h.training_params("good-train", instance="ml.g5.xlarge"))
    b.succeeded(TRAIN)
    b.exit("Train")
    b.enter("Compress")  # the good run's newest job belongs to another state
    b.schedule(TRAIN, h.training_params("good-compress", instance="ml.c6i.2xlarge"))
    b.succeeded(TRAIN)
    b.exit("Compress")
    b.execution_succeeded()
    h.execution(aws, sm_arn, "good", b, status="SUCCEEDED", start=h.T0 - timedelta(days=1))
    failed_facts = {
        **sm.job_facts(h.training_params("bad-train", instance="ml.g4dn.xlarge"), "training"),
        "sfn.failed_state": "Train",
    }
    ctx = _ctx(aws)
    out = lastgood.for_execution(ctx, sm_arn, "arn:failed", h.T0, None, failed_facts)
    close_context(ctx)
    changes = {c.field: (c.before, c.after) for c in out.changes}
    assert changes["instance_type"] == ("ml.g5.xlarge", "ml.g4dn.xlarge")


def test_execution_changes_since_last_good(aws: boto3.Session, paged_history: dict) -> None:
    sm_arn = h.state_machine(aws)
    older = h.execution(aws, sm_arn, "good-old", _good_history("j-old"), status="SUCCEEDED",
                        start=h.T0 - timedelta(days=3), input_='{"dataset": "v0"}')
    good = h.execution(aws, sm_arn, "good-new", _good_history(
        "j-good", instance="ml.g5.xlarge", hp={"epochs": "3", "lr": "0.001"}),
        status="SUCCEEDED", start=h.T0 - timedelta(days=1), input_='{"dataset": "v1"}')
    later = h.execution(aws, sm_arn, "good-after", _good_history("j-late"), status="SUCCEEDED",
                        start=h.T0 + timedelta(days=1))
    failed = f"arn:aws:states:{h.REGION}:{h.ACCOUNT}:execution:training-pipeline:failed"
    failed_facts = sm.job_facts(h.training_params(
        "j-bad", instance="ml.g4dn.xlarge", hp={"epochs": "3", "lr": "0.1"},
        image=h.IMAGE.replace(":latest", ":v2")), "training")
    ctx = _ctx(aws)
    out = lastgood.for_execution(ctx, sm_arn, failed, h.T0, '{"dataset": "v2"}', failed_facts)
    close_context(ctx)
    assert out.last_good == good and out.last_good not in (older, later)
    changes = {c.field: (c.before, c.after) for c in out.changes}
    assert changes == {
        "input.dataset": ("v1", "v2"),
        "instance_type": ("ml.g5.xlarge", "ml.g4dn.xlarge"),
        "hyperparameters.lr": ("0.001", "0.1"),
        "image": (h.IMAGE, h.IMAGE.replace(":latest", ":v2")),
    }
    assert ctx.counter.total <= 4


def test_no_earlier_success(aws: boto3.Session) -> None:
    sm_arn = h.state_machine(aws)
    ctx = _ctx(aws)
    out = lastgood.for_execution(ctx, sm_arn, "arn:x", h.T0, "{}", {})
    assert out.last_good is None and out.changes == [] and out.collected.gaps == []


def test_list_denied_is_a_gap_that_blocks_no_rule(aws: boto3.Session) -> None:
    sm_arn = h.state_machine(aws)
    h.deny(aws, "ListExecutions")
    out = lastgood.for_execution(_ctx(aws), sm_arn, "arn:x", h.T0, "{}", {})
    assert [(g.source, g.missing_permission) for g in out.collected.gaps] == [
        ("lastgood", "states:ListExecutions")]


def test_job_changes_since_last_good(aws: boto3.Session) -> None:
    h.training_job(aws, "resnet-train-2025-02-20-10-00-00-001", status="Completed",
                   secondary="Completed", reason=None, created=h.T0 - timedelta(days=9))
    h.training_job(aws, "resnet-train-2025-02-27-10-00-00-001", status="Completed",
                   secondary="Completed", reason=None, created=h.T0 - timedelta(days=2),
                   hp={"epochs": "3", "lr": "0.001"})
    h.training_job(aws, "resnet-train-2025-02-28-10-00-00-001", status="Failed",
                   created=h.T0 - timedelta(days=1))  # failed: never "good"
    h.training_job(aws, "other-2025-02-27-10-00-00-001", status="Completed",
                   secondary="Completed", reason=None, created=h.T0 - timedelta(days=1))
    h.training_job(aws, "resnet-train-2025-03-01-12-00-00-001", hp={"epochs": "30", "lr": "0.001"})
    ctx = _ctx(aws)
    failed = sm.job_facts(sm.describe(ctx, JobRef("resnet-train-2025-03-01-12-00-00-001")),
                          "training")
    before = ctx.counter.total
    out = lastgood.for_job(ctx, JobRef("resnet-train-2025-03-01-12-00-00-001"), failed)
    assert out.last_good == "resnet-train-2025-02-27-10-00-00-001"
    assert [(c.field, c.before, c.after) for c in out.changes] == [
        ("hyperparameters.epochs", "3", "30")]
    assert ctx.counter.total - before == 2


@pytest.mark.parametrize(
    "name,base",
    [
        ("resnet-train-2025-03-01-12-00-00-123", "resnet-train"),
        ("pytorch-training-2024-05-01-12-30-45-678", "pytorch-training"),
        ("llm-sft-1718291234", "llm-sft"),
        ("llm-sft-20240501T123045", "llm-sft"),
        ("daily-train-20240501-a1b2c3d4", "daily-train"),
        ("bert-base-v2", "bert-base-v2"),
        ("resnet-50", "resnet-50"),
        ("abc", "abc"),
    ],
)
def test_base_name(name: str, base: str) -> None:
    assert lastgood.base_name(name) == base


def test_long_values_are_cut() -> None:
    changes = lastgood.compare({"sagemaker.arguments": ["a" * 1000]},
                               {"sagemaker.arguments": ["b"]})
    assert len(json.dumps(changes[0].before)) < lastgood.MAX_VALUE + 10
