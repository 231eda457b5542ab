"""`--athena`: fleet.sql through boto3 Athena, tested with botocore's Stubber.

moto's Athena returns canned rows and no paging, so the shapes come from the Athena API
Reference instead: StartQueryExecution → QueryExecutionId; GetQueryExecution →
QueryExecution.Status.State QUEUED | RUNNING | SUCCEEDED | FAILED | CANCELLED (+
StateChangeReason); GetQueryResults → ResultSet.Rows[].Data[].VarCharValue (NULL: no
VarCharValue), ResultSetMetadata.ColumnInfo, NextToken, MaxResults ≤ 1000, and for a SELECT
the first row of the first page holds the column names.
https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html
https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryExecution.html
https://docs.aws.amazon.com/athena/latest/ug/querying-with-prepared-statements-querying-using-execution-parameters.html
"""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from investigator.errors import AwsError
from investigator.fleet.athena import fleet_sql, run_fleet_query
from investigator.fleet.view import Filters

COLUMNS = ["fingerprint", "category", "rule", "title", "failures", "first_seen", "last_seen",
           "targets", "pipelines", "jobs", "retryable_share", "latest_report", "latest_target",
           "per_day"]
QID = "4f4e1c0a-0000-4000-8000-000000000001"


def _row(values: list[str | None]) -> dict:
    return {"Data": [{"VarCharValue": v} if v is not None else {} for v in values]}


def _page(rows: list[list[str | None]], *, header: bool, token: str | None) -> dict:
    resp: dict = {
        "UpdateCount": 0,
        "ResultSet": {
            "Rows": ([_row(COLUMNS)] if header else []) + [_row(r) for r in rows],
            "ResultSetMetadata": {"ColumnInfo": [
                {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": c, "Label": c,
                 "Type": "varchar", "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN",
                 "CaseSensitive": True} for c in COLUMNS]},
        },
    }
    if token:
        resp["NextToken"] = token
    return resp


def _status(state: str, reason: str | None = None) -> dict:
    status: dict = {"State": state, "SubmissionDateTime": datetime(2025, 6, 1, tzinfo=UTC)}
    if reason:
        status["StateChangeReason"] = reason
    return {"QueryExecution": {"QueryExecutionId": QID, "Status": status}}


ROW_A = ["aaaa000000000001", "deps", "deps-module-not-found", "Python module 'einops', missing",
         "12", "2025-06-01T10:00:00Z", "2025-06-09T08:00:00Z",
         "[arn:aws:states:us-east-1:1:execution:P:r1, arn:aws:states:us-east-1:1:execution:P:r2]",
         "[P]", None, "0.25", "s3://b/reports/r2.html", "arn:aws:states:us-east-1:1:execution:P:r2",
         "[2025-06-01=4, 2025-06-09=8]"]
ROW_B = ["bbbb000000000002", "cuda", "cuda-no-kernel-image", "No kernel image", "3",
         "2025-06-02T00:00:00Z", "2025-06-02T01:00:00Z", "[t1]", None, "[j1, j2]", "0.0", None,
         "t1", "[2025-06-02=3]"]


@pytest.fixture
def athena():
    client = boto3.client("athena", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub


def test_runs_the_sql_polls_pages_and_parses_groups(athena):
    client, stub = athena
    filters = Filters(since=datetime(2025, 6, 1, 6, tzinfo=UTC), category="deps")
    stub.add_response("start_query_execution", {"QueryExecutionId": QID}, {
        "QueryString": fleet_sql(), "QueryExecutionContext": {"Database": "investigator_fleet"},
        "WorkGroup": "fleet",
        # Athena pastes execution parameters into the SQL as literals: strings are quoted
        "ExecutionParameters": ["'2025-06-01'", "'2025-06-01T06:00:00Z'", "'deps'", "'deps'",
                                "''", "''"],
    })
    for state in ("QUEUED", "RUNNING", "SUCCEEDED"):
        stub.add_response("get_query_execution", _status(state), {"QueryExecutionId": QID})
    stub.add_response("get_query_results", _page([ROW_A], header=True, token="t2"),
                      {"QueryExecutionId": QID, "MaxResults": 1000})
    stub.add_response("get_query_results", _page([ROW_B], header=False, token=None),
                      {"QueryExecutionId": QID, "MaxResults": 1000, "NextToken": "t2"})
    sleeps: list[float] = []
    groups = run_fleet_query(client, workgroup="fleet", database="investigator_fleet",
                             filters=filters, sleep=sleeps.append)
    stub.assert_no_pending_responses()
    assert sleeps == [0.5, 1.0]  # growing delay between polls
    a, b = groups
    assert (a.fingerprint, a.count, a.retryable_share) == ("aaaa000000000001", 12, 0.25)
    assert a.title == "Python module 'einops', missing"  # a comma in a scalar is untouched
    assert a.targets == ["arn:aws:states:us-east-1:1:execution:P:r1",
                         "arn:aws:states:us-east-1:1:execution:P:r2"]
    assert a.pipelines == ["P"] and a.jobs == [] and a.per_day == {"2025-06-01": 4, "2025-06-09": 8}
    assert a.latest_report == "s3://b/reports/r2.html"
    assert b.pipelines == [] and b.jobs == ["j1", "j2"] and b.latest_report is None


def test_a_failed_query_says_why(athena):
    client, stub = athena
    stub.add_response("start_query_execution", {"QueryExecutionId": QID}, None)
    stub.add_response("get_query_execution",
                      _status("FAILED", "TABLE_NOT_FOUND: Table investigator_fleet.fleet_index does not exist"),
                      None)
    with pytest.raises(AwsError, match="failed: TABLE_NOT_FOUND"):
        run_fleet_query(client, workgroup="fleet", database="investigator_fleet",
                        filters=Filters(), sleep=lambda s: None)


def test_a_query_that_runs_too_long_is_stopped(athena):
    client, stub = athena
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    stub.add_response("start_query_execution", {"QueryExecutionId": QID}, None)
    for _ in range(4):  # 0, .5, 1.5, 3.5 s elapsed; the 4th poll is past the 3 s bound
        stub.add_response("get_query_execution", _status("RUNNING"), None)
    stub.add_response("stop_query_execution", {}, {"QueryExecutionId": QID})
    with pytest.raises(AwsError, match="still RUNNING after 3 s") as err:
        run_fleet_query(client, workgroup="fleet", database="db", filters=Filters(), sleep=sleep,
                        clock=lambda: now[0], max_wait_s=3)
    assert err.value.retryable
    stub.assert_no_pending_responses()


def test_an_unknown_workgroup_is_one_clear_error(athena):
    client, stub = athena
    stub.add_client_error("start_query_execution", "InvalidRequestException",
                          "WorkGroup nope is not found.")
    with pytest.raises(AwsError, match=r"Athena workgroup nope .*WorkGroup nope is not found"):
        run_fleet_query(client, workgroup="nope", database="db", filters=Filters())


def test_cli_renders_athena_groups_like_the_local_path(athena, monkeypatch):
    import json

    from click.testing import CliRunner

    import investigator.aws
    from investigator.cli import main

    client, stub = athena
    stub.add_response("start_query_execution", {"QueryExecutionId": QID}, None)
    stub.add_response("get_query_execution", _status("SUCCEEDED"), None)
    stub.add_response("get_query_results", _page([ROW_A, ROW_B], header=True, token=None), None)

    class Session:
        def client(self, service, **_):
            assert service == "athena"
            return client

    monkeypatch.setattr(investigator.aws, "make_session", lambda profile, region: Session())
    res = CliRunner().invoke(main, ["fleet", "investigator_fleet", "--athena", "fleet",
                                    "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["engine"] == "athena" and doc["records"] == 15
    assert [g["count"] for g in doc["groups"]] == [12, 3]
    assert doc["per_day"] == {"2025-06-01": {"deps": 4}, "2025-06-02": {"cuda": 3},
                              **{f"2025-06-0{d}": {} for d in range(3, 9)},
                              "2025-06-09": {"deps": 8}}
