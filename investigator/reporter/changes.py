"""The last-good diff as causes, not noise.

Every run has its own job name, execution name, dated S3 prefix: those differences are
real but explain nothing, so they are folded. Configuration changes (instance type, image,
hyperparameters, framework versions) come first, and a remediation that such a change
explains names it ("the last good run used ml.g5.xlarge").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import re2

# Parts generated per run: dates and times, epoch seconds, long random hex. Short numbers
# (ml.g5 vs ml.g6, 1e-05 vs 2e-05) are configuration and stay.
_RUN_PARTS = re2.compile(
    r"\d{4}-?\d{2}-?\d{2}(?:[-T_]?\d{2}(?:[:-]?\d{2}){1,2}(?:\.\d+)?Z?)?"
    r"|\d{6,}|[0-9a-f]{8,}"
)
# Field prefixes/names in the order a reader wants them; lower rank first.
_CONFIG_RANK = (
    ("instance_type", 0), ("instance_count", 1), ("image", 2), ("ecr.image_digest", 2),
    ("hyperparameters.", 3), ("environment.", 5), ("entrypoint", 6), ("arguments", 6),
)
# Which change explains which category's fix.
_EXPLAINS = {
    "instance_type": {"cuda", "platform", "resources", "capacity", "distributed"},
    "instance_count": {"distributed", "resources", "capacity"},
    "image": {"cuda", "deps", "platform", "entrypoint", "code"},
    "ecr.image_digest": {"cuda", "deps", "platform", "entrypoint", "code"},
    "hyperparameters.": {"hyperparameters", "resources", "code", "paths"},
    "environment.": {"cuda", "deps", "distributed", "network"},
    "entrypoint": {"entrypoint", "paths"},
    "arguments": {"hyperparameters", "entrypoint", "paths"},
}
_VERSION_WORDS = ("version", "torch", "cuda", "transformers", "tensorflow", "framework")


@dataclass(frozen=True)
class ChangeRow:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class Changes:
    """Configuration and other changes, then the ones that differ only by the run's id/date."""

    causes: list[ChangeRow]
    noise: list[ChangeRow]

    def __bool__(self) -> bool:
        return bool(self.causes or self.noise)


# The image and the host are configuration even when their names carry a date.
_NEVER_NOISE = ("instance_type", "instance_count", "image", "ecr.image_digest")


def _matches(field: str, key: str) -> bool:
    field = field.removeprefix("sagemaker.")
    return field.startswith(key) if key.endswith(".") else field == key


def _rank(field: str) -> int:
    if any(w in field.lower() for w in _VERSION_WORDS):
        return 4  # framework versions, wherever they were recorded
    return next((r for key, r in _CONFIG_RANK if _matches(field, key)), 9)


def _generic(value: str, run_ids: Sequence[str]) -> str:
    for rid in run_ids:  # the run's own names, longest first (a name may contain another)
        value = value.replace(rid, "<run>")
    return _RUN_PARTS.sub("#", value)


def only_run_identity(before: str, after: str, run_ids: Sequence[str] = ()) -> bool:
    """The values differ only by the run's own names, dates, timestamps or random ids."""
    if before == after or "—" in (before, after):
        return False
    ids = sorted({i for i in run_ids if i and len(i) >= 4}, key=len, reverse=True)
    return _generic(before, ids) == _generic(after, ids)


def split(rows: list[ChangeRow], run_ids: Sequence[str] = ()) -> Changes:
    """Causes ordered configuration-first; changes of the run's own id/date apart."""
    causes, noise = [], []
    for row in rows:
        fixed = any(_matches(row.field, key) for key in _NEVER_NOISE)
        noisy = not fixed and only_run_identity(row.before, row.after, run_ids)
        (noise if noisy else causes).append(row)
    causes.sort(key=lambda r: _rank(r.field))  # stable: collector order within a rank
    return Changes(causes, noise)


def explaining(changes: Changes, category: str) -> list[ChangeRow]:
    """The changes that could explain a finding of this category, most telling first."""
    return [
        r for r in changes.causes
        if any(_matches(r.field, key) and category in cats for key, cats in _EXPLAINS.items())
    ]


def note(changes: Changes, category: str) -> str:
    """'the last good run used ml.g5.xlarge (instance_type), this run ml.g4dn.xlarge'."""
    rows = explaining(changes, category)[:2]
    parts = [
        f"the last good run used {r.before} ({r.field}), this run {r.after}"
        if r.before != "—" else f"the last good run had no {r.field}, this run {r.after}"
        for r in rows
    ]
    return "; ".join(parts)
