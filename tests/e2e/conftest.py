"""The demo world (all scenarios seeded into in-process moto) shared by a test module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from investigator.demo.scenarios import SCENARIOS, seed
from investigator.demo.seed import REGION, World


@pytest.fixture(scope="module")
def demo_world() -> Iterator[World]:
    """Every scenario in one moto world, as the demo server holds them (names never collide)."""
    mp = pytest.MonkeyPatch()
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        mp.delenv(var, raising=False)
    for var, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": "/nonexistent",
                       "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}.items():
        mp.setenv(var, value)
    try:
        with mock_aws():
            yield seed(SCENARIOS)
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def aws(demo_world: World) -> dict[str, Any]:
    """Plain boto3 clients on the demo world."""
    return {name: boto3.client(name, region_name=REGION)
            for name in ("stepfunctions", "sagemaker", "logs", "ecr")}
