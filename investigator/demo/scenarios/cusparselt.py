"""Demo scenario `cusparselt-missing` (re-creates seed 002): torch 2.7.1+cu128 on a CUDA devel base
image without libcusparseLt.so.0. Expected category: cuda.
"""

from __future__ import annotations

from typing import Any

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

CUSPARSELT_JOB = "nexis-sdxl-lora-2025-09-12-14-03-55"
NEXIS_CONFIG: dict[str, Any] = {
    "entrypoint": ["/home/comfyuser/entrypoint.sh"], "cmd": ["train"],
    "workdir": "/home/comfyuser",
    "env": {"NVIDIA_REQUIRE_CUDA": "cuda>=12.8", "CUDA_VERSION": "12.8.1",
            "VIRTUAL_ENV": "/opt/venv", "NV_CUDNN_VERSION": "9.8.0.87-1"},
    "labels": {"com.nvidia.cudnn.version": "9.8.0.87-1",
               "org.opencontainers.image.base.name": "nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04"},
}


def seed_cusparselt(world: World) -> None:
    uri = image(world, "nexis-trainer", "2025.09.12", utc("2025-09-12T11:48:20"), base_mb=5200,
                **NEXIS_CONFIG)
    job = Job(name=CUSPARSELT_JOB, image=uri, instance_type="ml.g5.xlarge",
              created=utc("2025-09-12T14:03:55"), status="Failed", secondary="Failed",
              transitions=lifecycle("Failed", ended=221), started_after=182, ended_after=221,
              hyperparameters={"base_model": "stabilityai/stable-diffusion-xl-base-1.0",
                               "rank": "32", "steps": "4000"},
              channels={"train": "s3://nexis-datasets/lora/portraits-v4/"},
              output_path="s3://nexis-models/lora/",
              failure_reason="AlgorithmError: , exit code: 1")
    put_job(world, job)
    put_job_logs(world, job, [L.CUSPARSELT_MISSING])


SCENARIO = Scenario(
    name="cusparselt-missing",
    description="torch 2.7.1+cu128 on a CUDA devel base image without "
                "libcusparseLt.so.0",
    seed=seed_cusparselt,
    kind="job",
    target=CUSPARSELT_JOB,
    expected="cuda",
    origin="seed 002",
    job=CUSPARSELT_JOB,
)
