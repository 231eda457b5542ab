"""Deterministic ranking of matched rules into one finding and its runners-up.

The score weighs a rule's author-set priority (root causes above their consequences),
whether its evidence is the final exception of the log (what a cascade usually ends with),
and its confidence. Ties break on recency, specificity and finally the rule id.
`none` must be earned: failures followed by a successful job ending were handled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2

from investigator.classifier.evaluate import RuleResult
from investigator.classifier.scanner import Hit
from investigator.taxonomy import (
    JOB_FAILED_STATUSES,
    JOB_SUCCEEDED_STATUSES,
    SFN_FAILED_STATUSES,
    SFN_SUCCEEDED_STATUSES,
)

CONFIDENCE = {"high": 0.9, "medium": 0.75, "low": 0.55}
_LEVEL = {"high": 3, "medium": 2, "low": 1}
FINAL_BONUS = 15  # explaining the final exception is worth this many priority points
_CLOSE = 5  # a runner-up of another category this close makes us less sure
MAX_ALTERNATIVES = 5

_FAILED = {"sagemaker.status": JOB_FAILED_STATUSES, "sfn.status": SFN_FAILED_STATUSES}
_SUCCEEDED = {"sagemaker.status": JOB_SUCCEEDED_STATUSES, "sfn.status": SFN_SUCCEEDED_STATUSES}


@dataclass
class Scored:
    result: RuleResult
    score: int
    explains_final: bool
    confidence: float = 0.0
    why_lower: str = ""
    outlived: Hit | None = None  # the last progress line printed after it (went_on)
    read_by: Scored | None = None  # the rule whose category its message is in (message_decides)

    @property
    def sort_key(self) -> tuple:
        r = self.result
        tier = 0 if r.rule.category == "unknown" else 1
        return (
            -tier,
            -self.score,
            -r.last_order[0],
            -r.last_order[1],
            -len(r.cited),
            r.rule.id,
        )


@dataclass
class Ranked:
    top: Scored | None
    alternatives: list[Scored]
    handled: list[Scored]


def _fact_in(facts: dict[str, Any], table: dict[str, set[str]]) -> bool:
    return any(facts.get(k) in v for k, v in table.items())


FINAL_SPAN = 3  # continuation lines after the final exception line that still belong to it


def _continues(hit: Hit, terminal: Hit) -> bool:
    """Is `hit` part of the final exception's message on a following line?

    Only when the exception line itself carries no message (``AssertionError:``) or the
    following line is indented (``\tsize mismatch for ...``); another error printed right
    after the final exception is not its message.
    """
    if not 0 < hit.line - terminal.line <= FINAL_SPAN:
        return False
    return terminal.text.rstrip().endswith(":") or hit.text[:1] in (" ", "\t")


def _explains_final(result: RuleResult, terminal: Hit | None) -> bool:
    """Does the rule cite the final exception line of the log (or its message)?"""
    if terminal is None:
        return False
    return any(
        h.source == "logs"
        and h.stream == terminal.stream
        and (h.line == terminal.line or _continues(h, terminal))
        for h in result.cited
    )


def _score(result: RuleResult, terminal: Hit | None) -> Scored:
    final = _explains_final(result, terminal)
    rule = result.rule
    score = rule.priority + (FINAL_BONUS if final else 0) + 5 * _LEVEL[rule.confidence]
    return Scored(result, score, final)


def _only_logs(failure: RuleResult) -> bool:
    """Does the rule rest on log lines alone (no AWS status or reason), and not a silent one?"""
    hits = failure.cited
    return not failure.rule.silent and bool(hits) and all(h.source == "logs" for h in hits)


# A line that says its request will be tried again: a client's retry loop (huggingface_hub's
# "'<error>' thrown while requesting HEAD <url>" then "Retrying in 1s [Retry 1/5]", wandb's
# "Network error (ReadTimeout), entering retry loop", urllib3's "Retrying (Retry(total=2...))").
RETRIED = re2.compile(
    r"(?i)\b(?:retrying|will retry|retry in|entering retry loop|thrown while requesting)\b"
    r"|\[Retry \d+/\d+\]"
)


def _all_retried(failure: RuleResult) -> bool:
    """Does every line the rule cites announce a retry? Then, whatever the rule's confidence,
    it is weak evidence: whether the retries ran out is told by what follows."""
    return all(RETRIED.search(h.text) for h in failure.cited if h.source == "logs")


WENT_ON = 2  # progress lines after a failure line short of decisive: training went on past it
ProgressAfter = Callable[[Hit], list[Hit]]  # the progress lines after a line of the logs


def went_on(failure: RuleResult, progress_after: ProgressAfter) -> list[Hit]:
    """The progress lines printed after a non-decisive failure's last cited line, in the same log.

    Only evidence short of decisive (a low- or medium-confidence rule: a family's vocabulary,
    a generic failure marker, a pattern that names a cause but not that it stopped the job; or
    any rule whose every cited line announces a retry) can be outlived: a run that keeps
    reporting its loss after an `ERROR` line, a caught exception, a failed notebook `!pip` cell
    or a retried request was not stopped by it. Measured on the real-log sets (tests/corpus and
    every held-out wave): low only, no failing log lost; medium too (round 9), +4 healthy logs
    of four projects, none lost; high too, it lost two (NCCL socket and port-clash errors a
    launcher printed before its ranks' progress). Retried lines: +1 healthy (round 8).
    """
    if not _only_logs(failure):
        return []
    if failure.rule.confidence == "high" and not _all_retried(failure):
        return []
    last = max((h for h in failure.cited if h.source == "logs"), key=lambda h: h.order)
    after = progress_after(last)  # one hit per line, in line order
    return after if len(after) >= WENT_ON else []


def _handled(failure: RuleResult, last_success: tuple[int, int], *, failed: bool,
             completed: bool, job_completed: bool) -> bool:
    """Was this failure handled: the run completed, a success marker came after it, or it rests
    on the log of a job that Completed (even when the pipeline around it failed afterwards: a
    quality gate, a later state), or a later line says it resolved itself (cleared_by)?"""
    if failure.rule.silent:
        return False
    if completed or failure.cleared:
        return True
    if not _only_logs(failure):
        return False
    return job_completed or (not failed and failure.last_order < last_success)


def rank(
    results: list[RuleResult],
    facts: dict[str, Any],
    terminal: Hit | None,
    progress_after: ProgressAfter | None = None,
) -> Ranked:
    matched = [r for r in results if r.verdict == "match"]
    successes = [_score(r, terminal) for r in matched if r.rule.category == "none"]
    failures = [r for r in matched if r.rule.category != "none"]

    # Stopped by a person (pipeline: stop.by): the errors a stop causes were not the failure.
    stopped = bool(facts.get("stop.by"))
    failed = _fact_in(facts, _FAILED) and not stopped
    completed = (_fact_in(facts, _SUCCEEDED) or stopped) and not failed
    last_success = max((s.result.last_order for s in successes), default=(-1, -1))
    handled: list[Scored] = []
    live: list[Scored] = []
    job_completed = facts.get("sagemaker.status") in _SUCCEEDED["sagemaker.status"]
    for f in failures:
        scored = _score(f, terminal)
        if _handled(f, last_success, failed=failed, completed=completed,
                    job_completed=job_completed):
            handled.append(scored)
        elif not failed and progress_after and (later := went_on(f, progress_after)):
            scored.outlived = later[-1]
            handled.append(scored)
        else:
            live.append(scored)

    _let_message_decide(live)
    pool = live or successes
    pool.sort(key=lambda s: s.sort_key)
    handled.sort(key=lambda s: s.sort_key)
    top = pool[0] if pool else None
    alternatives = pool[1:MAX_ALTERNATIVES] + handled[: max(0, MAX_ALTERNATIVES - len(pool) + 1)]
    if top:
        _assign_confidence(top, alternatives, handled, stopped)
    else:
        for alt in handled:
            alt.why_lower = _why_handled(alt, stopped)
    return Ranked(top, alternatives, handled)


def _let_message_decide(live: list[Scored]) -> None:
    """Rank a `message_decides` rule (AssertionError) just below a rule of another category
    that cites one of its lines: the message, not the exception's type, names the category
    (`AssertionError: 96 is not divisible by 64` is a configuration value, `AssertionError:
    Annotation file ... not found` a path)."""
    for vehicle in (s for s in live if s.result.rule.message_decides):
        lines = _log_lines(vehicle)
        readers = [
            s for s in live
            if s.result.rule.category not in ("unknown", vehicle.result.rule.category)
            and lines & _log_lines(s)
        ]
        if readers:
            reader = max(readers, key=lambda s: s.score)
            vehicle.read_by = reader
            vehicle.score = min(vehicle.score, reader.score - 1)


def _log_lines(scored: Scored) -> set[tuple[str | None, int]]:
    return {(h.stream, h.line) for h in scored.result.cited if h.source == "logs"}


def _assign_confidence(top: Scored, alts: list[Scored], handled: list[Scored],
                       stopped: bool) -> None:
    rule = top.result.rule
    conf = CONFIDENCE[rule.confidence] + (0.05 if top.explains_final else 0.0)
    rival = next((a for a in alts if a.result.rule.category != rule.category), None)
    if rival and rival not in handled and top.score - rival.score < _CLOSE:
        conf -= 0.1
    if rule.category == "unknown":
        conf = min(conf, 0.5)
    top.confidence = round(min(0.99, max(0.3, conf)), 2)
    for alt in alts:
        gap = max(0, top.score - alt.score)
        c = CONFIDENCE[alt.result.rule.confidence] * max(0.3, 1 - gap / 100)
        alt.confidence = round(min(c, top.confidence - 0.01), 2)
        alt.why_lower = _why_lower(top, alt, alt in handled, stopped)


def _shown(hit: Hit) -> str:
    """A cited line as one short run of words, for a runner-up's reason."""
    return " ".join(hit.text.split())[:120]


def _why_handled(alt: Scored, stopped: bool) -> str:
    if stopped:
        return "the run was stopped on request; errors around a stop are its consequence"
    later = alt.result.cleared
    if later:
        return f"line {later.line} says it resolved itself: {_shown(later)}"
    if alt.outlived:
        return f"training went on after it (line {alt.outlived.line} reports progress: " \
            f"{_shown(alt.outlived)})"
    return "the job went on and ended successfully after this, so it was handled"


def _why_lower(top: Scored, alt: Scored, handled: bool, stopped: bool) -> str:
    if handled:
        return _why_handled(alt, stopped)
    a, t = alt.result.rule, top.result.rule
    if alt.read_by:
        reader = alt.read_by.result.rule
        return f"its exception type names no category; its message reads as {reader.category} " \
            f"({reader.id})"
    if a.category == "unknown" and t.category != "unknown":
        return "a generic failure marker; a specific rule explains the failure"
    reasons = []
    if a.priority < t.priority:
        reasons.append(
            f"usually a consequence rather than a cause (priority {a.priority} < {t.priority})"
        )
    if top.explains_final and not alt.explains_final:
        reasons.append("it is not the final error of the log")
    if not reasons and alt.result.last_order < top.result.last_order:
        reasons.append("matched earlier in the log than the chosen cause")
    if not reasons:
        reasons.append(f"lower score ({alt.score} < {top.score})")
    return "; ".join(reasons)
