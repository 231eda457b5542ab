"""Plain-text presentation: the words every format shares, and the terminal renderer.

The helpers (category family, retry advice, when it failed, fact rows, what could not be
ruled out) are used by the HTML and Markdown renderers too, so all formats say the same
thing. Colour only when asked (a TTY); hostile control characters never pass through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from investigator.fleet.history import history_line
from investigator.models import EvidenceLine, Finding, Investigation
from investigator.reporter import timeline
from investigator.reporter.safe_text import clip, neutralise_model, one_line

# Category → (family key used for colour, family label shown in words: never colour alone).
FAMILIES: dict[str, tuple[str, str]] = {
    "entrypoint": ("container", "Container start-up"),
    "platform": ("container", "Container start-up"),
    "cuda": ("gpu", "GPU & dependencies"),
    "deps": ("gpu", "GPU & dependencies"),
    "hyperparameters": ("config", "Configuration, data & code"),
    "paths": ("config", "Configuration, data & code"),
    "code": ("config", "Configuration, data & code"),
    "permissions": ("access", "Access"),
    "resources": ("limits", "Limits & capacity"),
    "capacity": ("limits", "Limits & capacity"),
    "timeout": ("limits", "Limits & capacity"),
    "network": ("network", "Connectivity"),
    "distributed": ("network", "Connectivity"),
    "orchestration": ("pipeline", "Pipeline"),
    "none": ("ok", "No failure"),
    "unknown": ("unknown", "Unexplained failure"),
}
_ANSI = {"container": "35", "gpu": "36", "config": "34", "access": "33", "limits": "33",
         "network": "36", "pipeline": "35", "ok": "32", "unknown": "37"}

# Facts shown with a friendly label in the facts table, in this order; the rest follow as-is.
_PRIMARY_FACTS = (
    ("Instance type", "sagemaker.instance_type"),
    ("Instance count", "sagemaker.instance_count"),
    ("CPU", "instance.cpu_arch"),
    ("Image", "sagemaker.image"),
    ("Image digest", "ecr.image_digest"),
    ("Image architecture", "ecr.image_architecture"),
    ("Image pushed", "ecr.image_pushed_at"),
    ("Execution role", "sagemaker.role_arn"),
)
_GPU_FACTS = ("instance.gpu_model", "instance.gpu_count", "instance.gpu_memory_gb",
              "instance.compute_capability", "instance.accelerator")
_HIDDEN_FACTS = {"sagemaker.hyperparameters", "instance.vcpus", "instance.memory_gb", *_GPU_FACTS,
                 "metrics.series"}  # drawn in the HTML report, too long for a table


def category_family(category: str) -> tuple[str, str]:
    return FAMILIES.get(category, FAMILIES["unknown"])


def retry_advice(f: Finding) -> tuple[str, str]:
    if f.category == "none":
        return "na", "No failure found: nothing to retry"
    if f.retryable:
        return "retry", "A retry may succeed"
    return "noretry", "Do not retry unchanged"


def fmt_value(value: Any) -> str:
    """A fact or change value as readable text."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(fmt_value(v) for v in value) if value else "—"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return str(value)


@dataclass
class Line:
    num: int | None
    text: str  # one line, neutralised and clipped
    span: tuple[int, int] | None = None  # the highlighted part of a cited line
    cited: bool = False


@dataclass
class Block:
    """Cited lines of one stream with their context; touching windows are merged into one."""

    where: str
    origin: str | None
    time: datetime | None
    lines: list[Line]


def _line(num: int | None, text: str, span: tuple[int, int] | None = None, cited: bool = False
          ) -> Line:
    clipped, clipped_span = clip(one_line(text), span)
    return Line(num, clipped, clipped_span if cited else None, cited)


def _joins(block: Block | None, e: EvidenceLine) -> bool:
    if block is None or not e.line or not block.lines or block.lines[-1].num is None:
        return False
    touches = e.line - len(e.before) <= block.lines[-1].num + 1
    return touches and block.where == (e.stream or e.source)


def evidence_blocks(evidence: list[EvidenceLine]) -> list[Block]:
    """Each cited line in its context; a hit whose context touches the previous hit's joins it,
    so a reader sees one window with two marked lines instead of the same lines twice."""
    blocks: list[Block] = []
    for e in evidence:
        block = blocks[-1] if blocks else None
        first = e.line - len(e.before) if e.line else None
        new = [_line(first + n if first else None, t) for n, t in enumerate(e.before)]
        new.append(_line(e.line, e.text, e.span, cited=True))
        new += [_line(e.line + n if e.line else None, t) for n, t in enumerate(e.after, 1)]
        if block is not None and _joins(block, e):
            by_num = {line.num: line for line in block.lines}
            for line in new:  # a context line of the earlier hit may be this hit's cited line
                if line.num not in by_num or line.cited:
                    by_num[line.num] = line
            block.lines = [by_num[n] for n in sorted(by_num)]  # type: ignore[type-var]
        else:
            origin = e.source if e.stream and e.source != e.stream else None
            blocks.append(Block(e.stream or e.source, origin, e.timestamp, new))
    return blocks


def code_spans(text: str) -> list[tuple[bool, str]]:
    """Split playbook prose on `backticks` into (is_code, part); unbalanced ticks stay text."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: not markup, just a character
        return [(False, text)]
    return [(n % 2 == 1, p) for n, p in enumerate(parts) if p]


def verdict_when(inv: Investigation) -> dict[str, str]:
    """When it failed, after how long, and measured from what."""
    tl = timeline.build(inv)
    return {
        "failed_at": timeline.fmt_time(tl.failed_at),
        "after": timeline.human_duration(tl.failed_after_s),
        "since": tl.started_what or "",
    }


def job_line(inv: Investigation) -> str:
    job = inv.job
    if job is None or not job.name:
        return ""
    status = " / ".join(s for s in (job.status, job.secondary_status) if s)
    kind = f"{job.kind} job " if job.kind else "job "
    return f"{kind}{job.name}" + (f" ({status})" if status else "")


def fail_state_line(inv: Investigation) -> str:
    """The Fail state a workflow ended in, when it is not the failed state itself (Catch → Fail):
    its name and its own Error/Cause."""
    name = inv.facts.get("sfn.fail_state")
    if not name or name == inv.failed_state:
        return ""
    said = ": ".join(str(inv.facts[k]) for k in ("sfn.fail_error", "sfn.fail_cause")
                     if inv.facts.get(k))
    return f"{name}" + (f" ({said})" if said else "")


def unsettled_rows(inv: Investigation) -> dict[str, list[dict[str, Any]]]:
    """Rules that could not be ruled out and evidence that could not be collected."""
    rules = [
        {
            "title": i.title,
            "rule": i.rule,
            "category": i.category,
            "sources": ", ".join(i.missing_sources),
            "permissions": i.missing_permissions,
        }
        for i in inv.inconclusive
    ]
    gaps = [
        {
            "source": g.source,
            "code": g.code,
            "message": g.message,
            "permissions": [g.missing_permission] if g.missing_permission else [],
        }
        for g in inv.gaps
    ]
    return {"rules": rules, "gaps": gaps}


def changes_rows(inv: Investigation) -> list[dict[str, str]]:
    return [
        {"field": c.field, "before": fmt_value(c.before), "after": fmt_value(c.after)}
        for c in inv.changes
    ]


def _gpu(facts: dict[str, Any]) -> str | None:
    count, model = facts.get("instance.gpu_count"), facts.get("instance.gpu_model")
    if count == 0 or facts.get("instance.accelerator") == "none":
        return "none (CPU instance)"
    if not model and not count:
        return None
    text = f"{count or '?'} × {model or 'GPU'}"
    if facts.get("instance.gpu_memory_gb"):
        text += f", {fmt_value(facts['instance.gpu_memory_gb'])} GB each"
    if facts.get("instance.compute_capability"):
        text += f", compute capability {fmt_value(facts['instance.compute_capability'])}"
    return text


def facts_view(inv: Investigation) -> dict[str, list[tuple[str, str]]]:
    """The facts table: the important facts labelled, then hyperparameters, then the rest."""
    facts = dict(inv.facts)
    job = inv.job
    if job is not None:  # a job described without collected facts still shows its basics
        facts.setdefault("sagemaker.instance_type", job.instance_type)
        facts.setdefault("sagemaker.instance_count", job.instance_count)
        facts.setdefault("sagemaker.image", job.image)
    primary = [
        (label, fmt_value(facts[k])) for label, k in _PRIMARY_FACTS if facts.get(k) is not None
    ]
    gpu = _gpu(facts)
    if gpu:
        primary.insert(2, ("GPU", gpu))
    if facts.get("instance.vcpus") or facts.get("instance.memory_gb"):
        vcpus = fmt_value(facts.get("instance.vcpus"))
        host = f"{vcpus} vCPUs, {fmt_value(facts.get('instance.memory_gb'))} GB memory"
        primary.insert(3 if gpu else 2, ("Host", host))
    hp = facts.get("sagemaker.hyperparameters") or {}
    hyper = [(str(k), fmt_value(v)) for k, v in sorted(hp.items())] if isinstance(hp, dict) else []
    shown = {k for _, k in _PRIMARY_FACTS} | _HIDDEN_FACTS
    other = [
        (k, fmt_value(v)) for k, v in sorted(facts.items()) if k not in shown and v is not None
    ]
    return {"primary": primary, "hyperparameters": hyper, "other": other}


# ---------------------------------------------------------------- terminal renderer


def _c(code: str, s: str, color: bool) -> str:
    return f"\x1b[{code}m{s}\x1b[0m" if color else s


def _heading(title: str, color: bool) -> list[str]:
    return ["", _c("1", f"  {title}", color)]


def _verdict(inv: Investigation, color: bool) -> list[str]:
    f = inv.finding
    fam_key, fam_label = category_family(f.category)
    retry_key, retry_text = retry_advice(f)
    retry_code = {"retry": "32", "noretry": "31"}.get(retry_key, "0")
    out = [
        _c("1", one_line(inv.source), color),
        "  " + _c(f"1;{_ANSI[fam_key]}", f"{f.category} ({fam_label})", color)
        + f" — {one_line(f.title)}",
        f"  confidence {f.confidence:.2f} ({f.confidence_label}) · rule {f.rule} · "
        + _c(retry_code, retry_text, color),
        f"  target: {inv.target.kind} {one_line(inv.target.name)}",
    ]
    if inv.failed_state:
        out.append(f"  failed state: {one_line(inv.failed_state)}")
    if fail_state_line(inv):
        out.append(f"  ended in Fail state: {one_line(fail_state_line(inv))}")
    if job_line(inv):
        out.append(f"  {one_line(job_line(inv))}")
    when = verdict_when(inv)
    if when["failed_at"]:
        after = f", after {when['after']} (from {one_line(when['since'])})" if when["after"] else ""
        out.append(f"  failed at {when['failed_at']}{after}")
    if inv.history:
        out.append(f"  {one_line(history_line(inv.history))}")
    return out


def _indent(text: str, pad: str = "    ") -> list[str]:
    return [pad + line for line in text.splitlines()] or [pad]


def cited_label(block: Block) -> str:
    """'line 212' or 'lines 3, 4, 6' (empty when lines have no numbers), for a caption."""
    nums = [str(line.num) for line in block.lines if line.cited and line.num]
    return f"line{'s' if len(nums) > 1 else ''} {', '.join(nums)}" if nums else ""


def _evidence(inv: Investigation, color: bool) -> list[str]:
    out: list[str] = []
    for b in evidence_blocks(inv.finding.evidence):
        loc = b.where + (f", {cited_label(b)}" if cited_label(b) else "")
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


def _considered(inv: Investigation) -> list[str]:
    out = []
    for a in inv.alternatives:
        why = f" — {one_line(a.why_lower)}" if a.why_lower else ""
        out.append(f"    - {a.category}/{a.rule} ({a.confidence:.2f}): {one_line(a.title)}{why}")
    return out


def _unsettled(inv: Investigation) -> list[str]:
    rows = unsettled_rows(inv)
    out = []
    for r in rows["rules"]:
        perms = f"; settled by {', '.join(r['permissions'])}" if r["permissions"] else ""
        out.append(f"    - {one_line(r['title'])} ({r['category']}/{r['rule']}): "
                   f"could not read {r['sources']}{perms}")
    for g in rows["gaps"]:
        perms = f" [needs {', '.join(g['permissions'])}]" if g["permissions"] else ""
        out.append(f"    - gap in {g['source']}: {g['code']}: {one_line(g['message'])}{perms}")
    return out


def _timeline(inv: Investigation) -> list[str]:
    out = []
    for i in timeline.build(inv).items:
        dur = f" ({timeline.human_duration(i.duration_s)})" if i.end else ""
        flag = " [failed]" if i.failed else ""
        out.append(f"    {timeline.fmt_time(i.start)}  {i.lane}: {one_line(i.label)}{dur}{flag}")
    return out


def render_text(inv: Investigation, *, color: bool = False) -> str:
    inv = neutralise_model(inv)
    f = inv.finding
    out = _verdict(inv, color)
    out += [*_heading("Root cause", color), *_indent(f.explanation)]
    if inv.job and inv.job.failure_reason:
        out += ["", "    failure reason: " + one_line(inv.job.failure_reason)]
    if f.evidence:
        out += [*_heading("Evidence", color), *_evidence(inv, color)]
    out += _heading("Remediation", color)
    out += [f"    {n}. {one_line(s)}" for n, s in enumerate(f.remediation, 1)]
    if f.repro:
        out += _heading("Reproduce", color)
        for cmd in f.repro:  # a multi-line command keeps its lines, indented under its `$`
            out += ["    $ " + line if n == 0 else "      " + line
                    for n, line in enumerate(cmd.splitlines() or [""])]
    if inv.alternatives:
        out += [*_heading("Also considered (ranked lower)", color), *_considered(inv)]
    if inv.inconclusive or inv.gaps:
        out += [*_heading("Could not rule out", color), *_unsettled(inv)]
    if inv.changes:
        since = f" ({one_line(inv.last_good)})" if inv.last_good else ""
        out += _heading(f"What changed since the last good run{since}", color)
        out += [f"    - {one_line(r['field'])}: {one_line(r['before'])} → {one_line(r['after'])}"
                for r in changes_rows(inv)]
    tl = _timeline(inv)
    if tl:
        out += [*_heading("Timeline", color), *tl]
    facts = facts_view(inv)
    rows = facts["primary"] + [(f"hyperparameter {k}", v) for k, v in facts["hyperparameters"]]
    if rows:
        out += [*_heading("Facts", color), *(f"    {k}: {one_line(v)}" for k, v in rows)]
    return "\n".join(out) + "\n"
