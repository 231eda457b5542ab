"""Collectors: one module per AWS service. Read-only, bounded, and they gather, never judge.

Each collector returns a `Collected`: facts (names from investigator.facts), timeline events,
log streams and gaps. What cannot be read becomes a Gap whose `source` is one of the evidence
sources a playbook may require (models.SOURCES), so the classifier can report "could not
rule out" with the missing permission.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from investigator.models import Gap, LogStream, TimelineEvent, as_datetime

JobKind = Literal["training", "processing"]

# Collector name (used in progress lines) → the evidence source its gaps are filed under.
REGISTRY: dict[str, str] = {
    "stepfunctions": "sfn",
    "sagemaker": "sagemaker",
    "cloudwatch_logs": "logs",
    "ecr": "ecr",
    "metrics": "metrics",
    "lastgood": "lastgood",
}


@dataclass(frozen=True)
class JobRef:
    """A SageMaker job a collector found (or the user named)."""

    name: str
    kind: JobKind = "training"
    arn: str | None = None


@dataclass
class Collected:
    facts: dict[str, Any] = field(default_factory=dict)
    timeline: list[TimelineEvent] = field(default_factory=list)
    logs: list[LogStream] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    # One short phrase for the progress line, e.g. "failed state TrainModel".
    summary: str = ""

    @property
    def collected(self) -> Collected:
        """Every collector's result carries a Collected; a plain one is its own."""
        return self

    def merge(self, other: Collected) -> None:
        self.facts.update(other.facts)
        self.timeline.extend(other.timeline)
        self.logs.extend(other.logs)
        self.gaps.extend(other.gaps)


def iso(value: Any) -> str | None:
    """AWS timestamps (datetime, epoch seconds or ms) as ISO 8601 strings."""
    dt = as_datetime(value)
    return dt.isoformat() if dt else None


__all__ = ["REGISTRY", "Collected", "JobKind", "JobRef", "as_datetime", "iso"]
