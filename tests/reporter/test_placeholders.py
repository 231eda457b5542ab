"""No placeholder ever leaks: every playbook's words, filled with no facts and no captured
groups (the worst case: a rule left open by an unread source, or the runbook), read as
plain sentences in every output: no `(unknown)`, no `{name}`, no `{name|fallback}`."""

from __future__ import annotations

import html

import pytest

from investigator.classifier.loader import load_rules
from investigator.classifier.render import fill
from investigator.classifier.schema import PLACEHOLDER
from investigator.models import Finding, Inconclusive, Investigation, Target
from investigator.reporter import render
from investigator.reporter.runbook import render_runbook

RULES = load_rules()
# Left-overs of a dropped value: empty brackets or quotes, a doubled space.
LEFTOVERS = ("()", "( ", "''", '""', "  ")


def _leaks(text: str) -> list[str]:
    found = [m.group(0) for m in PLACEHOLDER.finditer(text)]
    return found + [s for s in ("(unknown)", "|fallback") if s in text]


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_every_text_of_every_playbook_reads_without_its_values(rule):
    for text in [rule.title, rule.explanation, *rule.remediation]:
        filled = fill(text, {}, {})
        assert not _leaks(filled), (text, filled)
        assert not [s for s in LEFTOVERS if filled.count(s) > text.count(s)], (text, filled)
    title = fill(rule.title, {}, {})
    assert title
    assert not title.rstrip().endswith((" to", " at", " on", " in", " of", " the", ":"))


def _open_everything() -> Investigation:
    """A log investigation whose verdict and every rule left open are filled without values."""
    top = RULES[0]
    finding = Finding(
        category=top.category, rule=top.id, title=fill(top.title, {}, {}), confidence=0.9,
        confidence_label="high", retryable=False,
        explanation=fill(top.explanation, {}, {}),
        remediation=[fill(s, {}, {}) for s in top.remediation],
    )
    return Investigation(
        source="job.log", target=Target(kind="log", name="job.log"), finding=finding,
        inconclusive=[
            Inconclusive(category=r.category, rule=r.id, title=fill(r.title, {}, {}),
                         missing_sources=["logs"])
            for r in RULES
        ],
    )


@pytest.mark.parametrize("fmt", ["text", "md", "html", "json"])
def test_no_output_format_leaks_a_placeholder(fmt):
    out = render(_open_everything(), fmt)
    assert not _leaks(out)


def test_the_runbook_leaks_no_placeholder():
    # Example log lines are real logs: Python source in a traceback may hold `{lr}`.
    log_lines = {ln for r in RULES for ex in r.examples for ln in ex.log.splitlines() if ln}
    for path, text in render_runbook(RULES).items():
        for line in sorted(log_lines, key=len, reverse=True):
            text = text.replace(line, "").replace(html.escape(line, quote=True), "")
            text = text.replace(line.strip(), "").replace(html.escape(line.strip()), "")
        assert not _leaks(text), (path, _leaks(text)[:5])
