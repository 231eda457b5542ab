"""The terminal report: lays out the shared view (reporter/view.py) as plain text.

Colour only when asked (a TTY), and never alone: the family and the retry advice are
words too. Every string arrives neutralised by the view; over-long lines are clipped there.
"""

from __future__ import annotations

import textwrap

from investigator.models import Investigation
from investigator.reporter import timeline
from investigator.reporter.safe_text import one_line
from investigator.reporter.view import View, build

_ANSI = {"container": "35", "gpu": "36", "config": "34", "access": "33", "limits": "33",
         "network": "36", "pipeline": "35", "ok": "32", "unknown": "37"}


def _c(code: str, s: str, color: bool) -> str:
    return f"\x1b[{code}m{s}\x1b[0m" if color else s


def _heading(title: str, color: bool) -> list[str]:
    return ["", _c("1", f"  {title}", color)]


def _verdict(v: View, color: bool, width: int) -> list[str]:
    inv, f = v.inv, v.finding
    retry_code = {"retry": "32", "noretry": "31"}.get(v.retry, "0")
    out = [
        _c("1", one_line(inv.source), color),
        "  " + _c(f"1;{_ANSI[v.family]}", f"{f.category} ({v.label})", color)
        + f" — {one_line(f.title)}",
        f"  confidence {v.confidence} ({f.confidence_label}) · rule {f.rule} · "
        + _c(retry_code, v.retry_text, color),
    ]
    if v.first_step:
        out += _wrap(f"First step: {one_line(v.first_step)}", width, "  ", "    ")
    for u in v.unread:  # what was not read is headline news: the verdict rests on less
        out += _wrap(_c("1;33", "NOT READ: ", color) + f"{u.label} — {one_line(u.why)}",
                     width, "  ", "    ")
        if u.permissions:
            out += _wrap(f"fix: grant {', '.join(u.permissions)} to the identity running "
                         "investigate, then run it again", width, "    ", "      ")
        if u.command:
            out.append(f"    read it by hand: {u.command}")
    out.append(f"  target: {inv.target.kind} {one_line(inv.target.name)}")
    if inv.failed_state:
        out.append(f"  failed state: {one_line(inv.failed_state)}")
    if v.fail_state:
        out.append(f"  ended in Fail state: {one_line(v.fail_state)}")
    if v.job_line:
        out.append(f"  {one_line(v.job_line)}")
    if v.when.failed_at:
        after = f", after {v.when.after} (from {one_line(v.when.since)})" if v.when.after else ""
        out.append(f"  failed at {v.when.failed_at}{after}")
    if v.history:
        out.append(f"  {one_line(v.history)}")
    if v.runbook:
        out.append(f"  runbook: {v.runbook}")
    return out


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    """Prose wrapped to the terminal; words longer than a line (paths, ARNs) stay whole."""
    return textwrap.wrap(text, max(width, 40), initial_indent=first, subsequent_indent=rest,
                         break_long_words=False, break_on_hyphens=False) or [first.rstrip()]


def _indent(text: str, width: int, pad: str = "    ") -> list[str]:
    out = [w for line in text.splitlines() for w in _wrap(line, width, pad, pad)]
    return out or [pad]


def _evidence(v: View, color: bool) -> list[str]:
    out: list[str] = []
    for b in v.evidence:
        loc = b.where + (f", {b.cited}" if b.cited else "")
        stamp = f" @ {timeline.fmt_time(b.time)}" if b.time else ""
        out.append(f"    {loc}{stamp}")
        for line in b.lines:
            if not line.cited:
                out.append(f"      {_num(line.num)} | {line.text}")
                continue
            text, span = line.text, line.span
            if span and color:
                text = text[: span[0]] + _c("1;7", text[span[0] : span[1]], True) + text[span[1] :]
            out.append(_c("1", f"    > {_num(line.num)} | ", color) + text)
    return out


def _num(n: int | None) -> str:
    return f"{n:>6}" if n is not None else " " * 6


def _considered(v: View) -> list[str]:
    out = []
    for a in v.alternatives:
        why = f" — {one_line(a.why_lower)}" if a.why_lower else ""
        out.append(f"    - {a.category}/{a.rule} ({a.confidence:.2f}): {one_line(a.title)}{why}")
    return out


def _unsettled(v: View, width: int) -> list[str]:
    """One line per unread source: how many rules it leaves open, the plausible few."""
    out = []
    for o in v.open_sources:
        out += _wrap(f"- {o.label} not read: {o.count} rule{'s' if o.count != 1 else ''} "
                     "left open", width, "    ", "      ")
        if o.plausible:
            out += _wrap("most plausible: " + "; ".join(
                f"{one_line(r.title)} ({r.rule})" for r in o.plausible), width,
                "      ", "        ")
        if o.rest:
            out.append(f"      ({len(o.rest)} more: `--format json` lists them all)")
    return out


def _timeline(v: View) -> list[str]:
    out = []
    for i in v.timeline.items:
        dur = f" ({timeline.human_duration(i.duration_s)})" if i.end else ""
        flag = " [failed]" if i.failed else ""
        out.append(f"    {timeline.fmt_time(i.start)}  {i.lane}: {one_line(i.label)}{dur}{flag}")
    return out


def render_text(inv: Investigation, *, color: bool = False, width: int = 100) -> str:
    return layout(build(inv), color=color, width=width)


def layout(v: View, *, color: bool = False, width: int = 100) -> str:
    """Ordered for action: verdict and first step, evidence, what changed, why, the rest."""
    inv, f = v.inv, v.finding
    out = _verdict(v, color, width)
    if v.evidence:
        out += [*_heading("Evidence", color), *_evidence(v, color)]
    if v.changes or v.changes_folded:
        since = f" ({one_line(inv.last_good)})" if inv.last_good else ""
        out += _heading(f"What changed since the last good run{since}", color)
        out += [f"    - {one_line(r.field)}: {one_line(r.before)} → {one_line(r.after)}"
                for r in v.changes]
        if v.changes_folded:
            out.append(f"    ({len(v.changes_folded)} more differ only by the run's own "
                       f"name or date: {', '.join(one_line(r.field) for r in v.changes_folded)})")
    out += [*_heading("Root cause", color), *_indent(f.explanation, width)]
    out += _heading("Remediation", color)
    for n, step in enumerate(v.remediation, 1):
        out += _wrap(f"{n}. {one_line(step)}", width, "    ", "       ")
    if v.repro:
        out += _heading("Reproduce", color)
        for cmd in v.repro:  # a multi-line command keeps its lines, indented under its `$`
            out += ["    $ " + line if n == 0 else "      " + line
                    for n, line in enumerate(cmd.splitlines() or [""])]
    if v.alternatives:
        out += [*_heading("Also considered (ranked lower)", color), *_considered(v)]
    if v.open_sources:
        out += [*_heading("Could not rule out", color), *_unsettled(v, width)]
    tl = _timeline(v)
    if tl:
        out += [*_heading("Timeline", color), *tl]
    return "\n".join(out + _raw(v, color)) + "\n"


def _raw(v: View, color: bool) -> list[str]:
    """The raw sources last: what SageMaker and Step Functions said, and the facts."""
    inv = v.inv
    out: list[str] = []
    if inv.job and inv.job.failure_reason:
        out += ["    SageMaker failure reason: " + one_line(inv.job.failure_reason)]
    sfn = inv.facts.get("sfn.error"), inv.facts.get("sfn.cause")
    if any(sfn):
        out += ["    Step Functions error: " + one_line(": ".join(str(x) for x in sfn if x))]
    rows = v.facts.primary + [(f"hyperparameter {k}", val) for k, val in v.facts.hyperparameters]
    out += [f"    {k}: {one_line(val)}" for k, val in rows]
    return [*_heading("Raw sources", color), *out] if out else []
