"""Demo scenario `cpu-only-tensorflow` (re-creates seed 003): job Completed on ml.g5.xlarge but a
CPU-only TensorFlow wheel shadowed the GPU build: 5 h on CPU. Expected category: cuda.
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

CPU_TF_JOB = "judge-vision-iqa-2025-11-10-00-00-22"


def seed_cpu_tensorflow(world: World) -> None:
    uri = image(world, "judge-vision-tf", "2025.11.09", utc("2025-11-09T21:10:44"),
                extra_tags=["latest"], base_mb=7400, workdir="/workspace",
                entrypoint=["/opt/nvidia/nvidia_entrypoint.sh"],
                cmd=["bash", "-lc", "uv sync && python -m imageworks.apps.judge_vision.stage1"],
                env={"TENSORFLOW_VERSION": "2.15.0", "NVIDIA_TENSORFLOW_VERSION": "24.02-tf2",
                     "UV_PYTHON": "python3"},
                labels={"com.nvidia.tensorflow.version": "2.15.0"})
    ended = 180 + 4 + 19 + 3 + 1 + 10 + 5 * 3600 + 702 + 60
    job = Job(name=CPU_TF_JOB, image=uri, instance_type="ml.g5.xlarge",
              created=utc("2025-11-10T00:00:22"), status="Completed", secondary="Completed",
              transitions=lifecycle("Completed", ended=ended, uploading=True), started_after=180,
              ended_after=ended, channels={"images": "s3://imageworks-competitions/2025-11/raw/"},
              hyperparameters={"stage": "1", "models": "nima,musiq", "use_gpu": "true"},
              output_path="s3://imageworks-competitions/2025-11/iqa/")
    put_job(world, job)
    put_job_logs(world, job, [L.CPU_TENSORFLOW])


SCENARIO = Scenario(
    name="cpu-only-tensorflow",
    description="job Completed on ml.g5.xlarge but a CPU-only TensorFlow "
                "wheel shadowed the GPU build: 5 h on CPU",
    seed=seed_cpu_tensorflow,
    kind="job",
    target=CPU_TF_JOB,
    expected="cuda",
    origin="seed 003",
    job=CPU_TF_JOB,
)
