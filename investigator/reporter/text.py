"""The terminal report: lays out the shared view (reporter/view.py) as plain text.

Colour only when asked (a TTY), and never alone: the family and the retry advice are
words too. Every string arrives neutralised by the view; over-long lines are clipped there.
"""

from __future__ import annotations

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


def _verdict(v: View, color: bool) -> list[str]:
    inv, f = v.inv, v.finding
    retry_code = {"retry": "32", "noretry": "31"}.get(v.retry, "0")
    out = [
        _c("1", one_line(inv.source), color),
        "  " + _c(f"1;{_ANSI[v.family]}", f"{f.category} ({v.family_label})", color)
        + f" — {one_line(f.title)}",
        f"  confidence {v.confidence} ({f.confidence_label}) · rule {f.rule} · "
        + _c(retry_code, v.retry_text, color),
        f"  target: {inv.target.kind} {one_line(inv.target.name)}",
    ]
    if inv.failed_state:
        out.append(f"  failed state: {one_line(inv.failed_state)}")
    if v.job_line:
        out.append(f"  {one_line(v.job_line)}")
    if v.when.failed_at:
        after = f", after {v.when.after} (from {one_line(v.when.since)})" if v.when.after else ""
        out.append(f"  failed at {v.when.failed_at}{after}")
    return out


def _indent(text: str, pad: str = "    ") -> list[str]:
    return [pad + line for line in text.splitlines()] or [pad]


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


def _unsettled(v: View) -> list[str]:
    out = []
    for r in v.unsettled_rules:
        perms = f"; settled by {', '.join(r.permissions)}" if r.permissions else ""
        out.append(f"    - {one_line(r.title)} ({r.category}/{r.rule}): "
                   f"could not read {r.sources}{perms}")
    for g in v.gaps:
        perms = f" [needs {', '.join(g.permissions)}]" if g.permissions else ""
        out.append(f"    - gap in {g.source}: {g.code}: {one_line(g.message)}{perms}")
    return out


def _timeline(v: View) -> list[str]:
    out = []
    for i in v.timeline.items:
        dur = f" ({timeline.human_duration(i.duration_s)})" if i.end else ""
        flag = " [failed]" if i.failed else ""
        out.append(f"    {timeline.fmt_time(i.start)}  {i.lane}: {one_line(i.label)}{dur}{flag}")
    return out


def render_text(inv: Investigation, *, color: bool = False) -> str:
    return layout(build(inv), color=color)


def layout(v: View, *, color: bool = False) -> str:
    inv, f = v.inv, v.finding
    out = _verdict(v, color)
    out += [*_heading("Root cause", color), *_indent(f.explanation)]
    if inv.job and inv.job.failure_reason:
        out += ["", "    failure reason: " + one_line(inv.job.failure_reason)]
    if v.evidence:
        out += [*_heading("Evidence", color), *_evidence(v, color)]
    out += _heading("Remediation", color)
    out += [f"    {n}. {one_line(s)}" for n, s in enumerate(f.remediation, 1)]
    if f.repro:
        out += _heading("Reproduce", color)
        for cmd in f.repro:  # a multi-line command keeps its lines, indented under its `$`
            out += ["    $ " + line if n == 0 else "      " + line
                    for n, line in enumerate(cmd.splitlines() or [""])]
    if v.alternatives:
        out += [*_heading("Also considered (ranked lower)", color), *_considered(v)]
    if v.unsettled_rules or v.gaps:
        out += [*_heading("Could not rule out", color), *_unsettled(v)]
    if v.changes:
        since = f" ({one_line(inv.last_good)})" if inv.last_good else ""
        out += _heading(f"What changed since the last good run{since}", color)
        out += [f"    - {one_line(r.field)}: {one_line(r.before)} → {one_line(r.after)}"
                for r in v.changes]
    tl = _timeline(v)
    if tl:
        out += [*_heading("Timeline", color), *tl]
    rows = v.facts.primary + [(f"hyperparameter {k}", val) for k, val in v.facts.hyperparameters]
    if rows:
        out += [*_heading("Facts", color), *(f"    {k}: {one_line(val)}" for k, val in rows)]
    return "\n".join(out) + "\n"
