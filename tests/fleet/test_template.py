"""infra/template.yaml's fleet block: the index table matches the records, the named query is
fleet.sql, and each IAM grant covers exactly the calls its code makes."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import boto3
import pytest
import re2

from investigator.fleet import athena, sources, store
from investigator.fleet.athena import fleet_sql
from investigator.fleet.records import IndexRecord

ROOT = Path(__file__).resolve().parents[2]
_CALL = re2.compile(r"\.([a-z][a-z_]+)\(")


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    from cfnlint.decode import decode

    data, matches = decode(str(ROOT / "infra" / "template.yaml"))
    assert not matches, matches
    return data["Resources"]


def _called(module: Any, service: str) -> set[str]:
    text = Path(module.__file__).read_text(encoding="utf-8")
    mapping = boto3.client(service, region_name="us-east-1").meta.method_to_api_mapping
    return {f"{service}:{mapping[m]}" for m in _CALL.findall(text) if m in mapping}


def _grants(policy: dict[str, Any]) -> dict[str, set[str]]:
    """Action → the resources (Fn::Sub text) it is granted on."""
    out: dict[str, set[str]] = {}
    for st in policy["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for a in actions:
            out.setdefault(a, set()).update(str(r) for r in res)
    return out


def test_the_table_has_every_index_record_field_and_projects_dates(resources):
    table = resources["FleetIndexTable"]["Properties"]["TableInput"]
    columns = [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    assert columns == [f.name for f in fields(IndexRecord)]
    assert table["PartitionKeys"] == [{"Name": "date", "Type": "string"}]
    params = table["Parameters"]
    assert params["projection.enabled"] == "true" and params["projection.date.type"] == "date"
    assert params["projection.date.format"] == "yyyy-MM-dd"  # IndexRecord.day, store keys
    assert "index/date=${!date}/" in str(params["storage.location.template"])
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == \
        "org.openx.data.jsonserde.JsonSerDe"


def test_the_named_query_is_fleet_sql(resources):
    query = resources["FleetNamedQuery"]["Properties"]["QueryString"]
    assert query.strip() == fleet_sql().strip()


def test_the_function_may_write_the_index_and_summaries_only(resources):
    policy = resources["FleetIndexWriter"]["Properties"]
    assert policy["Roles"] == [{"Ref": "FunctionRole"}]
    grants = _grants(policy["PolicyDocument"])
    called = _called(store, "s3")
    assert called == {"s3:PutObject", "s3:GetObject"}
    assert {"s3:PutObject", "s3:GetObject", "s3:ListBucket"} == set(grants)
    assert all("/index/*" in r or "/fleet/*" in r for r in grants["s3:PutObject"])
    assert all("/fleet/*" in r for r in grants["s3:GetObject"])


def test_the_query_policy_covers_the_athena_and_s3_source_calls(resources):
    grants = _grants(resources["FleetQueryPolicy"]["Properties"]["PolicyDocument"])
    needed = _called(athena, "athena") | {"s3:ListBucket"} | _called(sources, "s3")
    assert needed <= set(grants), sorted(needed - set(grants))
    assert not any(r == "*" for rs in grants.values() for r in rs)
    assert all("workgroup/${FleetWorkGroup}" in r for r in grants["athena:StartQueryExecution"])
    assert all("/index/*" in r or "/athena-results/*" in r for r in grants["s3:GetObject"])
    assert all("/athena-results/*" in r for r in grants["s3:PutObject"])
