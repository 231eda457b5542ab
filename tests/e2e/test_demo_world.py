"""The demo world reads back like AWS: plain boto3 against the seeded moto (no investigator).

These pin the moto gaps investigator.demo fills (history paging, log-stream prefixes, a
lazily synthesised stream, injected AccessDenied, ECR blobs) and the facts each incident
relies on, so a wrong seed fails here rather than as a puzzling diagnosis.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from investigator.demo import moto_ext
from investigator.demo.scenarios import BY_NAME, SCENARIOS, Scenario
from investigator.demo.seed import (
    TRAINING_GROUP,
    Job,
    World,
    put_job,
    put_synthetic_stream,
    utc,
)

EXECUTIONS = [s for s in SCENARIOS if s.kind == "execution"]
JOB_DIRECT = [s for s in SCENARIOS if s.kind == "job"]


def history(sfn: Any, arn: str, *, reverse: bool, size: int) -> tuple[list[dict], int]:
    events: list[dict] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "reverseOrder": reverse, "maxResults": size}
    pages = 0
    while True:
        page = sfn.get_execution_history(**kwargs)
        pages += 1
        events += page["events"]
        if "nextToken" not in page:
            return events, pages
        kwargs["nextToken"] = page["nextToken"]


@pytest.mark.parametrize("scenario", EXECUTIONS, ids=lambda s: s.name)
def test_history_pages_newest_first_and_chains_causally(aws: dict, scenario: Scenario) -> None:
    sfn = aws["stepfunctions"]
    newest, pages = history(sfn, scenario.target, reverse=True, size=4)
    oldest, _ = history(sfn, scenario.target, reverse=False, size=1000)
    assert pages == -(-len(oldest) // 4)  # pages of maxResults, not one canned response
    assert [e["id"] for e in newest] == [e["id"] for e in reversed(oldest)]
    assert [e["id"] for e in oldest] == list(range(1, len(oldest) + 1))
    assert oldest[0]["type"] == "ExecutionStarted"
    status = sfn.describe_execution(executionArn=scenario.target)["status"]
    assert newest[0]["type"] == {"FAILED": "ExecutionFailed",
                                 "SUCCEEDED": "ExecutionSucceeded"}[status]
    for e in oldest[1:]:
        assert 0 < e["previousEventId"] < e["id"]
    times = [e["timestamp"] for e in oldest]
    assert times == sorted(times)


def test_history_rejects_a_page_over_1000_and_a_foreign_token(aws: dict) -> None:
    sfn = aws["stepfunctions"]
    arn = BY_NAME["spaceport-3dgs"].target
    with pytest.raises(ClientError):
        sfn.get_execution_history(executionArn=arn, maxResults=1001)
    token = sfn.get_execution_history(executionArn=arn, maxResults=2, reverseOrder=True)[
        "nextToken"]
    with pytest.raises(ClientError, match="InvalidToken"):
        sfn.get_execution_history(executionArn=arn, maxResults=2, nextToken=token)


def _walk_back(by_id: dict[int, dict], event: dict, etype: str) -> dict:
    while event["type"] != etype:
        event = by_id[event["previousEventId"]]
    return event


@pytest.mark.parametrize("scenario", [s for s in EXECUTIONS if s.job], ids=lambda s: s.name)
def test_failed_task_names_the_failed_job_in_params_and_cause(aws: dict,
                                                              scenario: Scenario) -> None:
    sfn = aws["stepfunctions"]
    arn = scenario.target
    events, _ = history(sfn, arn, reverse=False, size=1000)
    if scenario.name == "nested-execution":  # the parent's cause is the child's description
        failed = next(e for e in reversed(events) if e["type"] == "TaskFailed")
        child = json.loads(failed["taskFailedEventDetails"]["cause"])
        assert child["Status"] == "FAILED"
        arn = child["ExecutionArn"]
        events, _ = history(sfn, arn, reverse=False, size=1000)
    by_id = {e["id"]: e for e in events}
    failed = next(e for e in reversed(events) if e["type"] == "TaskFailed")
    cause = json.loads(failed["taskFailedEventDetails"]["cause"])
    scheduled = _walk_back(by_id, failed, "TaskScheduled")
    params = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
    assert cause["TrainingJobName"] == params["TrainingJobName"] == scenario.job
    job = aws["sagemaker"].describe_training_job(TrainingJobName=scenario.job)
    assert job["TrainingJobStatus"] == cause["TrainingJobStatus"] != "Completed"
    assert cause.get("FailureReason") == job.get("FailureReason")
    state = next(e for e in reversed(events[:scheduled["id"]]) if e["type"] == "TaskStateEntered")
    assert state["stateEnteredEventDetails"]["name"] == scenario.failed_state


def test_retried_task_ran_two_jobs_and_the_last_one_is_the_real_failure(aws: dict) -> None:
    events, _ = history(aws["stepfunctions"], BY_NAME["retried-task"].target, reverse=False,
                       size=100)
    failures = [json.loads(e["taskFailedEventDetails"]["cause"]) for e in events
                if e["type"] == "TaskFailed"]
    assert [f["FailureReason"].split(":")[0] for f in failures] == [
        "InternalServerError", "AlgorithmError"]
    assert failures[-1]["TrainingJobName"] == BY_NAME["retried-task"].job


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.job and s.name not in
                                      ("capacity-no-logs", "logs-access-denied")],
                         ids=lambda s: s.name)
def test_job_logs_are_per_host_streams_inside_the_job_runtime(aws: dict,
                                                              scenario: Scenario) -> None:
    sm = aws["sagemaker"]
    if scenario.job_kind == "processing":
        job = sm.describe_processing_job(ProcessingJobName=scenario.job)
        group, start, end = ("/aws/sagemaker/ProcessingJobs", job["ProcessingStartTime"],
                             job["ProcessingEndTime"])
        hosts = job["ProcessingResources"]["ClusterConfig"]["InstanceCount"]
    else:
        job = sm.describe_training_job(TrainingJobName=scenario.job)
        group, start, end = TRAINING_GROUP, job["TrainingStartTime"], job["TrainingEndTime"]
        hosts = job["ResourceConfig"]["InstanceCount"]
    streams = aws["logs"].describe_log_streams(logGroupName=group,
                                               logStreamNamePrefix=f"{scenario.job}/")
    names = sorted(s["logStreamName"] for s in streams["logStreams"])
    epoch = int(start.timestamp())
    assert names == [f"{scenario.job}/algo-{h}-{epoch}" for h in range(1, hosts + 1)]
    for name in names:
        tail = aws["logs"].get_log_events(logGroupName=group, logStreamName=name, limit=5,
                                          startFromHead=False)["events"]
        assert tail
        lo, hi = start.timestamp() * 1000, end.timestamp() * 1000
        assert all(lo <= e["timestamp"] <= hi for e in tail)


def test_filter_log_events_keeps_to_the_job_prefix(aws: dict) -> None:
    # moto gap 2: stock moto returns every job's lines for a prefix.
    job = BY_NAME["apex-amp-c"].job
    events = aws["logs"].filter_log_events(logGroupName=TRAINING_GROUP,
                                           logStreamNamePrefix=f"{job}/")["events"]
    assert events and {e["logStreamName"].split("/")[0] for e in events} == {job}
    none = aws["logs"].filter_log_events(logGroupName=TRAINING_GROUP,
                                         logStreamNamePrefix="no-such-job/")["events"]
    assert none == []


def test_access_denied_hits_only_the_denied_jobs_logs(aws: dict) -> None:
    logs = aws["logs"]
    job = BY_NAME["logs-access-denied"].job
    with pytest.raises(ClientError) as exc:
        logs.describe_log_streams(logGroupName=TRAINING_GROUP, logStreamNamePrefix=f"{job}/")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "logs:DescribeLogStreams" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError, match="logs:GetLogEvents"):
        logs.get_log_events(logGroupName=TRAINING_GROUP, logStreamName=f"{job}/algo-1-1")
    with pytest.raises(ClientError, match="AccessDenied"):
        logs.filter_log_events(logGroupName=TRAINING_GROUP, logStreamNamePrefix=f"{job}/")
    other = BY_NAME["apex-amp-c"].job
    assert logs.describe_log_streams(logGroupName=TRAINING_GROUP,
                                     logStreamNamePrefix=f"{other}/")["logStreams"]


def test_capacity_job_never_started_and_left_no_logs(aws: dict) -> None:
    job = aws["sagemaker"].describe_training_job(TrainingJobName=BY_NAME["capacity-no-logs"].job)
    assert job["FailureReason"].startswith("CapacityError:")
    assert "TrainingStartTime" not in job
    assert any("Insufficient capacity" in t["StatusMessage"]
               for t in job["SecondaryStatusTransitions"])
    streams = aws["logs"].describe_log_streams(logGroupName=TRAINING_GROUP,
                                               logStreamNamePrefix=f"{job['TrainingJobName']}/")
    assert streams["logStreams"] == []


def test_max_runtime_job_is_stopped_not_failed(aws: dict) -> None:
    job = aws["sagemaker"].describe_training_job(TrainingJobName=BY_NAME["max-runtime"].job)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    runtime = (job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds()
    assert runtime > job["StoppingCondition"]["MaxRuntimeInSeconds"]


def test_stale_image_tag_moved_after_the_job_started(aws: dict) -> None:
    job = aws["sagemaker"].describe_processing_job(ProcessingJobName=BY_NAME["stale-image"].job)
    repo = job["AppSpecification"]["ImageUri"].split("/", 1)[1].split(":")[0]
    images = aws["ecr"].describe_images(repositoryName=repo)["imageDetails"]
    latest = next(i for i in images if "latest" in i.get("imageTags", []))
    assert latest["imagePushedAt"] > job["ProcessingStartTime"]
    older = [i for i in images if i["imageDigest"] != latest["imageDigest"]]
    assert older and all(i["imagePushedAt"] < job["CreationTime"] for i in older)


def test_image_manifest_names_a_config_blob_with_the_real_digest(demo_world: World,
                                                                 aws: dict) -> None:
    import hashlib

    got = aws["ecr"].batch_get_image(repositoryName="spaceport/3dgs",
                                     imageIds=[{"imageTag": "latest"}])["images"][0]
    manifest = json.loads(got["imageManifest"])
    digest = manifest["config"]["digest"]
    blob = moto_ext.find_blob(moto_ext.blob_path(demo_world.account, demo_world.region, digest))
    assert blob is not None and "sha256:" + hashlib.sha256(blob).hexdigest() == digest
    config = json.loads(blob)
    assert config["architecture"] == "amd64"
    assert any(e.startswith("TORCH_CUDA_ARCH_LIST=") for e in config["config"]["Env"])


def test_synthetic_stream_serves_a_gigabyte_in_aws_sized_pages(demo_world: World,
                                                               aws: dict) -> None:
    start = utc("2025-11-03T06:03:12")
    job = Job(name="synthetic-stream-check", image="x", instance_type="ml.g5.xlarge",
              created=start - timedelta(minutes=3), status="Failed", secondary="Failed",
              transitions=[], started_after=180, ended_after=180 + 86_400)
    put_job(demo_world, job)
    name = put_synthetic_stream(demo_world, job, 1, head="@+0 first line", tail="@+0 LAST LINE",
                                filler=lambda k: f"step {k} " + "x" * 180, total_bytes=1 << 30,
                                end=job.ended)
    logs = aws["logs"]
    described = logs.describe_log_streams(logGroupName=TRAINING_GROUP,
                                          logStreamNamePrefix=name)["logStreams"][0]
    assert described["storedBytes"] > 1_000_000_000
    page = logs.get_log_events(logGroupName=TRAINING_GROUP, logStreamName=name,
                               startFromHead=False)
    size = sum(len(e["message"]) + 26 for e in page["events"])
    assert page["events"][-1]["message"] == "LAST LINE"
    assert size <= moto_ext.MAX_PAGE_BYTES and len(page["events"]) < 10_000
    older = logs.get_log_events(logGroupName=TRAINING_GROUP, logStreamName=name,
                                startFromHead=False, nextToken=page["nextBackwardToken"],
                                limit=10)["events"]
    first_k = int(page["events"][0]["message"].split()[1])
    assert [int(e["message"].split()[1]) for e in older] == list(range(first_k - 10, first_k))
    head = logs.get_log_events(logGroupName=TRAINING_GROUP, logStreamName=name,
                               startFromHead=True, limit=2)["events"]
    assert [e["message"] for e in head] == ["first line", "step 0 " + "x" * 180]
