"""The demo's incident catalogue: each scenario seeds one realistic failure (or success).

A scenario is a name, a one-line description, the seeding function, the target an on-call
engineer would paste (execution ARN or job name) and the category the investigator must give.
Each scenario lives in a module of its own here, with its names (state machine, execution,
job) and its seeding function; this package assembles the catalogue in order. All scenarios
can live in one moto world at once: names never collide. Building blocks shared by the
scenarios (and by bench/bench_aws.py) are in `common`.
"""

from __future__ import annotations

from collections.abc import Iterable

from investigator.demo.scenarios import (
    access_denied,
    apex,
    bad_jsonpath,
    capacity,
    cpu_tensorflow,
    create_validation,
    crlf_entrypoint,
    cusparselt,
    flash_attn,
    healthy,
    map_oom,
    max_runtime,
    nested_execution,
    retried_task,
    spaceport,
    stale_image,
)
from investigator.demo.scenarios.bad_jsonpath import FORECAST_SM
from investigator.demo.scenarios.common import (
    DLC,
    REGISTRY,
    Scenario,
    execution_arn,
    lambda_arn,
    lifecycle,
    sagemaker_task_state,
    state_machine_arn,
    training_params,
)
from investigator.demo.scenarios.crlf_entrypoint import CRLF_SM
from investigator.demo.scenarios.healthy import RANKER_SM
from investigator.demo.scenarios.max_runtime import RECSYS_SM
from investigator.demo.seed import ACCOUNT, REGION, World

__all__ = [
    "ACCOUNT", "BY_NAME", "CRLF_SM", "DLC", "FORECAST_SM", "RANKER_SM", "RECSYS_SM", "REGION",
    "REGISTRY",
    "SCENARIOS", "Scenario", "execution_arn", "lambda_arn", "lifecycle", "sagemaker_task_state",
    "seed", "select", "state_machine_arn", "training_params",
]

SCENARIOS: tuple[Scenario, ...] = tuple(m.SCENARIO for m in (
    apex,
    flash_attn,
    stale_image,
    cusparselt,
    crlf_entrypoint,
    cpu_tensorflow,
    spaceport,
    capacity,
    max_runtime,
    access_denied,
    map_oom,
    nested_execution,
    retried_task,
    healthy,
    bad_jsonpath,
    create_validation,
))

BY_NAME = {s.name: s for s in SCENARIOS}


def select(names: str | Iterable[str]) -> list[Scenario]:
    """`all`, a comma-separated string or names → scenarios; unknown names raise KeyError."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names)
    if names == ["all"]:
        return list(SCENARIOS)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise KeyError(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return [BY_NAME[n] for n in names]


def seed(scenarios: Iterable[Scenario], world: World | None = None) -> World:
    """Seed scenarios into one moto world (the current process's backends)."""
    world = world or World()
    for scenario in scenarios:
        scenario.seed(world)
    return world
