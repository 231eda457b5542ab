"""Demo scenario `map-iteration-oom`: hyperparameter sweep Map: variant 2 (batch 16, seq 4096) runs
out of GPU memory on ml.g5.2xlarge. Expected category: resources.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from investigator.demo import incident_logs as L
from investigator.demo.scenarios.common import (
    DLC,
    Scenario,
    execution_arn,
    failed_execution,
    lambda_arn,
    lifecycle,
    sagemaker_task_state,
    training_params,
)
from investigator.demo.seed import (
    History,
    Job,
    World,
    put_job,
    put_job_logs,
    put_state_machine,
    sagemaker_finish,
    sagemaker_submit,
    utc,
)

SWEEP_SM = "LoraHyperparameterSweep"
SWEEP_EXEC = "sweep-2025-08-19-lr-bs"
SWEEP_GRID = [{"lr": "1e-4", "batch-size": "4"}, {"lr": "1e-4", "batch-size": "8"},
              {"lr": "2e-4", "batch-size": "16"}, {"lr": "2e-4", "batch-size": "8"}]
SWEEP_OOM = 2


def _sweep_definition(image_uri: str) -> dict[str, Any]:
    return {
        "StartAt": "BuildGrid",
        "States": {
            "BuildGrid": {"Type": "Pass", "Next": "Sweep"},
            "Sweep": {
                "Type": "Map", "ItemsPath": "$.grid", "MaxConcurrency": 4,
                "ItemSelector": {"variant.$": "$$.Map.Item.Index", "hps.$": "$$.Map.Item.Value",
                                 "output_s3_uri.$": "$.output_s3_uri"},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "TrainVariant",
                                  "States": {"TrainVariant": sagemaker_task_state(
                                      "TrainVariant", "createTrainingJob", training_params(
                                          "States.Format('lora-sweep-0819-v{}', $.variant)",
                                          image_uri, "ml.g5.2xlarge",
                                          **{"HyperParameters.$": "$.hps"}), None)}},
                "Next": "PickBest"},
            "PickBest": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                         "Parameters": {"FunctionName": lambda_arn("sweep-pick-best"),
                                        "Payload.$": "$"}, "End": True},
        },
    }


def _sweep_job(i: int, hps: dict[str, str], start: datetime, image_uri: str) -> Job:
    oom = i == SWEEP_OOM
    full = {**hps, "max-seq-length": "4096", "model-id": "meta-llama/Meta-Llama-3-8B"}
    return Job(name=f"lora-sweep-0819-v{i}", image=image_uri, instance_type="ml.g5.2xlarge",
               created=start + timedelta(seconds=0.6 + i * 0.2),
               status="Failed" if oom else "Stopped", secondary="Failed" if oom else "Stopped",
               transitions=lifecycle("Failed" if oom else "Stopped", ended=611 if oom else 660),
               started_after=178, ended_after=611 if oom else 660, hyperparameters=full,
               channels={"train": "s3://acme-llm-data/lora/support-v3/"},
               output_path="s3://acme-llm-models/lora-sweep/",
               failure_reason=L.toolkit_reason(1, L.OOM_ERROR, L.toolkit_command(
                   L.SWEEP_PY, L.SWEEP_PROGRAM, full)) if oom else None)


def seed_map_oom(world: World) -> None:
    image_uri = (f"{DLC}/huggingface-pytorch-training:2.1.0-transformers4.36.0-gpu-py310-cu121-"
                 "ubuntu20.04")
    sm = put_state_machine(world, SWEEP_SM, _sweep_definition(image_uri),
                           created=utc("2025-07-01T10:00:00"))
    start = utc("2025-08-19T13:05:10")
    jobs = [_sweep_job(i, hps, start, image_uri) for i, hps in enumerate(SWEEP_GRID)]
    for job in jobs:
        put_job(world, job)
        put_job_logs(world, job, [L.sweep_log(job.hyperparameters, oom=job.status == "Failed")])
    payload = {"grid": SWEEP_GRID, "output_s3_uri": "s3://acme-llm-models/lora-sweep/"}
    h = History(start)
    h.started(payload)
    h.entered("Pass", "BuildGrid", payload)
    h.exited("Pass", "BuildGrid", payload)
    h.entered("Map", "Sweep", payload)
    h.map_started(len(jobs))
    starts = [h.iteration("MapIterationStarted", "Sweep", i) for i in range(len(jobs))]
    submitted = []  # per iteration: its TaskSubmitted, which its next event points back to
    for i, job in enumerate(jobs):
        item = {"variant": i, "hps": SWEEP_GRID[i], "output_s3_uri": payload["output_s3_uri"]}
        h.entered("Task", "TrainVariant", item, prev=starts[i])
        submitted.append(sagemaker_submit(h, world, job))
    failed = sagemaker_finish(h, world, jobs[SWEEP_OOM], prev=submitted[SWEEP_OOM])
    h.iteration("MapIterationFailed", "Sweep", SWEEP_OOM, prev=failed)
    for i in range(len(jobs)):
        if i != SWEEP_OOM:  # the Map stops the other iterations (and their jobs)
            aborted = h.add("TaskStateAborted", prev=submitted[i], after=0.02)
            h.iteration("MapIterationAborted", "Sweep", i, prev=aborted)
    h.add("MapStateFailed", after=0.05)
    details = h.events[failed - 1]["taskFailedEventDetails"]
    failed_execution(world, sm, SWEEP_EXEC, h, payload, details["error"], details["cause"])


SCENARIO = Scenario(
    name="map-iteration-oom",
    description="hyperparameter sweep Map: variant 2 (batch 16, seq 4096) "
                "runs out of GPU memory on ml.g5.2xlarge",
    seed=seed_map_oom,
    kind="execution",
    target=execution_arn(SWEEP_SM, SWEEP_EXEC),
    expected="resources",
    failed_state="TrainVariant",
    job=f"lora-sweep-0819-v{SWEEP_OOM}",
)
