"""Per-rule logic, run only on what the pattern set found: any/all/none, window, conditions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import re2

from investigator.classifier.scanner import Hit
from investigator.classifier.schema import LINE_OPERATORS, Condition, Pattern, Rule
from investigator.facts import source_of

Verdict = Literal["match", "no-match", "inconclusive"]


@dataclass(frozen=True)
class Item:
    """A rule's pattern bound to its index in the shared pattern set."""

    pattern: int
    sources: frozenset[str]


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    any: tuple[Item, ...]
    all: tuple[Item, ...]
    none: tuple[Item, ...]
    # pattern index -> indexes of the patterns whose later lines clear its hits (cleared_by)
    clears: dict[int, tuple[int, ...]] = field(default_factory=dict)


@dataclass
class RuleResult:
    rule: Rule
    verdict: Verdict
    cited: list[Hit] = field(default_factory=list)
    missing_sources: list[str] = field(default_factory=list)
    # The latest of the lines that say every cited line resolved itself (cleared_by).
    cleared: Hit | None = None

    @property
    def outcome(self) -> str:
        """The verdict, or `cleared` for a match whose cited lines all resolved themselves."""
        return "cleared" if self.verdict == "match" and self.cleared else self.verdict

    @property
    def last_order(self) -> tuple[int, int]:
        return max((h.order for h in self.cited if h.source == "logs"), default=(-1, -1))


def bind(
    rule: Rule,
    index_of: dict[Any, int],
    key: Callable[[Rule, Pattern], Any],
    clearing: Callable[[Rule, Pattern], list[Any]],
) -> CompiledRule:
    def items(patterns: list[Pattern]) -> tuple[Item, ...]:
        return tuple(Item(index_of[key(rule, p)], frozenset(p.in_)) for p in patterns)

    p = rule.patterns
    clears = {
        index_of[key(rule, x)]: tuple(index_of[k] for k in clearing(rule, x))
        for x in p.positive()
        if x.cleared_by
    }
    return CompiledRule(rule, items(p.any), items(p.all), items(p.none), clears)


# A Python warning record ("UserWarning: ...", "FutureWarning: ..."): the warnings module
# prints it and the program goes on. A weak rule (low confidence: a family's vocabulary, a
# generic marker) does not rest on one; a specific rule may (a CPU-only wheel's warning).
# Measured over tests/corpus and every held-out wave: +1 healthy, no failing log lost.
PYTHON_WARNING = re2.compile(r"\b[A-Z]\w*Warning: ")


def _hits(item: Item, hits: dict[int, list[Hit]], weak: bool = False) -> list[Hit]:
    found = [h for h in hits.get(item.pattern, ()) if h.source in item.sources]
    if weak:
        return [h for h in found if h.source != "logs" or not PYTHON_WARNING.search(h.text)]
    return found


def check_condition(cond: Condition, facts: dict[str, Any]) -> bool:
    value = facts.get(cond.fact)
    if cond.op == "exists":
        return (value is not None) == cond.value
    if value is None:
        return cond.if_missing
    try:
        if cond.op == "equals":
            return value == cond.value
        if cond.op == "in":
            return value in cond.value
        if cond.op == "matches":
            return re2.search(cond.value, str(value)) is not None
        if cond.op == "gt":
            return float(value) > cond.value
        if cond.op == "lt":
            return float(value) < cond.value
    except (TypeError, ValueError):
        return False
    return False


def _names(value: Any) -> set[str]:
    if isinstance(value, dict):
        value = list(value)
    items = value if isinstance(value, list) else [value]
    return {_norm(str(x)) for x in items}


def _norm(name: str) -> str:
    # `learning-rate` in the job and `learning_rate` in argparse's message are one name.
    return name.strip().strip("-").lower().replace("-", "_")


def _tokens(text: str) -> set[str]:
    """Whole words of a (bounded) cited line; no regex on log text here."""
    return {_norm(t) for t in "".join(c if c.isalnum() or c in "_-" else " " for c in text).split()}


def check_line_condition(cond: Condition, cited: list[Hit], facts: dict[str, Any]) -> bool:
    """A condition that joins a fact with the lines the rule cites (LINE_OPERATORS)."""
    value = facts.get(cond.fact)
    if value is None:
        return cond.if_missing
    names = _names(value)
    if cond.op == "token_in_line":
        return any(names & _tokens(h.text) for h in cited if h.source == "logs")
    captured = [h.groups[cond.value] for h in cited if h.groups.get(cond.value)]
    return any(_norm(c) not in names for c in captured)


def _within_window(groups: list[list[Hit]], window: int) -> list[Hit] | None:
    """One hit per group, all in the same stream and within `window` lines, if possible."""
    for anchor in groups[0]:
        chosen = [anchor]
        for other in groups[1:]:
            near = [
                h
                for h in other
                if h.source == anchor.source
                and h.stream == anchor.stream
                and abs(h.line - anchor.line) <= window
            ]
            if not near:
                break
            chosen.append(max(near, key=lambda h: h.order))
        else:
            return chosen
    return None


def evaluate(
    crule: CompiledRule,
    hits: dict[int, list[Hit]],
    facts: dict[str, Any],
    gap_sources: set[str],
) -> RuleResult:
    rule = crule.rule
    missing = [s for s in rule.requires if s in gap_sources]
    no = RuleResult(rule, "inconclusive" if missing else "no-match", missing_sources=missing)

    if any(_hits(i, hits) for i in crule.none):
        return RuleResult(rule, "no-match")
    failed = [
        c for c in rule.conditions if c.op not in LINE_OPERATORS and not check_condition(c, facts)
    ]
    if failed:
        return _failed(rule, failed, facts, gap_sources, missing)

    weak = rule.confidence == "low"
    any_hits = [h for i in crule.any for h in _hits(i, hits, weak)]
    all_groups = [_hits(i, hits, weak) for i in crule.all]
    if (crule.any and not any_hits) or any(not g for g in all_groups):
        return no

    cited: list[Hit]
    window = rule.patterns.window
    if window and (len(all_groups) + bool(crule.any)) > 1:
        groups = ([any_hits] if crule.any else []) + all_groups
        chosen = _within_window(groups, window)
        if chosen is None:
            return no
        cited = chosen
    else:
        cited = [*any_hits, *(h for g in all_groups for h in g)]
    cleared = _cleared(crule, hits, cited)
    cited = _dedupe(cited)
    late = [
        c
        for c in rule.conditions
        if c.op in LINE_OPERATORS and not check_line_condition(c, cited, facts)
    ]
    if late:
        return _failed(rule, late, facts, gap_sources, missing)
    return RuleResult(rule, "match", cited=cited, cleared=cleared)


def _cleared(crule: CompiledRule, hits: dict[int, list[Hit]], cited: list[Hit]) -> Hit | None:
    """The last of the lines that clear every cited line, or None when one is not cleared.

    A cited line is cleared when a hit on it has a `cleared_by` line later in the same log
    stream (for the same `object`, when both name one)."""
    if not crule.clears:
        return None
    by_line: dict[LineKey, list[Hit]] = {}
    for h in cited:
        by_line.setdefault(_line_of(h), []).append(h)
    clearing: list[Hit] = []
    for line_hits in by_line.values():
        found = [c for h in line_hits if (c := _first_clearing(crule, hits, h)) is not None]
        if not found:
            return None
        clearing.append(min(found, key=lambda c: c.order))
    return max(clearing, key=lambda c: c.order)


def _first_clearing(crule: CompiledRule, hits: dict[int, list[Hit]], hit: Hit) -> Hit | None:
    if hit.source != "logs":
        return None
    name = hit.groups.get("object")
    later = [
        c
        for i in crule.clears.get(hit.pattern, ())
        for c in hits.get(i, ())
        if c.source == "logs" and c.stream == hit.stream and c.order > hit.order
        and (name is None or c.groups.get("object") in (None, name))
    ]
    return min(later, key=lambda c: c.order, default=None)


def _failed(
    rule: Rule, failed: list[Condition], facts: dict[str, Any], gap_sources: set[str],
    missing: list[str],
) -> RuleResult:
    """A condition failed; a fact absent because its source could not be read: inconclusive."""
    unread = sorted(
        {src for c in failed if c.fact not in facts and (src := source_of(c.fact)) in gap_sources}
    )
    if unread:
        return RuleResult(rule, "inconclusive", missing_sources=sorted({*missing, *unread}))
    return RuleResult(rule, "no-match")


LineKey = tuple[str, str | None, int]


def _line_of(hit: Hit) -> LineKey:
    """The line a hit is on (several patterns may hit one line)."""
    return (hit.source, hit.stream, hit.line)


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """One hit per line; named groups of every pattern that hit the line are kept."""
    by_line: dict[LineKey, Hit] = {}
    for h in sorted(hits, key=lambda h: h.order):
        key = _line_of(h)
        first = by_line.get(key)
        if first is None:
            by_line[key] = h
        elif h.groups:
            by_line[key] = replace(first, groups={**h.groups, **first.groups})
    return list(by_line.values())
