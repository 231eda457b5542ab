"""Typed schema of a playbook rule (one YAML file per rule).

Validation happens at load time so a broken rule is a load error naming the file and the
field, never a rule that silently never matches.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from investigator.facts import DEFAULT_PATTERN_SOURCES, FACTS, TEXT_SOURCES
from investigator.models import Category, Source

Confidence = Literal["high", "medium", "low"]
Operator = Literal[
    "equals", "in", "matches", "exists", "gt", "lt", "token_in_line", "group_not_in"
]
# Operators that join a fact with the lines a rule cites (checked after its patterns hit):
# token_in_line: a cited line holds one of the fact's names (list items or mapping keys) as a
#   whole token, e.g. a plain ValueError naming a hyperparameter the job was given;
# group_not_in: the named group (`value`) captured something that is not one of the fact's
#   items, e.g. an /opt/ml/input/data/<channel> the job never declared.
LINE_OPERATORS = frozenset({"token_in_line", "group_not_in"})
Expect = Literal["match", "no-match", "inconclusive"]

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
# {name} or {name|text used when the value is absent}; ${VAR} in shell text is left alone.
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][\w.]*)(?:\|([^{}]*))?\}")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


def _check_regex(pattern: str) -> str:
    try:
        re2.compile(pattern)
    except re2.error as exc:
        raise ValueError(f"bad regex {pattern!r}: {exc}") from None
    return pattern


class Pattern(_Strict):
    """One regex (RE2 syntax, matched per line) and the text sources it is searched in.

    Matching is tolerant (investigator/classifier/tolerant.py): case-insensitive, any
    spacing around ": ", known line prefixes before a leading ^. `case_sensitive: true`
    (here or on the rule) opts out of case folding; `unless` lists regexes that, when they
    also match the same line, make that line not a hit (e.g. pip's resolver notice for a
    generic "ERROR:" pattern).
    """

    regex: str
    in_: tuple[str, ...] = Field(default=DEFAULT_PATTERN_SOURCES, alias="in")
    case_sensitive: bool | None = None  # None: the rule's setting
    unless: tuple[str, ...] = ()

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, v: str) -> str:
        return _check_regex(v)

    @field_validator("unless")
    @classmethod
    def _unless_compiles(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_regex(x) for x in v)

    @field_validator("in_")
    @classmethod
    def _known_sources(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in v if s not in TEXT_SOURCES]
        if unknown:
            raise ValueError(f"unknown pattern source(s) {unknown}; known: {list(TEXT_SOURCES)}")
        return v

    @property
    def group_names(self) -> set[str]:
        return set(re2.compile(self.regex).groupindex)


def _as_pattern(v: Any) -> Any:
    return {"regex": v} if isinstance(v, str) else v


class Patterns(_Strict):
    any: list[Pattern] = Field(default_factory=list)
    all: list[Pattern] = Field(default_factory=list)
    none: list[Pattern] = Field(default_factory=list)
    # When set, the hits of `all` (and one of `any`) must lie within this many lines.
    window: int | None = Field(default=None, ge=1, le=100_000)

    @field_validator("any", "all", "none", mode="before")
    @classmethod
    def _strings_to_patterns(cls, v: Any) -> Any:
        return [_as_pattern(x) for x in v] if isinstance(v, list) else v

    def positive(self) -> list[Pattern]:
        return [*self.any, *self.all]


class Condition(_Strict):
    fact: str
    op: Operator
    value: Any = True
    # What the condition evaluates to when the fact is absent (log-only investigations).
    if_missing: bool = False

    @field_validator("fact")
    @classmethod
    def _known_fact(cls, v: str) -> str:
        if v not in FACTS:
            raise ValueError(f"unknown fact {v!r} (not in investigator.facts.FACTS)")
        return v

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError("op 'in' needs a list value")
        if self.op in ("gt", "lt") and not isinstance(self.value, int | float):
            raise ValueError(f"op {self.op!r} needs a number value")
        if self.op == "matches":
            if not isinstance(self.value, str):
                raise ValueError("op 'matches' needs a regex string value")
            _check_regex(self.value)
        if self.op == "exists" and not isinstance(self.value, bool):
            raise ValueError("op 'exists' needs true or false")
        if self.op == "group_not_in" and not isinstance(self.value, str):
            raise ValueError("op 'group_not_in' needs the name of a pattern group as value")
        return self


class ExampleGap(_Strict):
    source: Source
    code: str = "AccessDenied"
    missing_permission: str | None = None


class Example(_Strict):
    name: str
    expect: Expect
    log: str = ""
    facts: dict[str, Any] = Field(default_factory=dict)
    gaps: list[ExampleGap] = Field(default_factory=list)
    cites: list[str] = Field(default_factory=list)

    @field_validator("facts")
    @classmethod
    def _known_facts(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = [k for k in v if k not in FACTS]
        if unknown:
            raise ValueError(f"unknown fact(s) {unknown}")
        return v

    @field_validator("gaps", mode="before")
    @classmethod
    def _gap_shorthand(cls, v: Any) -> Any:
        return [{"source": g} if isinstance(g, str) else g for g in v] if isinstance(v, list) else v


class Rule(_Strict):
    id: str
    title: str = Field(min_length=5, max_length=140)
    category: Category
    confidence: Confidence
    priority: int = Field(default=50, ge=0, le=100)
    retryable: bool
    # Fires even when the job ended successfully (e.g. a silent CPU fallback).
    silent: bool = False
    # Matches a launcher's wrapper error (torchrun ChildFailedError, SageMaker
    # ExecuteUserScriptError) that reports another failure: its line never counts as the
    # log's final exception.
    wrapper: bool = False
    # Tolerant matching folds case by default; a rule whose patterns depend on case (a
    # log level in capitals, a CamelCase exception name) sets this.
    case_sensitive: bool = False
    requires: list[Source] = Field(default_factory=lambda: ["logs"])
    patterns: Patterns = Field(default_factory=Patterns)
    conditions: list[Condition] = Field(default_factory=list)
    explanation: str = Field(min_length=20)
    remediation: list[str] = Field(min_length=1)
    repro: list[str] = Field(default_factory=list)
    references: list[str] = Field(min_length=1)
    examples: list[Example] = Field(min_length=2)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("id must be lowercase letters, digits and hyphens")
        return v

    @field_validator("references")
    @classmethod
    def _https(cls, v: list[str]) -> list[str]:
        bad = [u for u in v if not u.startswith("https://")]
        if bad:
            raise ValueError(f"references must be https URLs: {bad}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if not self.patterns.positive() and not self.conditions:
            raise ValueError("a rule needs at least one `any`/`all` pattern or a condition")
        expects = {e.expect for e in self.examples}
        if not {"match", "no-match"} <= expects:
            raise ValueError("examples need at least one `match` and one `no-match`")
        self._check_placeholders()
        groups = {g for p in self.patterns.positive() for g in p.group_names}
        for c in self.conditions:
            if c.op == "group_not_in" and c.value not in groups:
                raise ValueError(f"condition group {c.value!r} is not a group of the patterns")
        return self

    def _check_placeholders(self) -> None:
        """Every placeholder names a fact or a group, and says what to show when absent.

        Facts are absent in log-only runs and a group is absent when another `any` pattern
        matched, so those need a `{name|fallback}` to read naturally either way.
        """
        groups: set[str] = set()
        for p in self.patterns.positive():
            groups |= p.group_names
        always: set[str] = set()
        for p in self.patterns.all:
            always |= p.group_names
        if self.patterns.any:
            always |= set.intersection(*(p.group_names for p in self.patterns.any))
        for text in [self.title, self.explanation, *self.remediation, *self.repro]:
            for m in _PLACEHOLDER.finditer(text):
                name, fallback = m.group(1), m.group(2)
                if "." in name and name not in FACTS:
                    raise ValueError(f"placeholder {{{name}}} is not a known fact")
                if "." not in name and name not in groups:
                    raise ValueError(
                        f"placeholder {{{name}}} is not a named group (?P<{name}>...) "
                        "of this rule's patterns"
                    )
                if fallback is None and ("." in name or name not in always):
                    raise ValueError(
                        f"placeholder {{{name}}} may be absent: give it a fallback, "
                        f"{{{name}|text shown when absent}}"
                    )


PLACEHOLDER = _PLACEHOLDER
