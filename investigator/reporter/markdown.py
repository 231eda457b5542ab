"""Markdown for tickets: paste it into an issue and every part still reads right.

Prose is backslash-escaped (no raw HTML, links or emphasis from log text), identifiers go
in code spans, log lines in fenced blocks whose fence is longer than any backtick run in
them, and table cells escape `|` and newlines, so hostile text cannot break the layout.
"""

from __future__ import annotations

from investigator.models import Investigation
from investigator.reporter import timeline
from investigator.reporter.safe_text import one_line
from investigator.reporter.view import Block, View, build, code_spans

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


def _verdict(v: View) -> list[str]:
    inv, f = v.inv, v.finding
    out = [
        f"**Verdict:** {code(f.category)} ({esc(v.label)}) — **{esc(f.title)}**  ",
        f"**Confidence:** {v.confidence} ({f.confidence_label}) · **{esc(v.retry_text)}** · "
        f"rule {code(f.rule)}",
        "",
    ]
    if v.first_step:
        out += [f"**First step:** {prose(v.first_step)}", ""]
    for u in v.unread:  # what was not read is headline news: the verdict rests on less
        fix = []
        if u.permissions:
            fix.append("grant " + ", ".join(code(p) for p in u.permissions)
                       + " to the identity running investigate")
        if u.command:
            fix.append(f"read it by hand: {code(u.command)}")
        fixes = f" — **fix:** {'; or '.join(fix)}" if fix else ""
        out.append(f"> **Not read: {esc(u.label)}** — {esc(u.why)}{fixes}")
        out.append(">")
    if v.unread:
        out[-1] = ""
    out.append(f"- **Target:** {inv.target.kind} {code(inv.target.name)}")
    if inv.failed_state:
        out.append(f"- **Failed state:** {code(inv.failed_state)}")
    if v.fail_state:
        out.append(f"- **Ended in Fail state:** {esc(v.fail_state)}")
    if v.job_line:
        out.append(f"- **Job:** {esc(v.job_line)}")
    if v.when.failed_at:
        after = f", after {v.when.after} (from {esc(v.when.since)})" if v.when.after else ""
        out.append(f"- **Failed at:** {v.when.failed_at}{after}")
    if v.history:
        out.append(f"- **History:** {esc(v.history)}")
    if v.runbook:
        out.append(f"- **Runbook:** {_link(v.runbook)}")
    return out


def _link(target: str) -> str:
    """A runbook link for an https base URL; the default repository path as a code span (it
    is relative to the repository, not to wherever the Markdown is pasted)."""
    if target.startswith("https://"):
        safe = target.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
        return f"[{esc(target)}]({safe})"
    return code(target)


def _evidence_block(b: Block) -> list[str]:
    loc = code(b.where) + (f" {b.cited}" if b.cited else "")
    stamp = f" · {timeline.fmt_time(b.time)}" if b.time else ""
    body = [f"{'>' if line.cited else ' '} {_num(line.num)} | {line.text}" for line in b.lines]
    return [f"{loc}{stamp}:", "", fence("\n".join(body), "text"), ""]


def _num(n: int | None) -> str:
    return f"{n:>5}" if n is not None else " " * 5


def _unsettled(v: View) -> list[str]:
    """One row per unread source: rules left open, the plausible few; the full list folded."""
    rows = []
    for o in v.open_sources:
        few = "; ".join(f"{esc(r.title)} ({code(r.rule)})" for r in o.plausible) or "—"
        rows.append([esc(o.label), str(o.count), few])
    out = _table(["Not read", "Rules left open", "Most plausible given the facts"], rows)
    rest = [(o, r) for o in v.open_sources for r in o.rest]
    if rest:
        out += ["", "<details><summary>All rules left open</summary>", "",
                *(f"- {esc(r.title)} ({code(r.rule)}, {esc(o.label)})" for o, r in rest),
                "", "</details>"]
    return out


def _sections(v: View, h: str) -> list[str]:
    """Ordered for action: evidence, what changed, why, the fix, then the rest."""
    inv, f = v.inv, v.finding
    out: list[str] = []
    if v.evidence:
        out += [f"{h} Evidence", ""]
        for block in v.evidence:
            out += _evidence_block(block)
    if v.changes or v.changes_folded:
        since = f" ({code(inv.last_good)})" if inv.last_good else ""
        rows = [[code(r.field), code(r.before), code(r.after)] for r in v.changes]
        out += [f"{h} What changed since the last good run{since}", "",
                *_table(["Field", "Last good run", "This run"], rows), ""]
        if v.changes_folded:
            folded = [[code(r.field), code(r.before), code(r.after)] for r in v.changes_folded]
            out += ["<details><summary>"
                    f"{len(v.changes_folded)} more differ only by the run's own name or date"
                    "</summary>", "", *_table(["Field", "Last good run", "This run"], folded),
                    "", "</details>", ""]
    out += [f"{h} Root cause", "", prose(f.explanation), ""]
    out += [f"{h} Remediation", ""]
    out += [f"{n}. {prose(s)}" for n, s in enumerate(v.remediation, 1)] + [""]
    if v.repro:
        out += [f"{h} Reproduce", "", fence("\n".join(v.repro), "sh"), ""]
    if v.alternatives:
        rows = [
            [code(a.category), code(a.rule), esc(a.title), f"{a.confidence:.2f}", esc(a.why_lower)]
            for a in v.alternatives
        ]
        out += [f"{h} Alternatives considered", "",
                *_table(["Category", "Rule", "Title", "Confidence", "Why lower"], rows), ""]
    if v.open_sources:
        out += [f"{h} Could not rule out", "", *_unsettled(v), ""]
    return out + _tail(v, h)


def _tail(v: View, h: str) -> list[str]:
    out: list[str] = []
    items = v.timeline.items
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
    return out + _raw(v, h)


def _raw(v: View, h: str) -> list[str]:
    """Raw sources last, folded: what SageMaker and Step Functions said, and every fact."""
    inv = v.inv
    body: list[str] = []
    if inv.job and inv.job.failure_reason:
        body += ["SageMaker failure reason:", "", fence(inv.job.failure_reason, "text"), ""]
    sfn = [str(x) for x in (inv.facts.get("sfn.error"), inv.facts.get("sfn.cause")) if x]
    if sfn:
        body += ["Step Functions error:", "", fence(": ".join(sfn), "text"), ""]
    rows = [[esc(k), code(val)] for k, val in v.facts.primary]
    rows += [[f"hyperparameter {code(k)}", code(val)] for k, val in v.facts.hyperparameters]
    rows += [[code(k), code(val)] for k, val in v.facts.other]
    if rows:
        body += [*_table(["Fact", "Value"], rows), ""]
    if not body:
        return []
    return [f"{h} Raw sources", "", "<details><summary>SageMaker, Step Functions and collected "
            "facts</summary>", "", *body, "</details>", ""]


def render_markdown(inv: Investigation, *, level: int = 2) -> str:
    """One investigation; its title is a heading of `level`, its sections one below."""
    return layout(build(inv), level=level)


def layout(v: View, *, level: int = 2) -> str:
    title = f"{'#' * level} {esc(v.inv.source)}: {esc(v.finding.title)}"
    out = [title, "", *_verdict(v), "", *_sections(v, "#" * (level + 1))]
    return "\n".join(out).rstrip("\n") + "\n"
