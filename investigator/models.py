"""Typed data that flows between collectors, classifier and reporters.

Every arrow in the pipeline is a plain function call on these models. They are pydantic
models so a saved evidence bundle or investigation JSON is validated when read back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The vocabulary is defined in investigator/taxonomy.py; re-exported for the models' users.
from investigator.taxonomy import CATEGORIES as CATEGORIES
from investigator.taxonomy import SOURCES as SOURCES
from investigator.taxonomy import Category as Category
from investigator.taxonomy import Source as Source

# 1.1: `fingerprint`, the optional `history` (investigator/fleet) and `runbook` were added.
SCHEMA_VERSION = "1.1"

TargetKind = Literal["execution", "job", "log", "bundle"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Target(_Frozen):
    kind: TargetKind
    name: str
    job_kind: Literal["training", "processing"] | None = None
    region: str | None = None


class LogEvent(_Frozen):
    """One log line as collected (CloudWatch event or a line of a file)."""

    message: str
    timestamp: datetime | None = None


class LogStream(_Frozen):
    """A bounded read of one log stream: the head and the tail, never the whole."""

    name: str
    group: str | None = None
    events: list[LogEvent] = Field(default_factory=list)
    # Line number of each event in the stream when known; None when the read skipped a middle part.
    first_line: int = 1
    truncated: bool = False
    skipped_events: int | None = None


class Gap(_Frozen):
    """Something that could not be collected. Never a crash and never silence."""

    source: str
    code: str
    message: str
    missing_permission: str | None = None


class TimelineEvent(_Frozen):
    time: datetime
    source: str
    event: str
    end: datetime | None = None


class Change(_Frozen):
    """A difference between the failed run and the last known good run."""

    field: str
    before: Any = None
    after: Any = None


class Evidence(_Frozen):
    """The contract between collectors and classifier; what --save-bundle writes."""

    schema_version: str = SCHEMA_VERSION
    kind: Literal["evidence"] = "evidence"
    target: Target
    facts: dict[str, Any] = Field(default_factory=dict)
    logs: list[LogStream] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)
    last_good: str | None = None
    api_calls: int = 0
    elapsed_s: float = 0.0
    collected_at: datetime | None = None


class EvidenceLine(_Frozen):
    """A cited line: where it came from, its text, and a little context."""

    source: str
    stream: str | None = None
    line: int | None = None
    text: str
    timestamp: datetime | None = None
    before: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)
    # Character span of the matching part inside `text`, for highlighting.
    span: tuple[int, int] | None = None


class Alternative(_Frozen):
    category: Category
    rule: str
    confidence: float
    title: str
    why_lower: str = ""


class Inconclusive(_Frozen):
    """A rule that could not be ruled out because a source it needs was not readable."""

    category: Category
    rule: str
    title: str
    missing_sources: list[str]
    missing_permissions: list[str] = Field(default_factory=list)


class Finding(_Frozen):
    category: Category
    rule: str
    title: str
    confidence: float
    confidence_label: Literal["high", "medium", "low"]
    retryable: bool
    explanation: str
    remediation: list[str]
    evidence: list[EvidenceLine] = Field(default_factory=list)
    repro: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)


class JobInfo(_Frozen):
    name: str | None = None
    arn: str | None = None
    kind: Literal["training", "processing"] | None = None
    status: str | None = None
    secondary_status: str | None = None
    failure_reason: str | None = None
    instance_type: str | None = None
    instance_count: int | None = None
    image: str | None = None
    created: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None


class History(_Frozen):
    """Earlier failures with the same fingerprint, as the fleet index knew them."""

    count: int  # earlier failures, this one not included
    first_seen: datetime
    last_seen: datetime | None = None
    last_target: str | None = None
    last_report: str | None = None


class Investigation(_Frozen):
    """The classifier's answer, with everything a reporter needs."""

    schema_version: str = SCHEMA_VERSION
    kind: Literal["investigation"] = "investigation"
    source: str
    target: Target
    finding: Finding
    alternatives: list[Alternative] = Field(default_factory=list)
    inconclusive: list[Inconclusive] = Field(default_factory=list)
    failed_state: str | None = None
    job: JobInfo | None = None
    facts: dict[str, Any] = Field(default_factory=dict)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)
    last_good: str | None = None
    api_calls: int = 0
    elapsed_s: float = 0.0
    history: History | None = None

    @property
    def fingerprint(self) -> str:
        """Same cause on another run → same value (see investigator/fleet/fingerprint.py)."""
        from investigator.fleet.fingerprint import fingerprint_of

        return fingerprint_of(self)
