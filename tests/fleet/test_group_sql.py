"""The pandas grouping, and fleet.sql run by DuckDB on the same JSON Lines: same groups."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from investigator.fleet.athena import fleet_sql
from investigator.fleet.group import group_records
from investigator.fleet.records import IndexRecord
from investigator.fleet.view import Filters, group_from_row
from tests.fleet.conftest import random_records

duckdb = pytest.importorskip("duckdb", reason="duckdb is a dev dependency (pip install -e '.[dev]')")

# The Glue table's columns (infra/template.yaml FleetIndexTable), so DuckDB reads what Athena reads.
COLUMNS = {
    "fingerprint": "VARCHAR", "category": "VARCHAR", "rule": "VARCHAR", "title": "VARCHAR",
    "confidence": "DOUBLE", "retryable": "BOOLEAN", "target": "VARCHAR", "target_kind": "VARCHAR",
    "pipeline": "VARCHAR", "job": "VARCHAR", "failed_state": "VARCHAR", "failed_at": "VARCHAR",
    "report": "VARCHAR", "instance_type": "VARCHAR", "image_digest": "VARCHAR", "v": "INTEGER",
}


def write_index(root: Path, records: list[IndexRecord]) -> Path:
    """The S3 layout: index/date=YYYY-MM-DD/<one file per failure>.jsonl (a few share files)."""
    for n, rec in enumerate(records):
        folder = root / "index" / f"date={rec.day}"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{n % 997:04d}.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(rec.to_json_line())
    return root / "index"


def duck_groups(index: Path, filters: Filters):
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW fleet_index AS SELECT * FROM read_json('{index}/*/*.jsonl', "
        f"format='newline_delimited', hive_partitioning=true, hive_types={{'date': 'VARCHAR'}}, "
        f"columns={COLUMNS!r})"
    )
    cur = con.execute(fleet_sql(), filters.sql_parameters())
    names = [d[0] for d in cur.description]
    return [group_from_row(dict(zip(names, row, strict=True))) for row in cur.fetchall()]


FILTERS = [
    Filters(),
    Filters(since=datetime(2025, 6, 15, 12, 30, tzinfo=UTC)),
    Filters(category="deps"),
    Filters(pipeline="Nightly", since=datetime(2025, 6, 10, tzinfo=UTC)),
    Filters(category="cuda", pipeline="Weekly"),
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f.as_dict()))
def test_duckdb_runs_fleet_sql_to_the_same_groups_as_pandas(tmp_path, filters):
    records = random_records(3000)
    index = write_index(tmp_path, records)
    expected = group_records(records, filters)
    assert expected, "a filter that keeps nothing proves nothing"
    assert duck_groups(index, filters) == expected


def test_grouping_by_hand():
    base = IndexRecord(fingerprint="f1", category="deps", rule="r", title="old title",
                       confidence=0.9, retryable=False, target="t1", target_kind="execution",
                       pipeline="P1", job="j1", failed_state="Train",
                       failed_at="2025-06-01T10:00:00Z", report="s3://b/1.html")
    records = [
        base,
        replace(base, target="t2", job=None, retryable=True, failed_at="2025-06-03T09:00:00Z",
                title="new title", report="s3://b/2.html"),
        replace(base, pipeline="P2", failed_at="2025-06-03T08:00:00Z", report=None),
        replace(base, fingerprint="f2", category="cuda", rule="r2", title="other",
                failed_at="2025-06-02T00:00:00Z"),
    ]
    f1, f2 = group_records(records, Filters())
    assert (f1.fingerprint, f1.count, f2.fingerprint, f2.count) == ("f1", 3, "f2", 1)
    assert f1.first_seen == "2025-06-01T10:00:00Z" and f1.last_seen == "2025-06-03T09:00:00Z"
    assert f1.targets == ["t1", "t2"] and f1.pipelines == ["P1", "P2"] and f1.jobs == ["j1"]
    assert f1.retryable_share == pytest.approx(1 / 3, abs=1e-4)
    assert f1.per_day == {"2025-06-01": 1, "2025-06-03": 2}
    assert f1.title == "new title" and f1.latest_report == "s3://b/2.html"
    assert f1.latest_target == "t2"
    [only] = group_records(records, Filters(since=datetime(2025, 6, 3, 8, 30, tzinfo=UTC)))
    assert only.count == 1 and only.per_day == {"2025-06-03": 1}
