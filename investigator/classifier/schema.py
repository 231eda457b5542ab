"""Typed schema of a playbook rule (one YAML file per rule).

Validation happens at load time (`parse_rule`) so a broken rule is a load error naming the
file and the field, never a rule that silently never matches. The rules are frozen
dataclasses: pydantic checks the types of a YAML mapping against them (it validates stdlib
dataclasses and runs their `__post_init__` checks), but a cached rule set loads without
importing pydantic at all (start-up time of `investigate log`).
"""

from __future__ import annotations

import re
from dataclasses import field
from typing import Any, Literal

import re2

from investigator.facts import DEFAULT_PATTERN_SOURCES, FACTS, TEXT_SOURCES
from investigator.models import Category, Model, Source, model_class, validate

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
# `cleared`: the rule matches, but later lines say what it cited resolved itself (cleared_by).
Expect = Literal["match", "no-match", "inconclusive", "cleared"]

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
# {name} or {name|text used when the value is absent}; ${VAR} in shell text is left alone.
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][\w.]*)(?:\|([^{}]*))?\}")


def _check_regex(pattern: str) -> str:
    try:
        re2.compile(pattern)
    except re2.error as exc:
        raise ValueError(f"bad regex {pattern!r}: {exc}") from None
    return pattern


def _check_length(name: str, value: Any, low: int, high: int | None = None) -> None:
    if len(value) < low or (high is not None and len(value) > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must have {bound} items or characters, got {len(value)}")


def _check_range(name: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")


@model_class
class Pattern(Model):
    """One regex (RE2 syntax, matched per line) and the text sources it is searched in.

    Matching is tolerant (investigator/classifier/tolerant.py): case-insensitive, any
    spacing around ": ", known line prefixes before a leading ^. `case_sensitive: true`
    (here or on the rule) opts out of case folding; `unless` lists regexes that, when they
    also match the same line, make that line not a hit (e.g. pip's resolver notice for a
    generic "ERROR:" pattern). `cleared_by` lists regexes of a later line of the same log
    stream saying that the state this pattern matched resolved itself (a pod `Scheduled` after
    `FailedScheduling`); when both name a group `object`, they must capture the same name (the
    same pod). A rule whose every cited line is cleared ranks as handled. In YAML the sources
    are written `in:`.
    """

    regex: str
    in_: tuple[str, ...] = DEFAULT_PATTERN_SOURCES
    case_sensitive: bool | None = None  # None: the rule's setting
    unless: tuple[str, ...] = ()
    cleared_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_regex(self.regex)
        for x in (*self.unless, *self.cleared_by):
            _check_regex(x)
        unknown = [s for s in self.in_ if s not in TEXT_SOURCES]
        if unknown:
            raise ValueError(f"unknown pattern source(s) {unknown}; known: {list(TEXT_SOURCES)}")

    @property
    def group_names(self) -> set[str]:
        return set(re2.compile(self.regex).groupindex)


@model_class
class Patterns(Model):
    any: list[Pattern] = field(default_factory=list)
    all: list[Pattern] = field(default_factory=list)
    none: list[Pattern] = field(default_factory=list)
    # When set, the hits of `all` (and one of `any`) must lie within this many lines.
    window: int | None = None

    def __post_init__(self) -> None:
        _check_range("window", self.window, 1, 100_000)

    def positive(self) -> list[Pattern]:
        return [*self.any, *self.all]


@model_class
class Condition(Model):
    fact: str
    op: Operator
    value: Any = True
    # What the condition evaluates to when the fact is absent (log-only investigations).
    if_missing: bool = False

    def __post_init__(self) -> None:
        if self.fact not in FACTS:
            raise ValueError(f"unknown fact {self.fact!r} (not in investigator.facts.FACTS)")
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


@model_class
class ExampleGap(Model):
    source: Source
    code: str = "AccessDenied"
    missing_permission: str | None = None


@model_class
class Example(Model):
    name: str
    expect: Expect
    log: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    gaps: list[ExampleGap] = field(default_factory=list)
    cites: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = [k for k in self.facts if k not in FACTS]
        if unknown:
            raise ValueError(f"unknown fact(s) {unknown}")


@model_class
class Rule(Model):
    id: str
    title: str
    category: Category
    confidence: Confidence
    priority: int = 50
    retryable: bool
    # Fires even when the job ended successfully (e.g. a silent CPU fallback).
    silent: bool = False
    # Matches a launcher's wrapper error (torchrun ChildFailedError, SageMaker
    # ExecuteUserScriptError) that reports another failure: its line never counts as the
    # log's final exception.
    wrapper: bool = False
    # The exception's type says nothing of a category (AssertionError): when a rule of
    # another category reads the same cited line, its message decides and this rule ranks
    # below that rule.
    message_decides: bool = False
    # Tolerant matching folds case by default; a rule whose patterns depend on case (a
    # log level in capitals, a CamelCase exception name) sets this.
    case_sensitive: bool = False
    requires: list[Source] = field(default_factory=lambda: ["logs"])
    patterns: Patterns = field(default_factory=Patterns)
    conditions: list[Condition] = field(default_factory=list)
    explanation: str
    remediation: list[str]
    repro: list[str] = field(default_factory=list)
    references: list[str]
    examples: list[Example]

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError("id must be lowercase letters, digits and hyphens")
        _check_length("title", self.title, 5, 140)
        _check_range("priority", self.priority, 0, 100)
        _check_length("explanation", self.explanation, 20)
        _check_length("remediation", self.remediation, 1)
        _check_length("references", self.references, 1)
        _check_length("examples", self.examples, 2)
        bad = [u for u in self.references if not u.startswith("https://")]
        if bad:
            raise ValueError(f"references must be https URLs: {bad}")
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


def parse_rule(data: dict[str, Any]) -> Rule:
    """A rule from its YAML mapping; raises pydantic.ValidationError naming the field.

    pydantic is imported only here, when a playbook is read from YAML (a cache miss): it
    refuses keys the schema does not know (`Model.__pydantic_config__`)."""
    return validate(Rule, _shorthands(data))


def _shorthands(data: Any) -> Any:
    """The YAML conveniences: a pattern may be a bare regex string (its sources under `in`),
    an example's gap a bare source name."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    patterns = out.get("patterns")
    if isinstance(patterns, dict):
        lists = ("any", "all", "none")
        out["patterns"] = {
            k: [_pattern(x) for x in v] if k in lists and isinstance(v, list) else v
            for k, v in patterns.items()
        }
    examples = out.get("examples")
    if isinstance(examples, list):
        out["examples"] = [_example(e) for e in examples]
    return out


def _pattern(value: Any) -> Any:
    if isinstance(value, str):
        return {"regex": value}
    if isinstance(value, dict) and "in" in value:
        value = {("in_" if k == "in" else k): v for k, v in value.items()}
    return value


def _example(value: Any) -> Any:
    if isinstance(value, dict) and isinstance(value.get("gaps"), list):
        gaps = [{"source": g} if isinstance(g, str) else g for g in value["gaps"]]
        return {**value, "gaps": gaps}
    return value
