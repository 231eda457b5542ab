"""Turn the ranked top rule into a Finding: fill placeholders, pick the cited lines."""

from __future__ import annotations

from typing import Any

import re2

from investigator.classifier.fallback import RULE_ID as FALLBACK_RULE
from investigator.classifier.fallback import Guess
from investigator.classifier.rank import Ranked, Scored
from investigator.classifier.scanner import Hit
from investigator.classifier.schema import PLACEHOLDER
from investigator.models import EvidenceLine, Finding

MAX_CITED = 6
# A value that is missing (and has no fallback) is dropped with the words that only framed
# it, so "Python module '{module}' is not installed" reads "Python module is not installed".
_GONE = "\ue000"
_FRAMED = [
    re2.compile(r"\s*\(\s*['\"]?" + _GONE + r"[^()]*\)"),  # "({code} on x)": all of it
    re2.compile(r"\s*'" + _GONE + "'|\\s*\"" + _GONE + '"'),
    re2.compile(r"\s+(?:to|at|on|in|from|under|of|for|with|by|after)\s+" + _GONE),
    re2.compile(r"\s*:\s*" + _GONE + r"\s*$"),
    re2.compile(_GONE),
]
_SPACES = re2.compile(r"  +")
_SPACE_PUNCT = re2.compile(r" ([,.;:)])")


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


# Values pasted into repro commands must not turn a copied command into an injected one.
# Quoting cannot compose with quotes the playbook author already wrote around a
# placeholder, so anything beyond these characters is replaced by a harmless marker.
_SHELL_SAFE = re2.compile(r"^[A-Za-z0-9_./:=@%+,-]+$")
UNSAFE_VALUE = "'<value omitted: unsafe for a shell>'"


def fill(text: str, groups: dict[str, str], facts: dict[str, Any], *, shell: bool = False) -> str:
    """Replace {group} with a regex capture and {fact.path} with the job's own fact; a
    missing value takes its fallback, or is left out with the words that framed it."""

    def repl(m) -> str:
        name, default = m.group(1), m.group(2)
        value = facts.get(name) if "." in name else groups.get(name)
        if value in (None, "", [], {}):
            return default or _GONE
        out = _fmt(value)
        if shell and not _SHELL_SAFE.match(out):
            return UNSAFE_VALUE
        return out.replace(_GONE, "")

    filled = PLACEHOLDER.sub(repl, text)
    return _without_gaps(filled) if _GONE in filled else filled


def _without_gaps(text: str) -> str:
    for pattern in _FRAMED:
        text = pattern.sub("", text)
    return _SPACE_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip()


def cited_groups(cited: list[Hit]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for hit in sorted(cited, key=lambda h: h.order, reverse=True):  # latest hit wins
        for k, v in hit.groups.items():
            merged.setdefault(k, v)
    return merged


def evidence_line(hit: Hit) -> EvidenceLine:
    return EvidenceLine(
        source=hit.source,
        stream=hit.stream,
        line=hit.line,
        text=hit.text,
        timestamp=hit.timestamp,
        before=list(hit.before),
        after=list(hit.after),
        span=hit.span,
    )


def _cited(scored: Scored, terminal: Hit | None) -> list[EvidenceLine]:
    hits = sorted(scored.result.cited, key=lambda h: h.order)
    # Keep the earliest hit (where it started) and the latest ones (where it ended).
    chosen = hits if len(hits) <= MAX_CITED else [hits[0], *hits[-(MAX_CITED - 1) :]]
    unknown = scored.result.rule.category == "unknown"
    if unknown and terminal is not None and all(h.order != terminal.order for h in chosen):
        chosen = [*chosen[-(MAX_CITED - 1) :], terminal]
    return [evidence_line(h) for h in chosen]


# Measured on every blind wave of real logs (docs/corpus-scores.md): with no failure marker at
# all, this is the least reliable verdict; about one such log in four was a failure in a shape
# no playbook knows yet. The reader is told so instead of being handed a clean bill of health.
UNSEEN_SHAPE_NOTE = (
    " Absence of a marker is not proof of success: on real logs from new sources this verdict is"
    " the least reliable one, because a failure no playbook knows yet (a job that stops, a"
    " scheduler or service message in its own words) looks the same."
)

FINISHED_NOTE = " Errors were printed but the job carried on and finished, so they were handled."
# went_on (rank.py) only shows that training reported progress after the errors, not that it
# ended well: the reader is not told the job finished.
WENT_ON_NOTE = (
    " Errors were printed but training went on past them (progress is reported after the last"
    " one), so they were handled; whether the run finished is not in the evidence."
)


def _no_failure(ranked: Ranked) -> Finding:
    note = UNSEEN_SHAPE_NOTE
    if ranked.handled:
        note = WENT_ON_NOTE if all(s.outlived for s in ranked.handled) else FINISHED_NOTE
    return Finding(
        category="none",
        rule="no-failure-evidence",
        title="No failure found in the evidence",
        confidence=0.6,
        confidence_label="medium",
        retryable=False,
        explanation=(
            "No playbook matched and no failure marker (traceback, fatal error, non-zero exit, "
            "failed job status) was found in the evidence." + note
        ),
        remediation=[
            "Nothing to fix from this evidence. If the run still misbehaved, check that the "
            "logs cover the failure (the tail of every host's stream) and investigate again.",
            "If the job is known to have failed, read the last lines of each host's log and the "
            "platform's status reason: that shape is one to add to the playbooks.",
        ],
    )


NO_INPUT_RULE = "no-input-to-examine"


def nothing_to_examine(binary: bool) -> Finding:
    """Empty, blank or binary input: say so instead of "no failure" (a gap, not a verdict)."""
    what = "is binary, not a text log" if binary else "is empty or holds only whitespace"
    return Finding(
        category="unknown",
        rule=NO_INPUT_RULE,
        title=f"Nothing to examine: the input {what}",
        confidence=0.1,
        confidence_label="low",
        retryable=False,
        explanation=(
            f"The evidence {what}, so no failure could be looked for. This is not a "
            "verdict that the job was healthy."
        ),
        remediation=[
            "Check that the right file or log stream was given (not a compressed archive "
            "without a .gz suffix, not a stream that was still empty) and investigate again.",
        ],
    )


def render_guess(guess: Guess, unknown: Finding) -> Finding:
    """The learned fallback's category, worded as the statistical guess it is."""
    words = ", ".join(f"'{t}'" for t in guess.terms) or "the log's vocabulary"
    return Finding(
        category=guess.category,  # type: ignore[arg-type]
        rule=FALLBACK_RULE,
        title=f"Statistical guess: {guess.category} (no rule explains this failure)",
        confidence=guess.confidence,
        confidence_label="low",
        retryable=False,
        explanation=(
            f"A failure is present ({unknown.title}), but no playbook rule explains it. A model "
            f"trained on the labelled real-log corpus (TF-IDF + logistic regression) guesses "
            f"'{guess.category}' with probability {guess.probability:.2f} (next: "
            f"'{guess.runner_up}', {guess.runner_up_probability:.2f}), from words such as "
            f"{words}. This is a statistical hint, not a diagnosis: read the cited lines."
        ),
        remediation=[
            *unknown.remediation,
            "If this failure repeats, add a playbook rule for it so the next one is explained.",
        ],
        evidence=unknown.evidence,
        references=unknown.references,
    )


def render_finding(ranked: Ranked, facts: dict[str, Any], terminal: Hit | None) -> Finding:
    top = ranked.top
    if top is None:
        return _no_failure(ranked)
    rule = top.result.rule
    groups = cited_groups(top.result.cited)
    return Finding(
        category=rule.category,
        rule=rule.id,
        title=fill(rule.title, groups, facts),
        confidence=top.confidence,
        confidence_label=rule.confidence,
        retryable=rule.retryable,
        explanation=fill(rule.explanation.strip(), groups, facts),
        remediation=[fill(s, groups, facts) for s in rule.remediation],
        evidence=_cited(top, terminal),
        repro=[fill(s, groups, facts, shell=True) for s in rule.repro],
        references=list(rule.references),
    )
