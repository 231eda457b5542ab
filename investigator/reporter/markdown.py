"""Markdown for tickets: paste it into an issue and every part still reads right.

Prose is backslash-escaped (no raw HTML, links or emphasis from log text), identifiers go
in code spans, log lines in fenced blocks whose fence is longer than any backtick run in
them, and table cells escape `|` and newlines, so hostile text cannot break the layout.
"""

from __future__ import annotations

from investigator.fleet.history import history_line
from investigator.models import Investigation
from investigator.reporter import timeline
from investigator.reporter.safe_text import neutralise_model, one_line
from investigator.reporter.text import (
    Block,
    category_family,
    changes_rows,
    cited_label,
    code_spans,
    evidence_blocks,
    facts_view,
    fail_state_line,
    job_line,
    retry_advice,
    unsettled_rows,
    verdict_when,
)

# CommonMark backslash-escapable characters that could start markup inside running text.
_SPECIAL = set("\\`*_[]<>|#~")


def esc(text: str) -> str:
    """Running text: one line, every markup character escaped."""
    return "".join("\\" + ch if ch in _SPECIAL else ch for ch in one_line(text))


def prose(text: str) -> str:
    """Playbook prose: its `code` parts as code spans, everything else escaped."""
    return "".join(code(p) if is_code else esc(p) for is_code, p in code_spans(one_line(text)))


def _longest_run(text: str, ch: str) -> int:
    best = run = 0
    for c in text:
        run = run + 1 if c == ch else 0
        best = max(best, run)
    return best


def code(text: str) -> str:
    """An inline code span that no backtick in `text` can close early."""
    text = one_line(text)
    ticks = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(body: str, info: str = "") -> str:
    """A fenced block: the fence is longer than any backtick run inside, so it cannot break out."""
    ticks = "`" * max(3, _longest_run(body, "`") + 1)
    return f"{ticks}{info}\n{body}\n{ticks}"


def cell(text: str) -> str:
    # Inside tables GitHub splits on `|` even in code spans, so it is escaped after everything else.
    return text.replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def _verdict(inv: Investigation) -> list[str]:
    f = inv.finding
    _, family = category_family(f.category)
    _, retry = retry_advice(f)
    out = [
        f"**Verdict:** {code(f.category)} ({esc(family)}) — **{esc(f.title)}**  ",
        f"**Confidence:** {f.confidence:.2f} ({f.confidence_label}) · **{esc(retry)}** · "
        f"rule {code(f.rule)}",
        "",
        f"- **Target:** {inv.target.kind} {code(inv.target.name)}",
    ]
    if inv.failed_state:
        out.append(f"- **Failed state:** {code(inv.failed_state)}")
    if fail_state_line(inv):
        out.append(f"- **Ended in Fail state:** {esc(fail_state_line(inv))}")
    if job_line(inv):
        out.append(f"- **Job:** {esc(job_line(inv))}")
    when = verdict_when(inv)
    if when["failed_at"]:
        after = f", after {when['after']} (from {esc(when['since'])})" if when["after"] else ""
        out.append(f"- **Failed at:** {when['failed_at']}{after}")
    if inv.history:
        out.append(f"- **History:** {esc(history_line(inv.history))}")
    return out


def _evidence_block(b: Block) -> list[str]:
    cited = cited_label(b)
    loc = code(b.where) + (f" {cited}" if cited else "")
    stamp = f" · {timeline.fmt_time(b.time)}" if b.time else ""
    body = [f"{'>' if line.cited else ' '} {_num(line.num)} | {line.text}" for line in b.lines]
    return [f"{loc}{stamp}:", "", fence("\n".join(body), "text"), ""]


def _num(n: int | None) -> str:
    return f"{n:>5}" if n is not None else " " * 5


def _unsettled(inv: Investigation) -> list[str]:
    rows = unsettled_rows(inv)
    out = []
    for r in rows["rules"]:
        perms = ", ".join(code(p) for p in r["permissions"])
        settle = f"; would be settled by {perms}" if perms else ""
        out.append(f"- **{esc(r['title'])}** ({code(r['category'])}, rule {code(r['rule'])}): "
                   f"could not read {esc(r['sources'])}{settle}")
    for g in rows["gaps"]:
        perms = ", ".join(code(p) for p in g["permissions"])
        settle = f"; permission that would settle it: {perms}" if perms else ""
        out.append(f"- Gap in {code(g['source'])}: {code(g['code'])} {esc(g['message'])}{settle}")
    return out


def _sections(inv: Investigation, h: str) -> list[str]:
    f = inv.finding
    out = [f"{h} Root cause", "", prose(f.explanation), ""]
    if inv.job and inv.job.failure_reason:
        out += ["Failure reason:", "", fence(inv.job.failure_reason, "text"), ""]
    if f.evidence:
        out += [f"{h} Evidence", ""]
        for block in evidence_blocks(f.evidence):
            out += _evidence_block(block)
    out += [f"{h} Remediation", ""]
    out += [f"{n}. {prose(s)}" for n, s in enumerate(f.remediation, 1)] + [""]
    if f.repro:
        out += [f"{h} Reproduce", "", fence("\n".join(f.repro), "sh"), ""]
    if inv.alternatives:
        rows = [
            [code(a.category), code(a.rule), esc(a.title), f"{a.confidence:.2f}", esc(a.why_lower)]
            for a in inv.alternatives
        ]
        out += [f"{h} Alternatives considered", "",
                *_table(["Category", "Rule", "Title", "Confidence", "Why lower"], rows), ""]
    if inv.inconclusive or inv.gaps:
        out += [f"{h} Could not rule out", "", *_unsettled(inv), ""]
    if inv.changes:
        since = f" ({code(inv.last_good)})" if inv.last_good else ""
        rows = [[code(r["field"]), code(r["before"]), code(r["after"])] for r in changes_rows(inv)]
        out += [f"{h} What changed since the last good run{since}", "",
                *_table(["Field", "Before", "After"], rows), ""]
    return out + _tail(inv, h)


def _tail(inv: Investigation, h: str) -> list[str]:
    out: list[str] = []
    items = timeline.build(inv).items
    if items:
        rows = [
            [
                timeline.fmt_time(i.start),
                esc(i.lane),
                esc(i.label) + (" **(failed)**" if i.failed else ""),
                timeline.human_duration(i.duration_s),
            ]
            for i in items
        ]
        out += [f"{h} Timeline", "", *_table(["Time", "Lane", "Event", "Duration"], rows), ""]
    facts = facts_view(inv)
    rows = [[esc(k), code(v)] for k, v in facts["primary"]]
    rows += [[f"hyperparameter {code(k)}", code(v)] for k, v in facts["hyperparameters"]]
    rows += [[code(k), code(v)] for k, v in facts["other"]]
    if rows:
        out += [f"{h} Facts", "", *_table(["Fact", "Value"], rows), ""]
    return out


def render_markdown(inv: Investigation, *, level: int = 2) -> str:
    """One investigation; its title is a heading of `level`, its sections one below."""
    inv = neutralise_model(inv)
    title = f"{'#' * level} {esc(inv.source)}: {esc(inv.finding.title)}"
    out = [title, "", *_verdict(inv), "", *_sections(inv, "#" * (level + 1))]
    return "\n".join(out).rstrip("\n") + "\n"
