"""Typed data that flows between collectors, classifier and reporters.

Every arrow in the pipeline is a plain function call on these models. They are frozen
dataclasses: building one costs nothing at start-up (`investigate log` never imports
pydantic). What comes from outside (a saved evidence bundle, a stored investigation) is
validated when read back, by `validate()` with pydantic, which checks stdlib dataclasses
field by field and refuses unknown keys (`__pydantic_config__`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any, ClassVar, Literal, TypeVar

# The vocabulary is defined in investigator/taxonomy.py; re-exported for the models' users.
from investigator.taxonomy import CATEGORIES as CATEGORIES
from investigator.taxonomy import SOURCES as SOURCES
from investigator.taxonomy import Category as Category
from investigator.taxonomy import Source as Source

# 1.1: `fingerprint`, the optional `history` (investigator/fleet) and `runbook` were added.
SCHEMA_VERSION = "1.1"

TargetKind = Literal["execution", "job", "log", "bundle"]


M = TypeVar("M", bound="Model")
# What every model (and every playbook schema class) is: frozen, keyword-only, slotted.
model_class = dataclass(frozen=True, kw_only=True, slots=True)


class Model:
    """Base of the models and of the playbook schema (investigator/classifier/schema.py)."""

    __slots__ = ()
    # Read by pydantic when validate() checks data from outside: unknown keys are errors.
    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}

    def replace(self: M, **changes: Any) -> M:
        """A copy with some fields changed (not validated: our own code builds it)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@model_class
class Target(Model):
    kind: TargetKind
    name: str
    job_kind: Literal["training", "processing"] | None = None
    region: str | None = None


@model_class
class LogEvent(Model):
    """One log line as collected (CloudWatch event or a line of a file)."""

    message: str
    timestamp: datetime | None = None


@model_class
class LogStream(Model):
    """A bounded read of one log stream: the head and the tail, never the whole."""

    name: str
    group: str | None = None
    events: list[LogEvent] = field(default_factory=list)
    # Line number of each event in the stream when known; None when the read skipped a middle part.
    first_line: int = 1
    truncated: bool = False
    skipped_events: int | None = None


@model_class
class Gap(Model):
    """Something that could not be collected. Never a crash and never silence."""

    source: str
    code: str
    message: str
    missing_permission: str | None = None


@model_class
class TimelineEvent(Model):
    time: datetime
    source: str
    event: str
    end: datetime | None = None


@model_class
class Change(Model):
    """A difference between the failed run and the last known good run."""

    field: str
    before: Any = None
    after: Any = None


@model_class
class Evidence(Model):
    """The contract between collectors and classifier; what --save-bundle writes."""

    schema_version: str = SCHEMA_VERSION
    kind: Literal["evidence"] = "evidence"
    target: Target
    facts: dict[str, Any] = field(default_factory=dict)
    logs: list[LogStream] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    last_good: str | None = None
    api_calls: int = 0
    elapsed_s: float = 0.0
    collected_at: datetime | None = None


@model_class
class EvidenceLine(Model):
    """A cited line: where it came from, its text, and a little context."""

    source: str
    stream: str | None = None
    line: int | None = None
    text: str
    timestamp: datetime | None = None
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    # Character span of the matching part inside `text`, for highlighting.
    span: tuple[int, int] | None = None


@model_class
class Alternative(Model):
    category: Category
    rule: str
    confidence: float
    title: str
    why_lower: str = ""


@model_class
class Inconclusive(Model):
    """A rule that could not be ruled out because a source it needs was not readable."""

    category: Category
    rule: str
    title: str
    missing_sources: list[str]
    missing_permissions: list[str] = field(default_factory=list)


@model_class
class Finding(Model):
    category: Category
    rule: str
    title: str
    confidence: float
    confidence_label: Literal["high", "medium", "low"]
    retryable: bool
    explanation: str
    remediation: list[str]
    evidence: list[EvidenceLine] = field(default_factory=list)
    repro: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)


@model_class
class JobInfo(Model):
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


@model_class
class History(Model):
    """Earlier failures with the same fingerprint, as the fleet index knew them."""

    count: int  # earlier failures, this one not included
    first_seen: datetime
    last_seen: datetime | None = None
    last_target: str | None = None
    last_report: str | None = None


@model_class
class Investigation(Model):
    """The classifier's answer, with everything a reporter needs."""

    schema_version: str = SCHEMA_VERSION
    kind: Literal["investigation"] = "investigation"
    source: str
    target: Target
    finding: Finding
    alternatives: list[Alternative] = field(default_factory=list)
    inconclusive: list[Inconclusive] = field(default_factory=list)
    failed_state: str | None = None
    job: JobInfo | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    timeline: list[TimelineEvent] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    last_good: str | None = None
    api_calls: int = 0
    elapsed_s: float = 0.0
    history: History | None = None

    @property
    def fingerprint(self) -> str:
        """Same cause on another run → same value (see investigator/fleet/fingerprint.py)."""
        from investigator.fleet.fingerprint import fingerprint_of

        return fingerprint_of(self)


def as_datetime(value: Any) -> datetime | None:
    """AWS timestamps as aware UTC datetimes (botocore parses some into local time)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and value > 0:
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    return None


def is_model(value: Any) -> bool:
    return isinstance(value, Model)


def map_fields(model: M, fn: Callable[[str, Any], Any]) -> M:
    """A copy of the model with each field's value replaced by fn(name, value)."""
    fields = dataclasses.fields(model)  # type: ignore[arg-type]
    return type(model)(**{f.name: fn(f.name, getattr(model, f.name)) for f in fields})


def to_jsonable(value: Any) -> Any:
    """Only JSON types: models as dicts, datetimes as pydantic writes them."""
    if isinstance(value, Model):
        fields = dataclasses.fields(value)  # type: ignore[arg-type]
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields}
    if isinstance(value, dict):
        return {_json_key(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return _json_scalar(value)


def _json_key(key: Any) -> Any:
    return key if isinstance(key, str | int | float | bool) or key is None else _json_scalar(key)


def _json_scalar(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        # ISO 8601 with "Z" for UTC, as pydantic (and the schema's earlier JSON) writes it.
        text = value.isoformat()
        return text[:-6] + "Z" if value.utcoffset() == timedelta(0) else text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return _json_scalar(value.value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def to_json(model: Model, *, indent: int | None = None) -> str:
    import json

    return json.dumps(to_jsonable(model), indent=indent, ensure_ascii=False)


def validate(cls: type[M], data: Any) -> M:
    """Data from outside checked into a model; raises pydantic.ValidationError."""
    return _adapter(cls).validate_python(data)


@cache
def _adapter(cls: type) -> Any:
    from pydantic import TypeAdapter  # only where outside data is read back

    return TypeAdapter(cls)
