"""Shared builders for the fleet tests: real classified investigations and random records."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from investigator.classifier import classify
from investigator.fleet.records import IndexRecord, iso_z
from investigator.models import Evidence, Investigation, LogEvent, LogStream, Target

ACCOUNT = "123456789012"
REGION = "us-east-1"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def run_ids(rng: random.Random) -> dict[str, Any]:
    """Everything that differs between two runs of the same pipeline."""
    when = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 90 * 86400))
    stamp = when.strftime("%Y-%m-%d-%H-%M-%S")
    return {
        "when": when,
        "execution": f"nightly-{stamp}-{rng.randrange(16**8):08x}",
        "job": f"train-{stamp}-{rng.randrange(1000, 9999)}",
        "host": f"algo-{rng.randrange(1, 9)}-{int(when.timestamp())}",
        "ip": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
    }


def make_inv(
    rng: random.Random,
    *,
    module: str = "einops",
    error: str | None = None,
    pipeline: str = "TrainPipeline",
    instance_type: str = "ml.g5.xlarge",
    digest: str = DIGEST_A,
    failed_state: str = "Train",
) -> Investigation:
    """A real classification of a failed run whose log is full of run-specific noise."""
    ids = run_ids(rng)
    ts = ids["when"].isoformat()
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{pipeline}:{ids['execution']}"
    lines = [
        f"{ts} {ids['host']} INFO Starting job {ids['job']} on {ids['ip']}",
        "Traceback (most recent call last):",
        f'  File "/opt/ml/code/train.py", line {rng.randrange(10, 300)}, in <module>',
        error or f"ModuleNotFoundError: No module named '{module}'",
    ]
    evidence = Evidence(
        target=Target(kind="execution", name=arn, region=REGION),
        facts={
            "sfn.execution_arn": arn,
            "sfn.state_machine_arn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{pipeline}",
            "sfn.failed_state": failed_state,
            "sagemaker.job_name": ids["job"],
            "sagemaker.job_kind": "training",
            "sagemaker.status": "Failed",
            "sagemaker.instance_type": instance_type,
            "sagemaker.image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/trainer@{digest}",
            "sagemaker.ended": ts,
        },
        logs=[LogStream(name=f"{ids['job']}/{ids['host']}",
                        events=[LogEvent(message=m) for m in lines])],
    )
    return classify(evidence)


CATEGORIES = ["deps", "cuda", "paths", "timeout", "network"]


def random_records(n: int, seed: int = 7, fingerprints: int = 40) -> list[IndexRecord]:
    """An index with repeats, ties, missing pipelines/jobs/reports: the cases grouping gets wrong."""
    rng = random.Random(seed)
    start = datetime(2025, 6, 1, tzinfo=UTC)
    causes = [(f"{i:016x}", rng.choice(CATEGORIES), f"rule-{i % 13}") for i in range(fingerprints)]
    out = []
    for k in range(n):
        fp, category, rule = causes[min(int(rng.paretovariate(1.2)) - 1, fingerprints - 1)]
        when = start + timedelta(minutes=rng.randrange(0, 30 * 24 * 60))
        pipeline = rng.choice(["Nightly", "Weekly", "Adhoc", None])
        out.append(IndexRecord(
            fingerprint=fp, category=category, rule=rule,
            title=f"{rule} title v{rng.randrange(3)}", confidence=0.9,
            retryable=rng.random() < 0.3,
            target=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{pipeline or 'x'}:run-{k % 500}",
            target_kind="execution", pipeline=pipeline,
            job=rng.choice([f"job-{k % 300}", None]), failed_state="Train",
            failed_at=iso_z(when if k % 50 else start),  # some exact ties
            report=rng.choice([f"s3://bucket/reports/r{k}.html", None]),
        ))
    return out
