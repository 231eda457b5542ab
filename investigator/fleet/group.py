"""Group index records by fingerprint with pandas: the local engine of `investigate fleet`.

It computes exactly what fleet.sql computes in Athena (tests/fleet/test_sql.py checks the two
agree on the same records): per fingerprint, the count, first and last seen, the targets,
pipelines and jobs affected, the retryable share, failures per day, and the latest row's
category, rule, title, report and target ("latest" = greatest failed_at|report|target).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from investigator.fleet.records import IndexRecord, iso_z
from investigator.fleet.view import Filters, Group, MissingDependency

INSTALL_HINT = "investigate fleet needs pandas: pip install 'investigator[fleet]'"
_COLUMNS = [f.name for f in fields(IndexRecord)]


def require_pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise MissingDependency(INSTALL_HINT) from None
    return pandas


def frame(records: Sequence[IndexRecord]) -> Any:
    pd = require_pandas()
    rows = [tuple(r.__dict__.values()) for r in records]  # field order = _COLUMNS
    return pd.DataFrame.from_records(rows, columns=_COLUMNS)


def _filtered(df: Any, filters: Filters) -> Any:
    keep = df["failed_at"] >= (iso_z(filters.since) if filters.since else "")
    if filters.category:
        keep &= df["category"] == filters.category
    if filters.pipeline:
        keep &= df["pipeline"] == filters.pipeline
    return df[keep]


def _sorted_unique(df: Any, column: str) -> dict[str, list[str]]:
    seen: dict[str, set[str]] = {}
    for fp, value in zip(df["fingerprint"].tolist(), df[column].tolist(), strict=True):
        if isinstance(value, str):  # None / NaN: absent
            seen.setdefault(fp, set()).add(value)
    return {fp: sorted(values) for fp, values in seen.items()}


def group_records(records: Sequence[IndexRecord], filters: Filters) -> list[Group]:
    df = _filtered(frame(records), filters)
    if df.empty:
        return []
    df = df.assign(
        day=df["failed_at"].str.slice(0, 10),
        latest_key=df["failed_at"] + "|" + df["report"].fillna("") + "|" + df["target"],
        retryable=df["retryable"].astype(bool),
    ).sort_values("latest_key", kind="stable")
    by_fp = df.groupby("fingerprint", sort=False)
    stats = by_fp.agg(count=("failed_at", "size"), first_seen=("failed_at", "min"),
                      last_seen=("failed_at", "max"), retryable_share=("retryable", "mean"))
    latest = df.drop_duplicates("fingerprint", keep="last").set_index("fingerprint")
    per_day: dict[str, dict[str, int]] = {}
    for (fp, day), n in df.groupby(["fingerprint", "day"], sort=True).size().items():
        per_day.setdefault(fp, {})[day] = int(n)
    targets, pipelines, jobs = (_sorted_unique(df, c) for c in ("target", "pipeline", "job"))
    groups = [
        Group(
            fingerprint=fp,
            category=str(latest.at[fp, "category"]),
            rule=str(latest.at[fp, "rule"]),
            title=str(latest.at[fp, "title"]),
            count=int(row["count"]),
            first_seen=str(row["first_seen"]),
            last_seen=str(row["last_seen"]),
            targets=targets.get(fp, []),
            pipelines=pipelines.get(fp, []),
            jobs=jobs.get(fp, []),
            retryable_share=round(float(row["retryable_share"]), 4),
            per_day=per_day.get(fp, {}),
            latest_report=_none(latest.at[fp, "report"]),
            latest_target=str(latest.at[fp, "target"]),
        )
        for fp, row in stats.iterrows()
    ]
    return sort_groups(groups)


def _none(value: Any) -> str | None:
    return None if value is None or value != value else str(value)  # NaN != NaN


def sort_groups(groups: list[Group]) -> list[Group]:
    """Most failures first, then the most recent, then by fingerprint (as fleet.sql)."""
    groups.sort(key=lambda g: g.fingerprint)
    groups.sort(key=lambda g: g.last_seen, reverse=True)
    groups.sort(key=lambda g: g.count, reverse=True)
    return groups
