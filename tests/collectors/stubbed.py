"""AwsContext whose clients are botocore Stubbers: AWS's documented shapes where moto has none."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from botocore.stub import Stubber

from investigator.aws import CONFIG, AwsContext, close_context, open_context
from tests.collectors.helpers import REGION


@contextmanager
def stubbed(*services: str) -> Iterator[tuple[AwsContext, dict[str, Stubber]]]:
    """A context with one stubbed client per service; every queued response must be used."""
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=REGION)
    ctx = open_context(profile=None, region=REGION, deadline=None, session=session)
    stubs: dict[str, Stubber] = {}
    for service in services:
        client = session.client(service, region_name=REGION, config=CONFIG)
        ctx._clients[f"{service}@{REGION}"] = client
        # The Stubber answers in before-call: count there first, as the session counter would.
        client.meta.events.register_first("before-call.*.*", ctx.counter._on_call)
        stubs[service] = Stubber(client)
        stubs[service].activate()
    try:
        yield ctx, stubs
        for stub in stubs.values():
            stub.assert_no_pending_responses()
    finally:
        close_context(ctx)
