"""Issue 11 (jobs side): AWS behaviours moto does not produce, through the whole pipeline.

Each test cites the AWS source of the behaviour it relies on; seeding helpers (and the moto gaps
they work around) are in tests/collectors/helpers.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from investigator.errors import AwsError
from investigator.facts import FACTS, unknown_facts
from investigator.models import Evidence, Investigation, Target
from investigator.pipeline import investigate_target
from tests.collectors import conftest as _fixtures
from tests.collectors import helpers as h

aws = _fixtures.aws
paged_history = _fixtures.paged_history


def _run(session: boto3.Session, target: Target, **kw: Any) -> tuple[Evidence, Investigation]:
    ev, inv = investigate_target(target, session=session, **kw)
    assert unknown_facts(ev.facts) == []
    wrong = {k: v for k, v in ev.facts.items() if not isinstance(v, FACTS[k].type)}
    assert wrong == {}
    return ev, inv


def _job(name: str) -> Target:
    return Target(kind="job", name=name, job_kind="training")


def test_image_pull_failure_has_no_log_gap_and_no_inconclusive_log_rules(
        aws: boto3.Session) -> None:
    """Item 5: SecondaryStatus Training + "Downloading the training image" comes before the
    container runs (API_SecondaryStatusTransition), so a pull failure has no logs to miss."""
    h.training_job(aws, "pull-2", transitions=[
        ("Starting", "Preparing the instances for training"),
        ("Downloading", "Downloading input data"),
        ("Training", "Downloading the training image"),
        ("Failed", "Training job failed")],
        reason="ClientError: Cannot pull algorithm container. Either the image does not exist "
               "or its permissions are incorrect.")
    h.log_stream(aws, "another-job/algo-1-1740830000", ["the log group exists"])
    ev, inv = _run(aws, _job("pull-2"))
    assert ev.facts["sagemaker.container_started"] is False
    assert [g for g in ev.gaps if g.source == "logs"] == []
    assert not [i for i in inv.inconclusive if "logs" in i.missing_sources]


def test_tag_pushed_after_the_pull_but_before_training_start_moved(
        aws: boto3.Session) -> None:
    """Item 8: the tag was resolved when SageMaker pulled the image ("Downloading the training
    image", API_SecondaryStatusTransition), which comes before TrainingStartTime; a push
    between the two is not what the job ran."""
    h.training_job(aws, "moved-1", transitions=[
        ("Starting", "Preparing the instances for training"),
        ("Training", "Downloading the training image"),  # created + 1 min
        ("Training", "Training image download completed. Training in progress."),
        ("Failed", "Training job failed")])  # TrainingStartTime: created + 4 min
    h.ecr_image(aws, pushed=h.T0 + timedelta(minutes=2, seconds=30))
    ev, _ = _run(aws, _job("moved-1"))
    assert ev.facts["sagemaker.image_pulled_at"] == (h.T0 + timedelta(minutes=1)).isoformat()
    assert ev.facts["ecr.pushed_after_job_start"] is True
    assert ev.facts["ecr.tag_moved"] is True


def test_tag_pushed_before_the_pull_did_not_move(aws: boto3.Session) -> None:
    h.training_job(aws, "kept-1")
    h.ecr_image(aws, pushed=h.T0 - timedelta(hours=3))
    ev, _ = _run(aws, _job("kept-1"))
    assert ev.facts["ecr.pushed_after_job_start"] is False
    assert "ecr.tag_moved" not in ev.facts


# Item 11: botocore's sagemaker model lists ResourceNotFound as the error of DescribeTrainingJob
# and DescribeProcessingJob (service-2.json, "errors": [{"shape": "ResourceNotFound"}]).
def test_job_target_resource_not_found_is_one_clear_exit_3_line(
        aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    import investigator.aws as aws_mod
    from investigator.cli import main

    h.deny(aws, "DescribeTrainingJob", code="ResourceNotFound")
    monkeypatch.setattr(aws_mod, "make_session", lambda profile=None, region=None: aws)
    result = CliRunner().invoke(main, ["job", "old-job-1", "--region", h.REGION])
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert "training job old-job-1 not found in us-east-1" in lines[0]
    with pytest.raises(AwsError) as info:
        investigate_target(_job("old-job-1"), session=aws)
    assert info.value.retryable is False


def test_job_not_found_from_an_execution_is_a_gap(aws: boto3.Session,
                                                  paged_history: dict) -> None:
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    h.sync_training_failure(b, "Train", "gone-1", "AlgorithmError: exit code 1")
    arn = h.execution(aws, sm, "run-gone", b)
    h.deny(aws, "DescribeTrainingJob", code="ResourceNotFound")
    ev, inv = _run(aws, Target(kind="execution", name=arn))
    gap = next(g for g in ev.gaps if g.source == "sagemaker")
    assert gap.code == "NotFound" and "gone-1" in gap.message
    assert inv.finding is not None


def _heterogeneous(session: boto3.Session, name: str) -> None:
    """A job on ResourceConfig.InstanceGroups (API_ResourceConfig, API_InstanceGroup); moto keeps
    the request's InstanceCount, so the backend job gets the heterogeneous config AWS returns."""
    from moto.sagemaker.models import sagemaker_backends

    h.training_job(session, name)
    job = sagemaker_backends[h.ACCOUNT][h.REGION].training_jobs[name]
    job.resource_config = {"VolumeSizeInGB": 100, "InstanceGroups": [
        {"InstanceType": "ml.c5.18xlarge", "InstanceCount": 1, "InstanceGroupName": "data"},
        {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 2, "InstanceGroupName": "dnn"}]}


def _toolkit_env(group: str, itype: str, host: str) -> str:
    return (f'Training Env: {{"current_host": "{host}", "current_instance_group": "{group}", '
            f'"current_instance_type": "{itype}", "hosts": ["algo-1", "algo-2", "algo-3"]}}')


def test_heterogeneous_cluster_sums_counts_and_takes_the_failed_hosts_group(
        aws: boto3.Session) -> None:
    """Item 10: instance facts come from the group of the host that failed (its own log names its
    group: https://docs.aws.amazon.com/sagemaker/latest/dg/train-heterogeneous-cluster.html)."""
    _heterogeneous(aws, "hetero-1")
    h.log_stream(aws, "hetero-1/algo-1-1740830000",
                 [_toolkit_env("data", "ml.c5.18xlarge", "algo-1"), "serving batches",
                  "RuntimeError: connection to dispatcher lost"])
    h.log_stream(aws, "hetero-1/algo-2-1740830000",
                 [_toolkit_env("dnn", "ml.p4d.24xlarge", "algo-2"), "step 1",
                  "RuntimeError: CUDA error: no kernel image is available for execution on the "
                  "device"])
    # The data host's error comes later (a consequence); move it after the GPU host's.
    from moto.logs.models import logs_backends

    streams = logs_backends[h.ACCOUNT][h.REGION].groups["/aws/sagemaker/TrainingJobs"].streams
    streams["hetero-1/algo-1-1740830000"].events[-1].timestamp += 60_000
    ev, _ = _run(aws, _job("hetero-1"))
    f = ev.facts
    assert f["sagemaker.instance_count"] == 3
    assert [g["type"] for g in f["sagemaker.instance_groups"]] == ["ml.c5.18xlarge",
                                                                   "ml.p4d.24xlarge"]
    assert (f["sagemaker.failed_host"], f["sagemaker.instance_group"]) == ("algo-2", "dnn")
    assert f["sagemaker.instance_type"] == "ml.p4d.24xlarge"
    assert f["instance.gpu_model"] == "A100"


def test_heterogeneous_host_that_cannot_be_placed_leaves_the_type_unknown(
        aws: boto3.Session) -> None:
    _heterogeneous(aws, "hetero-2")
    h.log_stream(aws, "hetero-2/algo-3-1740830000", ["RuntimeError: boom"])
    ev, _ = _run(aws, _job("hetero-2"))
    assert ev.facts["sagemaker.instance_count"] == 3
    assert ev.facts["sagemaker.failed_host"] == "algo-3"
    assert "sagemaker.instance_type" not in ev.facts
    assert "instance.gpu_model" not in ev.facts


# Item 12: a person's stop is not a failure. API_StopTrainingJob: the job ends Stopped (SIGTERM,
# then SIGKILL after 120 s) with no FailureReason; API_StopExecution: the execution ends ABORTED.
SIGTERM_LOG = [
    "[rank0]: step 4200/20000 loss 1.873 lr 2.9e-4",
    "WARNING:torch.distributed.elastic.agent.server.api:Received Signals.SIGTERM death signal, "
    "shutting down workers",
    "Traceback (most recent call last):",
    "torch.distributed.elastic.multiprocessing.api.SignalException: Process 212 got signal: 15",
]


def test_stop_training_job_is_none_with_when(aws: boto3.Session) -> None:
    h.training_job(aws, "stopped-1", status="Stopped", secondary="Stopped", reason=None)
    h.log_stream(aws, "stopped-1/algo-1-1740830000", SIGTERM_LOG)
    ev, inv = _run(aws, _job("stopped-1"))
    assert ev.facts["stop.by"] == "StopTrainingJob"
    assert inv.finding.category == "none"
    assert inv.finding.rule == "none-stopped-by-user"
    ended = (h.T0 + timedelta(minutes=30)).isoformat()
    assert "StopTrainingJob" in inv.finding.title and ended in inv.finding.title


def test_max_runtime_exceeded_is_still_a_timeout_not_a_stop(aws: boto3.Session) -> None:
    h.training_job(aws, "slow-2", status="Stopped", secondary="MaxRuntimeExceeded", reason=None)
    h.log_stream(aws, "slow-2/algo-1-1740830000", SIGTERM_LOG)
    ev, inv = _run(aws, _job("slow-2"))
    assert "stop.by" not in ev.facts
    assert inv.finding.category == "timeout"


def test_stop_execution_is_none_with_when(aws: boto3.Session, paged_history: dict) -> None:
    sm = h.state_machine(aws)
    b = h.HistoryBuilder()
    res = "createTrainingJob.sync"
    b.enter("Train")
    b.schedule(res, h.training_params("aborted-1"))
    b.started(res)
    b.submitted(res, {"TrainingJobArn":
                      f"arn:aws:sagemaker:{h.REGION}:{h.ACCOUNT}:training-job/aborted-1"})
    aborted = b.add("ExecutionAborted", seconds=900)
    arn = h.execution(aws, sm, "run-aborted", b, status="ABORTED")
    h.training_job(aws, "aborted-1", status="Stopped", secondary="Stopped", reason=None)
    h.log_stream(aws, "aborted-1/algo-1-1740830000", SIGTERM_LOG)
    ev, inv = _run(aws, Target(kind="execution", name=arn))
    assert ev.facts["stop.by"] == "StopExecution"
    assert ev.facts["stop.at"] == b.events[aborted - 1]["timestamp"].isoformat()
    assert (inv.finding.category, inv.finding.rule) == ("none", "none-stopped-by-user")
    assert "StopExecution" in inv.finding.title


# Item 13: instance metrics (namespace /aws/sagemaker/TrainingJobs, dimension Host =
# "<job>/algo-N": https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html).
def _memory(session: boto3.Session, job: str, host: str, values: list[float]) -> None:
    cw = session.client("cloudwatch", region_name=h.REGION)
    cw.put_metric_data(Namespace="/aws/sagemaker/TrainingJobs", MetricData=[
        {"MetricName": "MemoryUtilization", "Dimensions": [{"Name": "Host", "Value": f"{job}/{host}"}],
         "Timestamp": h.T0 + timedelta(minutes=5 + i), "Value": v, "Unit": "Percent"}
        for i, v in enumerate(values)])


KILLED_LOG = ["Loading checkpoint shards:  50%|█████     | 2/4 [00:41<00:41, 20.6s/it]",
              "/opt/ml/code/run.sh: line 12:    97 Killed                  python train.py"]


def test_killed_with_memory_full_is_the_oom_killer_with_high_confidence(
        aws: boto3.Session) -> None:
    h.training_job(aws, "oom-1", count=2)
    h.log_stream(aws, "oom-1/algo-1-1740830000", KILLED_LOG)
    _memory(aws, "oom-1", "algo-1", [35.0, 71.0, 99.2, 100.0])
    _memory(aws, "oom-1", "algo-2", [30.0, 31.0, 30.5, 30.0])
    ev, inv = _run(aws, _job("oom-1"))
    assert ev.facts["metrics.memory_peak_pct"] == 100.0
    assert ev.facts["metrics.hosts"]["algo-2"]["memory"]["peak"] == 31.0
    assert inv.finding.rule == "resources-host-oom-memory-full"
    assert inv.finding.confidence_label == "high"
    assert "100.0%" in inv.finding.title and "algo-1" in inv.finding.title


def test_metrics_denied_is_a_named_gap_and_the_rule_could_not_be_ruled_out(
        aws: boto3.Session) -> None:
    h.training_job(aws, "oom-2")
    h.log_stream(aws, "oom-2/algo-1-1740830000", KILLED_LOG)
    h.deny(aws, "GetMetricData")
    ev, inv = _run(aws, _job("oom-2"))
    gap = next(g for g in ev.gaps if g.source == "metrics")
    assert (gap.code, gap.missing_permission) == ("AccessDenied", "cloudwatch:GetMetricData")
    assert inv.finding.rule == "resources-host-oom-killed"  # the log alone: medium confidence
    unsettled = {i.rule: i.missing_permissions for i in inv.inconclusive}
    assert unsettled["resources-host-oom-memory-full"] == ["cloudwatch:GetMetricData"]


def test_failed_job_with_the_disk_full_is_a_full_volume(aws: boto3.Session) -> None:
    h.training_job(aws, "disk-1", reason="AlgorithmError: ExecuteUserScriptError: ExitCode 1")
    h.log_stream(aws, "disk-1/algo-1-1740830000", [
        "Saving model checkpoint to /opt/ml/checkpoints/checkpoint-6000",
        "RuntimeError: [enforce fail at inline_container.cc:471] . PytorchStreamWriter failed "
        "writing file data/3: file write failed"])
    cw = aws.client("cloudwatch", region_name=h.REGION)
    cw.put_metric_data(Namespace="/aws/sagemaker/TrainingJobs", MetricData=[
        {"MetricName": "DiskUtilization", "Dimensions": [{"Name": "Host",
                                                          "Value": "disk-1/algo-1"}],
         "Timestamp": h.T0 + timedelta(minutes=5 + i), "Value": v, "Unit": "Percent"}
        for i, v in enumerate([40.0, 81.0, 100.0])])
    ev, inv = _run(aws, _job("disk-1"))
    assert ev.facts["metrics.disk_peak_pct"] == 100.0
    assert (inv.finding.category, inv.finding.rule) == ("resources", "resources-disk-full-metrics")
    assert "algo-1" in inv.finding.title
