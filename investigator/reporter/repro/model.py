"""The repro kit's plan: typed, validated values the templates can use as they are."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import re2

from investigator.redact import MASK

# What a redacted secret becomes in the kit: the user must put the real value back.
FILL_ME = "__REDACTED_FILL_ME__"
MAX_COMMENT = 300
_CONTROL = re2.compile(r"[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]+")


@dataclass(frozen=True)
class S3Channel:
    name: str
    uri: str
    bucket: str
    prefix: str


@dataclass(frozen=True)
class Check:
    """One read-only command that re-checks a piece of evidence."""

    what: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class ImageInfo:
    ref: str | None = None  # what to pull and run
    by_digest: bool = False
    registry: str | None = None  # ECR registry to log in to
    registry_region: str | None = None
    account: str | None = None
    repository: str | None = None
    digest: str | None = None
    tag: str | None = None


@dataclass
class Plan:
    """Everything the templates need, already validated and normalised."""

    source: str
    title: str
    category: str
    rule: str
    sample: int
    job_name: str | None = None
    job_arn: str | None = None
    job_kind: str = "training"
    region: str | None = None
    image: ImageInfo = field(default_factory=ImageInfo)
    platform: str = "linux/amd64"
    gpus: bool = False
    env_names: list[str] = field(default_factory=list)
    run_flags: list[list[str]] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    channel_names: list[str] = field(default_factory=list)
    channels: list[S3Channel] = field(default_factory=list)
    hyperparameters: dict[str, str] = field(default_factory=dict)
    filled: list[str] = field(default_factory=list)
    instance_type: str | None = None
    instance_count: int = 1
    role_arn: str | None = None
    checks: list[Check] = field(default_factory=list)
    finding_commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def fact_str(facts: dict[str, Any], name: str) -> str | None:
    value = facts.get(name)
    return value if isinstance(value, str) and value else None


def fact_str_list(facts: dict[str, Any], name: str) -> list[str]:
    value = facts.get(name)
    if not isinstance(value, list | tuple):
        return []
    return [v if isinstance(v, str) else json.dumps(v) for v in value]


def unmask(text: str) -> str:
    """A redacted secret becomes a marker the user must replace (and the script warns about)."""
    return text.replace(MASK, FILL_ME)


def comment(text: Any) -> str:
    """Flatten text to one line without control characters (a `#` comment, a terminal line)."""
    flat = _CONTROL.sub(" ", str(text))
    return flat if len(flat) <= MAX_COMMENT else flat[: MAX_COMMENT - 1] + "…"
