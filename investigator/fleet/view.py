"""What a fleet query returns, whichever engine grouped it (pandas, Athena, DuckDB)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import re2

from investigator.errors import EXIT_INPUT, InputError, InvestigatorError
from investigator.fleet.records import iso_z, parse_time

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RELATIVE = re2.compile(r"^(\d{1,5})([hdw])$")
_UNIT_S = {"h": 3600, "d": 86400, "w": 7 * 86400}


class MissingDependency(InvestigatorError):
    """An optional extra is not installed: say which and how to install it."""

    exit_code = EXIT_INPUT


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """`7d`, `12h`, `2w`, or an ISO date / date-time (UTC when no offset is given)."""
    if not value:
        return None
    m = _RELATIVE.match(value.strip())
    if m:
        return now - timedelta(seconds=int(m.group(1)) * _UNIT_S[m.group(2)])
    try:
        return parse_time(value.strip())
    except ValueError:
        raise InputError(
            f"--since {value!r}: use a duration like 7d, 12h, 2w, or a date like 2025-06-01"
        ) from None


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    category: str | None = None
    pipeline: str | None = None

    def sql_parameters(self) -> list[str]:
        """The fleet.sql parameters, in order (see the file's header)."""
        since = self.since or EPOCH
        return [since.strftime("%Y-%m-%d"), iso_z(since), self.category or "",
                self.category or "", self.pipeline or "", self.pipeline or ""]

    def as_dict(self) -> dict[str, Any]:
        return {"since": iso_z(self.since) if self.since else None,
                "category": self.category, "pipeline": self.pipeline}


@dataclass
class Group:
    fingerprint: str
    category: str
    rule: str
    title: str
    count: int
    first_seen: str
    last_seen: str
    targets: list[str]
    pipelines: list[str]
    jobs: list[str]
    retryable_share: float
    per_day: dict[str, int]
    latest_report: str | None
    latest_target: str

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # shallow: no deep copies


def _text_list(value: Any) -> list[str]:
    """An SQL array: a list (DuckDB) or Athena's text form `[a, b]` (no commas in ids)."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part.strip() for part in text.split(", ") if part.strip()]


def group_from_row(row: Mapping[str, Any]) -> Group:
    """One row of fleet.sql, typed (DuckDB) or all text (Athena's GetQueryResults)."""
    per_day = {}
    for item in _text_list(row.get("per_day")):
        day, _, n = item.partition("=")
        per_day[day] = int(n)
    return Group(
        fingerprint=str(row["fingerprint"]),
        category=str(row["category"]),
        rule=str(row["rule"]),
        title=str(row["title"]),
        count=int(row["failures"]),
        first_seen=str(row["first_seen"]),
        last_seen=str(row["last_seen"]),
        targets=_text_list(row.get("targets")),
        pipelines=_text_list(row.get("pipelines")),
        jobs=_text_list(row.get("jobs")),
        retryable_share=round(float(row.get("retryable_share") or 0.0), 4),
        per_day=per_day,
        latest_report=row.get("latest_report") or None,
        latest_target=str(row.get("latest_target") or ""),
    )


@dataclass
class FleetView:
    source: str
    engine: str
    filters: Filters
    groups: list[Group]
    records: int
    generated_at: str = field(default_factory=lambda: iso_z(datetime.now(UTC)))
    skipped: int = 0

    def per_day_by_category(self) -> dict[str, dict[str, int]]:
        """Failures per day and category, every day of the window present (zeros too)."""
        out: dict[str, dict[str, int]] = {}
        for g in self.groups:
            for day, n in g.per_day.items():
                by_cat = out.setdefault(day, {})
                by_cat[g.category] = by_cat.get(g.category, 0) + n
        if not out:
            return {}
        first = datetime.fromisoformat(min(out)).date()
        last = datetime.fromisoformat(max(out)).date()
        days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
        return {d: dict(sorted(out.get(d, {}).items())) for d in days}

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "fleet",
            "source": self.source,
            "engine": self.engine,
            "generated_at": self.generated_at,
            "filters": self.filters.as_dict(),
            "records": self.records,
            "skipped": self.skipped,
            "groups": [g.as_dict() for g in self.groups],
            "per_day": self.per_day_by_category(),
        }
