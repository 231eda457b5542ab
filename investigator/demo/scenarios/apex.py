"""Demo scenario `apex-amp-c` (re-creates seed 000): NVIDIA Apex CUDA build silently skipped;
training dies on `No module named 'amp_C'`. Expected category: deps.
"""

from __future__ import annotations

from investigator.demo import incident_logs as L
from investigator.demo.scenarios.common import (
    Scenario,
    image,
    lifecycle,
)
from investigator.demo.seed import (
    Job,
    World,
    put_job,
    put_job_logs,
    utc,
)

APEX_JOB = "seedvr2-sr-finetune-2025-01-13-10-02-41"


def seed_apex(world: World) -> None:
    uri = image(world, "seedvr2-train", "2025.01.12", utc("2025-01-12T22:14:09"),
                extra_tags=["latest"], base_mb=6100, revision="3f9c2e1",
                entrypoint=["/bin/bash", "/workspace/run.sh"], workdir="/workspace/SeedVR",
                env={"CUDA_VERSION": "12.4.1", "HF_HOME": "/workspace/hf"})
    job = Job(name=APEX_JOB, image=uri, instance_type="ml.g5.2xlarge",
              created=utc("2025-01-13T10:02:41"), status="Failed", secondary="Failed",
              transitions=lifecycle("Failed", ended=402), started_after=180, ended_after=402,
              hyperparameters={"config": "configs_3b/main.yaml", "lr": "5e-6",
                               "max_steps": "20000"},
              channels={"train": "s3://acme-genai-data/seedvr2/clips-v3/"},
              output_path="s3://acme-genai-models/seedvr2/finetune/",
              entrypoint=["/bin/bash", "/workspace/run.sh"],
              failure_reason="AlgorithmError: , exit code: 1")
    put_job(world, job)
    put_job_logs(world, job, [L.APEX_SKIPPED])


SCENARIO = Scenario(
    name="apex-amp-c",
    description="NVIDIA Apex CUDA build silently skipped; training dies on "
                "`No module named 'amp_C'`",
    seed=seed_apex,
    kind="job",
    target=APEX_JOB,
    expected="deps",
    origin="seed 000",
    job=APEX_JOB,
)
