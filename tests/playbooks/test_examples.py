"""Every embedded playbook example is a test (semgrep-rules style `ruleid:` / `ok:`)."""

from __future__ import annotations

import pytest

from investigator.classifier import default_library, evaluate_example
from investigator.classifier.loader import load_rules

RULES = load_rules()
CASES = [(r, e) for r in RULES for e in r.examples]


@pytest.fixture(scope="module")
def library():
    return default_library()


@pytest.mark.parametrize(("rule", "example"), CASES, ids=[f"{r.id}::{e.name}" for r, e in CASES])
def test_example(rule, example, library):
    result = evaluate_example(rule, example, library)
    assert result.outcome == example.expect, (
        f"{rule.id}: expected {example.expect}, got {result.outcome}"
    )
    if example.expect in ("match", "cleared"):
        cited = "\n".join(h.text for h in result.cited)
        for needle in example.cites:
            assert needle in cited, f"{rule.id}: {needle!r} not in cited lines:\n{cited}"
