"""The classifier: evidence in, ranked finding out. Deterministic, offline, no AWS calls."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import re2

from investigator.classifier.evaluate import CompiledRule, RuleResult, bind, evaluate
from investigator.classifier.loader import load_rules
from investigator.classifier.rank import ProgressAfter, Ranked, rank
from investigator.classifier.render import (
    cited_groups,
    fill,
    nothing_to_examine,
    render_finding,
    render_guess,
)
from investigator.classifier.scanner import (
    Hit,
    PatternSet,
    ScanStats,
    TextSource,
    bytes_chunks,
    tail_key,
)
from investigator.classifier.schema import Pattern, Rule
from investigator.classifier.tolerant import tolerant
from investigator.facts import FACTS
from investigator.models import (
    Alternative,
    Evidence,
    Gap,
    Inconclusive,
    Investigation,
    JobInfo,
    LogStream,
    as_datetime,
)

# Engine-internal pattern: the final line of a Python traceback (or any "XxxError: ..." line).
# The last such line in the logs is what a cascade of errors usually ends with.
TERMINAL = r"(?:^|[\s:>\]|`])(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception)(?::|$)"
# Python's sys.unraisablehook header, and its header for an atexit handler that raised: the
# traceback after either was printed and ignored (a __del__ or an exit callback failing at
# interpreter shutdown), not raised; neither changes the exit status (Python 3.10's What's New,
# bpo-42639: the exception of a failed atexit callback "is now logged", it was ignored
# before). Their lines are no failure.
IGNORED = tolerant(r"^(?:Exception ignored in\b|Error in atexit\._run_exitfuncs:)")
IGNORED_SPAN = 12  # lines an ignored traceback may take when its exception line is not seen
# How far below its header an ignored traceback's own exception line is looked for: a
# traceback of twenty frames (two lines each) still ends inside. Beyond IGNORED_SPAN the line
# must follow an indented frame line, so an error printed after a cut traceback stays an error.
IGNORED_SEARCH = 48
# A line of training progress: a loss or metric value, an epoch, step or iteration counter, a
# progress bar's rate or a percentage above 0. Progress printed after a non-decisive failure line
# shows that the failure did not stop training (rank.py, went_on). A non-finite loss is no
# progress (a diverging run), nor is a bar standing at 0% (a hang), nor Slurm naming a job
# step ("srun: Terminating job step 422332.0" as it kills a failed step's tasks).
PROGRESS = re2.compile(
    r"(?i)(?:(?:\b|_)loss\b['\"]?[ \t]*[:=]?[ \t]*\d"
    r"|\b(?:epoch|step|iter(?:ation)?)\b[ \t]*[:=\[]?[ \t]*\d"
    r"|\d(?:\.\d+)?[ \t]?it/s\b|s/it\]|\b(?:[1-9]\d?|100)%\|)"
)
NO_PROGRESS = re2.compile(r"(?i)\b(?:nan|inf|job step)\b")


@dataclass(frozen=True)
class Library:
    rules: tuple[CompiledRule, ...]
    patterns: PatternSet
    terminal: int
    ignored: int

    @classmethod
    def build(cls, rules: Sequence[Rule]) -> Library:
        """Compile every pattern once, through the tolerant rewrite (see tolerant.py)."""
        regexes: list[str] = []
        vetoes: list[tuple[str, ...]] = []
        index_of: dict[PatternKey, int] = {}
        for rule in rules:
            for key in scanner_keys(rule):
                if key not in index_of:
                    index_of[key] = len(regexes)
                    regexes.append(key[0])
                    vetoes.append(key[1])
        terminal = len(regexes)
        regexes += [TERMINAL, IGNORED]
        vetoes += [(), ()]
        compiled = tuple(bind(r, index_of, pattern_key, clearing_keys) for r in rules)
        return cls(compiled, PatternSet(regexes, vetoes), terminal, terminal + 1)


PatternKey = tuple[str, tuple[str, ...]]


def pattern_key(rule: Rule, pattern: Pattern) -> PatternKey:
    """The regex the scanner runs for a rule's pattern, and its line vetoes."""
    cs = rule.case_sensitive if pattern.case_sensitive is None else pattern.case_sensitive
    return (
        _tolerant(pattern.regex, cs),
        tuple(_tolerant(v, cs) for v in pattern.unless),
    )


def clearing_keys(rule: Rule, pattern: Pattern) -> list[PatternKey]:
    """The scanner's regexes for a pattern's `cleared_by` lines (no vetoes of their own)."""
    cs = rule.case_sensitive if pattern.case_sensitive is None else pattern.case_sensitive
    return [(_tolerant(rx, cs), ()) for rx in pattern.cleared_by]


def scanner_keys(rule: Rule) -> Iterator[PatternKey]:
    """Every regex the scanner runs for a rule: each pattern, then its `cleared_by` lines."""
    for p in (*rule.patterns.any, *rule.patterns.all, *rule.patterns.none):
        yield pattern_key(rule, p)
        yield from clearing_keys(rule, p)


@lru_cache(maxsize=4)
def default_library(root: str | None = None) -> Library:
    from investigator.classifier.cache import cached
    from investigator.classifier.loader import default_playbook_dir

    path = Path(root) if root else default_playbook_dir()
    rules = load_rules(path)
    # The tolerant rewrite of ~1,700 patterns is a fifth of start-up: cached by the same key.
    _REWRITTEN.update(cached(path, lambda _: _rewrite_all(rules), _is_pair, kind="patterns-"))
    return Library.build(rules)


# (regex, case_sensitive) -> what the scanner compiles; filled from the cache or on demand.
_REWRITTEN: dict[tuple[str, bool], str] = {}


def _tolerant(regex: str, case_sensitive: bool) -> str:
    key = (regex, case_sensitive)
    if key not in _REWRITTEN:
        _REWRITTEN[key] = tolerant(regex, case_sensitive=case_sensitive)
    return _REWRITTEN[key]


def _rewrite_all(rules: Sequence[Rule]) -> list[tuple[tuple[str, bool], str]]:
    for rule in rules:
        tuple(scanner_keys(rule))  # each key's rewrite lands in _REWRITTEN
    return list(_REWRITTEN.items())


def _is_pair(item: Any) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str)


def stream_source(stream: LogStream) -> TextSource:
    """A collected log stream as a scan source; multi-line events become several lines."""
    lines: list[str] = []
    stamps = []
    for ev in stream.events:
        for part in ev.message.split("\n"):
            lines.append(part)
            stamps.append(ev.timestamp)
    data = ("\n".join(lines) + "\n").encode("utf-8", errors="replace") if lines else b""
    return TextSource("logs", stream.name, bytes_chunks(data), stream.first_line, stamps)


def fact_sources(facts: dict[str, Any]) -> list[TextSource]:
    out = []
    for name, spec in FACTS.items():
        value = facts.get(name)
        if spec.text and isinstance(value, str) and value:
            out.append(
                TextSource(
                    name, name, bytes_chunks(value.encode("utf-8", errors="replace") + b"\n")
                )
            )
    return out


def classify(
    evidence: Evidence,
    library: Library | None = None,
    log_sources: Iterable[TextSource] | None = None,
    source_label: str | None = None,
) -> Investigation:
    """Classify evidence. `log_sources` streams big files instead of evidence.logs."""
    library = library or default_library()
    facts = dict(evidence.facts)
    logs = list(log_sources) if log_sources is not None else []
    logs += [stream_source(s) for s in evidence.logs]
    stats = ScanStats()
    hits = _without_ignored(library.patterns.scan([*logs, *fact_sources(facts)], stats), library)
    gap_sources = {g.source for g in evidence.gaps}
    results = [evaluate(c, hits, facts, gap_sources) for c in library.rules]
    terminal = _final_exception(hits.get(library.terminal, []), results)
    ranked = rank(results, facts, terminal, progress_reader(stats))
    inv = _investigation(evidence, ranked, results, facts, terminal, source_label)
    if ranked.top is None and not facts and stats.nothing_to_examine:
        return _no_input(inv, stats)
    # The model reads log text: without any (logs unreadable, a facts-only failure) the
    # honest answer stays `unknown` with what could not be ruled out.
    if inv.finding.category == "unknown" and ranked.top is not None and stats.has_text:
        return _learned_fallback(inv, stats)
    return inv


GENERIC_MARKER = "a generic failure marker: it says that the job failed, not why"


def _learned_fallback(inv: Investigation, stats: ScanStats) -> Investigation:
    """A failure no category rule explains: let the corpus-trained model guess, labelled so.

    Imported lazily: most investigations never need the model, and start-up time matters.
    """
    from investigator.classifier import fallback

    text = fallback_text(inv, stats)
    guessed = fallback.guess(text)
    if guessed is None:
        return inv
    unknown = inv.finding
    finding = render_guess(guessed, unknown)
    marker = Alternative(
        category="unknown",
        rule=unknown.rule,
        confidence=unknown.confidence,
        title=unknown.title,
        why_lower=GENERIC_MARKER,
    )
    # Every generic marker (the one that led, and others that fired too) says only that the
    # job failed: all rank below the guess, so the confidences stay on one scale.
    alternatives = [
        _below(alt, finding.confidence) if alt.category == "unknown" else alt
        for alt in [marker, *inv.alternatives]
    ]
    return inv.replace(finding=finding, alternatives=alternatives)


def _below(alt: Alternative, confidence: float) -> Alternative:
    return alt.replace(
        confidence=round(min(alt.confidence, confidence - 0.01), 2),
        why_lower=GENERIC_MARKER,
    )


def fallback_text(inv: Investigation, stats: ScanStats) -> str:
    """What the model reads: the telling lines with their context, then the end of the logs."""
    parts: list[str] = []
    for e in inv.finding.evidence:
        parts.extend([*e.before, e.text, *e.after])
    for name in ("sagemaker.failure_reason", "sfn.error", "sfn.cause"):
        value = inv.facts.get(name)
        if isinstance(value, str):
            parts.append(value)
    from investigator.classifier.fallback import MAX_CHARS

    head = "\n".join(parts)[-MAX_CHARS // 2 :]
    return head + "\n" + stats.tail_text()[-(MAX_CHARS - len(head)) :]


def _no_input(inv: Investigation, stats: ScanStats) -> Investigation:
    """Nothing was examined: a gap on the input and a low-confidence finding saying so."""
    binary = stats.binary_sources > 0
    code = "BinaryInput" if binary else "EmptyInput"
    message = (
        f"{stats.binary_sources} of {stats.log_sources} log source(s) are binary"
        if binary
        else f"the log holds no text ({stats.log_bytes} bytes, all whitespace)"
    )
    gap = Gap(source="logs", code=code, message=message)
    return inv.replace(finding=nothing_to_examine(binary), gaps=[*inv.gaps, gap])


def _without_ignored(hits: dict[int, list[Hit]], library: Library) -> dict[int, list[Hit]]:
    """Drop hits inside tracebacks Python printed as "Exception ignored in" (not raised)."""
    starts = [h for h in hits.get(library.ignored, []) if h.source == "logs"]
    if not starts:
        return hits
    terminals = [h for h in hits.get(library.terminal, []) if h.source == "logs"]
    spans = _ignored_spans(starts, terminals)

    def inside(h: Hit) -> bool:
        return h.source == "logs" and any(
            h.stream == stream and lo <= h.line <= hi for stream, lo, hi in spans
        )

    return {i: [h for h in hs if not inside(h)] for i, hs in hits.items()}


def _ignored_spans(starts: list[Hit], terminals: list[Hit]) -> list[tuple[str | None, int, int]]:
    """(stream, first line, last line) of each ignored traceback.

    Each one ends at its own exception line. When several processes print theirs interleaved
    (DataLoader workers torn down together), the second start takes the second exception
    line, and the interleaved block is as many tracebacks long.
    """
    spans = []
    used: set[tuple[str | None, int]] = set()
    for s in sorted(starts, key=lambda h: (h.stream or "", h.line)):
        near = sum(
            1 for o in starts if o.stream == s.stream and abs(o.line - s.line) <= IGNORED_SPAN
        )
        end = min(
            (
                t.line
                for t in terminals
                if t.stream == s.stream
                and s.line < t.line <= s.line + IGNORED_SEARCH * near
                and (t.line <= s.line + IGNORED_SPAN * near or _ends_traceback(t))
                and (t.stream, t.line) not in used
            ),
            default=s.line + IGNORED_SPAN * near,
        )
        used.add((s.stream, end))
        spans.append((s.stream, s.line, end))
    return spans


def progress_reader(stats: ScanStats) -> ProgressAfter:
    """For a hit, the lines of training progress after it in its log source, read from the tail
    the scan kept (the end of the log, where progress past a failure would be; no cost to the
    scan). Each source's tail is decoded and searched once, on the first question about it."""
    found: dict[str, list[tuple[int, str]]] = {}

    def after(hit: Hit) -> list[Hit]:
        key = tail_key(hit.stream, hit.order[0])
        if key not in found:
            found[key] = [
                (n, text)
                for n, text in stats.tail_lines(key)
                if PROGRESS.search(text) and not NO_PROGRESS.search(text)
            ]
        return [
            Hit(pattern=-1, source="logs", stream=hit.stream, line=n, order=(hit.order[0], n),
                text=text, span=None)
            for n, text in found[key]
            if n > hit.line
        ]

    return after


def _ends_traceback(hit: Hit) -> bool:
    """Does the line follow a traceback's indented frame or source line?"""
    return bool(hit.before) and hit.before[-1][:1] in (" ", "\t")


def _final_exception(hits: list[Hit], results: list[RuleResult]) -> Hit | None:
    """The last exception line of the logs that is not a launcher's wrapper error."""
    wrapped = {
        (h.stream, h.line)
        for r in results
        if r.verdict == "match" and r.rule.wrapper
        for h in r.cited
    }
    logs = [h for h in hits if h.source == "logs" and (h.stream, h.line) not in wrapped]
    return max(logs, key=lambda h: h.order) if logs else None


def _inconclusive(
    results: list[RuleResult], evidence: Evidence, facts: dict[str, Any]
) -> list[Inconclusive]:
    perms: dict[str, list[str]] = {}
    for g in evidence.gaps:
        if g.missing_permission:
            perms.setdefault(g.source, []).append(g.missing_permission)
    out = []
    for r in results:
        if r.verdict == "inconclusive":
            needed = sorted({p for s in r.missing_sources for p in perms.get(s, [])})
            out.append(
                Inconclusive(
                    category=r.rule.category,
                    rule=r.rule.id,
                    title=fill(r.rule.title, {}, facts),
                    missing_sources=r.missing_sources,
                    missing_permissions=needed,
                )
            )
    return out


def _job_info(facts: dict[str, Any]) -> JobInfo | None:
    if "sagemaker.job_name" not in facts:
        return None
    return JobInfo(
        name=facts.get("sagemaker.job_name"),
        arn=facts.get("sagemaker.job_arn"),
        kind=facts.get("sagemaker.job_kind"),
        status=facts.get("sagemaker.status"),
        secondary_status=facts.get("sagemaker.secondary_status"),
        failure_reason=facts.get("sagemaker.failure_reason"),
        instance_type=facts.get("sagemaker.instance_type"),
        instance_count=facts.get("sagemaker.instance_count"),
        image=facts.get("sagemaker.image"),
        created=as_datetime(facts.get("sagemaker.created")),
        started=as_datetime(facts.get("sagemaker.started")),
        ended=as_datetime(facts.get("sagemaker.ended")),
    )


def _investigation(
    evidence: Evidence,
    ranked: Ranked,
    results: list[RuleResult],
    facts: dict[str, Any],
    terminal: Hit | None,
    source_label: str | None,
) -> Investigation:
    finding = render_finding(ranked, facts, terminal)
    alternatives = [
        Alternative(
            category=alt.result.rule.category,
            rule=alt.result.rule.id,
            confidence=alt.confidence,
            title=fill(alt.result.rule.title, cited_groups(alt.result.cited), facts),
            why_lower=alt.why_lower,
        )
        for alt in ranked.alternatives
    ]
    return Investigation(
        source=source_label or evidence.target.name,
        target=evidence.target,
        finding=finding,
        alternatives=alternatives,
        inconclusive=_inconclusive(results, evidence, facts),
        failed_state=facts.get("sfn.failed_state"),
        job=_job_info(facts),
        facts=facts,
        timeline=evidence.timeline,
        gaps=evidence.gaps,
        changes=evidence.changes,
        last_good=evidence.last_good,
        api_calls=evidence.api_calls,
        elapsed_s=evidence.elapsed_s,
    )
