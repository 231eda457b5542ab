"""`investigate fleet --athena WORKGROUP`: fleet.sql in Athena, results as the same Groups.

StartQueryExecution (the SQL with `?` execution parameters), GetQueryExecution polled with
a growing delay until a final state or MAX_WAIT_S (then StopQueryExecution and a retryable
error), GetQueryResults paged with NextToken up to MAX_PAGES. Shapes: the Athena API
Reference (https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html,
API_GetQueryExecution.html, API_StartQueryExecution.html) and botocore's athena model.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from investigator.errors import AwsError
from investigator.fleet.view import Filters, Group, group_from_row

MAX_WAIT_S = 300.0
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 5.0
PAGE_SIZE = 1000  # GetQueryResults' maximum MaxResults
MAX_PAGES = 200
DEFAULT_DATABASE = "investigator_fleet"
_FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


def fleet_sql() -> str:
    return resources.files("investigator.fleet").joinpath("fleet.sql").read_text("utf-8")


def _literal(value: str) -> str:
    # Athena substitutes execution parameters as literal SQL text: strings need quotes.
    return "'" + value.replace("'", "''") + "'"


def _wait(athena: Any, query_id: str, *, sleep: Callable[[float], None],
          clock: Callable[[], float], max_wait_s: float) -> None:
    started = clock()
    delay = FIRST_DELAY_S
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        state = status.get("State")
        if state == "SUCCEEDED":
            return
        if state in _FINAL:
            reason = status.get("StateChangeReason") or "no reason given"
            raise AwsError(f"Athena query {query_id} {state.lower()}: {reason}")
        if clock() - started >= max_wait_s:
            # best effort: the workgroup's own limit ends it anyway
            with contextlib.suppress(ClientError, BotoCoreError):
                athena.stop_query_execution(QueryExecutionId=query_id)
            raise AwsError(f"Athena query {query_id} still {state} after {max_wait_s:.0f} s; "
                           "stopped it (narrow it with --since)", retryable=True)
        sleep(delay)
        delay = min(delay * 2, MAX_DELAY_S)


def _rows(athena: Any, query_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    names: list[str] = []
    token: str | None = None
    for page_no in range(MAX_PAGES):
        kwargs: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": PAGE_SIZE}
        if token:
            kwargs["NextToken"] = token
        page = athena.get_query_results(**kwargs)
        result = page.get("ResultSet", {})
        if not names:
            names = [c["Name"] for c in result.get("ResultSetMetadata", {}).get("ColumnInfo", [])]
        data = result.get("Rows", [])
        if page_no == 0 and data:
            data = data[1:]  # a SELECT's first row repeats the column names
        for row in data:
            values = [d.get("VarCharValue") for d in row.get("Data", [])]
            rows.append(dict(zip(names, values, strict=False)))
        token = page.get("NextToken")
        if not token:
            return rows
    raise AwsError(f"Athena query {query_id} returned more than {MAX_PAGES * PAGE_SIZE} groups; "
                   "narrow it with --since, --category or --pipeline")


def run_fleet_query(
    athena: Any, *, workgroup: str, database: str, filters: Filters,
    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
    max_wait_s: float = MAX_WAIT_S,
) -> list[Group]:
    from investigator.aws import target_error

    try:
        started = athena.start_query_execution(
            QueryString=fleet_sql(),
            QueryExecutionContext={"Database": database},
            WorkGroup=workgroup,
            ExecutionParameters=[_literal(v) for v in filters.sql_parameters()],
        )
        query_id = started["QueryExecutionId"]
        _wait(athena, query_id, sleep=sleep, clock=clock, max_wait_s=max_wait_s)
        return [group_from_row(r) for r in _rows(athena, query_id)]
    except (ClientError, BotoCoreError) as exc:
        raise target_error(exc, f"Athena workgroup {workgroup} (database {database})",
                           str(athena.meta.region_name),
                           "athena:StartQueryExecution/GetQueryExecution/GetQueryResults") from None
