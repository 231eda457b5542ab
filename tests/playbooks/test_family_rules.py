"""Family rules: every failure category has a low-priority rule for its vocabulary, and
specific rules still win where they fire (issue 10, items 3 and 8)."""

from __future__ import annotations

import pytest

from investigator.classifier import classify, default_library, example_evidence
from investigator.classifier.loader import load_rules
from investigator.models import CATEGORIES

RULES = load_rules()
FAMILY = [r for r in RULES if "-family-" in r.id]
FAILURE_CATEGORIES = [c for c in CATEGORIES if c not in ("none", "unknown")]


def test_every_failure_category_has_a_family_rule() -> None:
    assert {r.category for r in FAMILY} == set(FAILURE_CATEGORIES)


@pytest.mark.parametrize("rule", FAMILY, ids=[r.id for r in FAMILY])
def test_family_rule_shape(rule) -> None:
    specific = [
        r.priority for r in RULES
        if r not in FAMILY and r.category not in ("none", "unknown") and not r.wrapper
    ]
    assert rule.confidence == "low"
    assert rule.priority < min(specific), "a family rule must rank below every specific rule"
    assert "family" in rule.title.lower(), "the title names the failure family it covers"
    matches = [e for e in rule.examples if e.expect == "match"]
    assert len(matches) >= 2 and len({e.log for e in matches}) == len(matches)
    assert any(e.expect == "no-match" for e in rule.examples)


@pytest.mark.parametrize("rule", FAMILY, ids=[r.id for r in FAMILY])
def test_family_vocabulary_lands_in_its_category(rule) -> None:
    """On its own examples, the whole library puts the log in the family's category."""
    lib = default_library()
    for ex in rule.examples:
        if ex.expect == "match":
            inv = classify(example_evidence(ex), lib)
            assert inv.finding.category == rule.category, (ex.name, inv.finding.rule)


SPECIFIC_EXAMPLES = [
    (r, e)
    for r in RULES
    if r not in FAMILY and r.category not in ("none", "unknown") and not r.wrapper
    for e in r.examples
    if e.expect == "match" and e.log and not e.facts and not e.gaps
]


@pytest.mark.parametrize(
    ("rule", "example"), SPECIFIC_EXAMPLES, ids=[f"{r.id}::{e.name}" for r, e in SPECIFIC_EXAMPLES]
)
def test_specific_rules_win_over_families(rule, example) -> None:
    inv = classify(example_evidence(example), default_library())
    assert "-family-" not in inv.finding.rule, (
        f"{rule.id}'s own example is explained by {inv.finding.rule}"
    )
