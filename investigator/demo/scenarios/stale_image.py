"""Demo scenario `stale-image` (re-creates seed 001): processing job ran an image built before
`sync_models_from_s3` existed; `latest` was pushed after it started. Expected category: deps.
"""

from __future__ import annotations

from investigator.demo import incident_logs as L
from investigator.demo.scenarios.common import (
    REGISTRY,
    Scenario,
    image,
)
from investigator.demo.seed import (
    Job,
    World,
    put_job,
    put_job_logs,
    utc,
)

STALE_JOB = "f5tts-cache-warmup-2025-07-31-09-20-05"


def seed_stale_image(world: World) -> None:
    # The job pulled `latest` at 09:23 (the 07-28 build); CI pushed the fixed build as `latest`
    # at 09:41, so the tag now points at an image the job never ran.
    worker = {"entrypoint": ["python3", "/app/model_cache_init.py"], "workdir": "/app"}
    image(world, "f5-tts-worker", "2025.07.28", utc("2025-07-28T16:03:12"), revision="4e1a9d2",
          **worker)
    image(world, "f5-tts-worker", "2025.07.31", utc("2025-07-31T09:41:37"), revision="b71c0e4",
          extra_tags=["latest"], **worker)
    job = Job(name=STALE_JOB, kind="processing", image=f"{REGISTRY}/f5-tts-worker:latest",
              instance_type="ml.m5.2xlarge", created=utc("2025-07-31T09:20:05"),
              status="Failed", secondary="Failed", transitions=[], started_after=201,
              ended_after=236, channels={"config": "s3://acme-voice-models/f5-tts/cache-manifest/"},
              output_path="s3://acme-voice-models/f5-tts/cache/",
              entrypoint=["python3", "/app/model_cache_init.py"],
              failure_reason="AlgorithmError: See job logs for more information")
    put_job(world, job)
    put_job_logs(world, job, [L.STALE_IMAGE])


SCENARIO = Scenario(
    name="stale-image",
    description="processing job ran an image built before `sync_models_from_s3` "
                "existed; `latest` was pushed after it started",
    seed=seed_stale_image,
    kind="job",
    target=STALE_JOB,
    expected="deps",
    job_kind="processing",
    origin="seed 001",
    job=STALE_JOB,
)
