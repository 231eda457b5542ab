"""moto for every AWS call the collectors make; AWS-shaped paging where moto has none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.collectors.helpers import REGION


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    """A moto-backed session with fake credentials; no profile or endpoint from the host."""
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    with mock_aws():
        yield boto3.Session(region_name=REGION)


@pytest.fixture
def paged_history(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """moto gap: GetExecutionHistory ignores reverseOrder, maxResults and nextToken.

    This patches moto's response handler to page like AWS (newest first when asked, pages of
    maxResults, an opaque nextToken) and counts the pages served.
    """
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    served = {"pages": 0, "events": 0}

    def get_execution_history(self: Any) -> Any:
        arn = self._get_param("executionArn")
        events = self.stepfunction_backend.get_execution_history(arn)["events"]
        if self._get_param("reverseOrder"):
            events = events[::-1]
        size = self._get_int_param("maxResults") or 100
        start = int(self._get_param("nextToken") or 0)
        page = events[start:start + size]
        served["pages"] += 1
        served["events"] += len(page)
        result: dict[str, Any] = {"events": page}
        if start + size < len(events):
            result["nextToken"] = str(start + size)
        return ActionResult(result)

    monkeypatch.setattr(StepFunctionResponse, "get_execution_history", get_execution_history)
    return served
