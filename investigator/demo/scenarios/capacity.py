"""Demo scenario `capacity-no-logs`: 2× ml.p4d.24xlarge never provisioned: CapacityError, no log
streams at all. Expected category: capacity.
"""

from __future__ import annotations

from investigator.demo.scenarios.common import (
    Scenario,
    image,
)
from investigator.demo.seed import (
    Job,
    World,
    put_job,
    utc,
)

CAPACITY_JOB = "llama3-70b-sft-2025-08-04-06-12-40"


def seed_capacity(world: World) -> None:
    uri = image(world, "llm-sft", "2025.08.01", utc("2025-08-01T19:30:12"), base_mb=9800)
    job = Job(name=CAPACITY_JOB, image=uri, instance_type="ml.p4d.24xlarge", instance_count=2,
              volume_gb=1000, created=utc("2025-08-04T06:12:40"), status="Failed",
              secondary="Failed",
              transitions=[("Starting", 0, "Launching requested ML instances"),
                           ("Starting", 312, "Insufficient capacity error from EC2 while "
                                             "launching instances, retrying!"),
                           ("Failed", 2114, "Training job failed")],
              started_after=None, ended_after=2114,
              hyperparameters={"model_id": "meta-llama/Meta-Llama-3-70B", "epochs": "2",
                               "per_device_train_batch_size": "1", "fsdp": "full_shard"},
              channels={"train": "s3://acme-llm-data/sft/support-v9/"},
              output_path="s3://acme-llm-models/sft/",
              failure_reason="CapacityError: Unable to provision requested ML compute capacity. "
                             "Please retry using a different ML instance type.")
    put_job(world, job)  # no log streams at all: no instance ever started


SCENARIO = Scenario(
    name="capacity-no-logs",
    description="2× ml.p4d.24xlarge never provisioned: CapacityError, no log "
                "streams at all",
    seed=seed_capacity,
    kind="job",
    target=CAPACITY_JOB,
    expected="capacity",
    job=CAPACITY_JOB,
)
