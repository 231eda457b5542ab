"""Demo scenario `logs-access-denied`: job failed with an uninformative FailureReason and the on-
call role may not read its logs. Expected category: unknown.
"""

from __future__ import annotations

from investigator.demo import incident_logs as L
from investigator.demo.scenarios.common import (
    Scenario,
    image,
    lifecycle,
)
from investigator.demo.seed import (
    ACCOUNT,
    Job,
    World,
    deny_job_logs,
    put_job,
    put_job_logs,
    utc,
)

DENIED_JOB = "fraud-gbm-nightly-2025-10-21-02-00-03"
ONCALL_PRINCIPAL = f"arn:aws:sts::{ACCOUNT}:assumed-role/OnCallReadOnly/jdoe"


def seed_access_denied(world: World) -> None:
    uri = image(world, "fraud-gbm", "2025.10.20", utc("2025-10-20T16:40:00"),
                extra_tags=["latest"], base_mb=1800)
    job = Job(name=DENIED_JOB, image=uri, instance_type="ml.m5.4xlarge",
              created=utc("2025-10-21T02:00:03"), status="Failed", secondary="Failed",
              transitions=lifecycle("Failed", ended=243), started_after=176, ended_after=243,
              hyperparameters={"num_leaves": "255", "n_estimators": "1200"},
              channels={"train": "s3://acme-fraud/features/2025-10-20/"},
              output_path="s3://acme-fraud/models/",
              failure_reason="AlgorithmError: , exit code: 1")
    put_job(world, job)
    # The logs exist (the failure is in them) but the on-call role may not read them.
    put_job_logs(world, job, [L.FRAUD_LOGS])
    deny_job_logs(world, job, ONCALL_PRINCIPAL)


SCENARIO = Scenario(
    name="logs-access-denied",
    description="job failed with an uninformative FailureReason and the "
                "on-call role may not read its logs",
    seed=seed_access_denied,
    kind="job",
    target=DENIED_JOB,
    expected="unknown",
    job=DENIED_JOB,
    gap_sources=("logs",),
)
