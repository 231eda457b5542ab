"""What every report format says, computed once: the view of one Investigation.

`build` neutralises the (already redacted) investigation once and derives everything the
formats share: the category's family and label, the retry advice, when it failed, the job
line, the evidence in blocks, what could not be ruled out, what changed, the timeline and
the facts table. text.py, markdown.py and html.py only lay this out, so all formats say the
same thing in the same order; a change to what a report says belongs here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from investigator.fleet.history import history_line
from investigator.models import Alternative, EvidenceLine, Finding, Investigation
from investigator.reporter import changes as changes_mod
from investigator.reporter import gaps as gaps_mod
from investigator.reporter import timeline
from investigator.reporter.changes import ChangeRow
from investigator.reporter.gaps import OpenSource, Unread
from investigator.reporter.image_ref import pin_command
from investigator.reporter.safe_text import clip, neutralise_model, one_line
from investigator.taxonomy import LABELS, category

# Where each finding's runbook page lives: `<base>/<category>/<rule>.md`. The default is the
# path inside this repository; set a URL (e.g. your fork's docs) to make it a link anywhere.
RUNBOOK_ENV = "INVESTIGATOR_RUNBOOK_URL"
DEFAULT_RUNBOOK_BASE = "docs/runbook"
# Below this confidence a verdict is a lead, not a diagnosis: retry advice would be a guess.
SURE_ENOUGH = 0.5

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


# ---------------------------------------------------------------- the view


@dataclass(frozen=True)
class When:
    """When it failed, after how long, and measured from what (empty strings when unknown)."""

    failed_at: str
    after: str
    since: str


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

    @property
    def cited(self) -> str:
        """'line 212' or 'lines 3, 4, 6' (empty when lines have no numbers), for a caption."""
        nums = [str(line.num) for line in self.lines if line.cited and line.num]
        return f"line{'s' if len(nums) > 1 else ''} {', '.join(nums)}" if nums else ""


@dataclass(frozen=True)
class UnsettledRule:
    """A rule that could not be ruled out, and the permissions that would settle it."""

    title: str
    rule: str
    category: str
    sources: str
    permissions: list[str]


@dataclass(frozen=True)
class GapRow:
    """Evidence that could not be collected."""

    source: str
    code: str
    message: str
    permissions: list[str]


@dataclass(frozen=True)
class Facts:
    """The facts table: the important facts labelled, then hyperparameters, then the rest."""

    primary: list[tuple[str, str]]
    hyperparameters: list[tuple[str, str]]
    other: list[tuple[str, str]]


@dataclass(frozen=True)
class View:
    """One investigation as every format presents it. Strings are neutralised, not escaped:
    each format escapes for its own medium."""

    inv: Investigation  # neutralised; for the fields a format shows as they are
    finding: Finding
    family: str  # colour family key (taxonomy)
    family_label: str
    label: str  # the category's own short label (cuda and deps share a family, not a label)
    retry: str  # "retry" | "noretry" | "unknown" | "na"
    retry_text: str
    remediation: list[str]  # the finding's steps; the first names the change that explains it
    repro: list[str]  # the finding's commands, the job's image pinned by digest
    job_line: str
    fail_state: str  # the Fail state it ended in, when not the failed state (Catch → Fail)
    history: str  # "seen N times since …" from the fleet store, when it was reachable
    when: When
    evidence: list[Block]
    alternatives: list[Alternative]
    unsettled_rules: list[UnsettledRule]
    gaps: list[GapRow]
    unread: list[Unread]  # headline: sources not read, why, and the fix
    open_sources: list[OpenSource]  # per unread source: rules left open, plausible few first
    changes: list[ChangeRow]  # causes: configuration first
    changes_folded: list[ChangeRow]  # differ only by the run's own id/date
    timeline: timeline.Timeline
    facts: Facts
    runbook: str | None  # this finding's runbook page (path or URL)

    @property
    def first_step(self) -> str:
        """The first thing to do. A weak verdict resting on less than it needs gets its
        missing evidence first: guessing a fix without the logs wastes the night."""
        if self.retry == "unknown" and self.unread:
            u = self.unread[0]
            how = f"grant `{'`, `'.join(u.permissions)}`" if u.permissions else "read it by hand"
            return (f"Get the {u.label} read ({how}; the command is below), then investigate "
                    "again: this verdict rests on less evidence than it needs.")
        return self.remediation[0] if self.remediation else ""

    @property
    def confidence(self) -> str:
        return f"{self.finding.confidence:.2f}"


def build(inv: Investigation) -> View:
    """The view of one (redacted) investigation; the only place a report neutralises it."""
    inv = neutralise_model(inv)
    f = inv.finding
    info = category(f.category)
    retry, retry_text = retry_advice(f)
    tl = timeline.build(inv)
    diff = changes_mod.split(
        [ChangeRow(c.field, fmt_value(c.before), fmt_value(c.after)) for c in inv.changes],
        _run_ids(inv),
    )
    return View(
        inv=inv,
        finding=f,
        family=info.family,
        family_label=info.family_label,
        label=LABELS.get(f.category, info.family_label),
        retry=retry,
        retry_text=retry_text,
        remediation=_remediation(f, diff),
        repro=[pin_command(c, inv.facts) for c in f.repro],
        job_line=_job_line(inv),
        fail_state=_fail_state_line(inv),
        history=history_line(inv.history) if inv.history else "",
        when=When(
            failed_at=timeline.fmt_time(tl.failed_at),
            after=timeline.human_duration(tl.failed_after_s),
            since=tl.started_what or "",
        ),
        evidence=evidence_blocks(f.evidence),
        alternatives=list(inv.alternatives),
        unsettled_rules=[
            UnsettledRule(i.title, i.rule, i.category, ", ".join(i.missing_sources),
                          list(i.missing_permissions))
            for i in inv.inconclusive
        ],
        gaps=[
            GapRow(g.source, g.code, g.message,
                   [g.missing_permission] if g.missing_permission else [])
            for g in inv.gaps
        ],
        unread=gaps_mod.unread_sources(inv),
        open_sources=gaps_mod.open_rules(inv),
        changes=diff.causes,
        changes_folded=diff.noise,
        timeline=tl,
        facts=_facts(inv),
        runbook=runbook_page(f.category, f.rule),
    )


def _run_ids(inv: Investigation) -> list[str]:
    """Names each run has of its own (job, execution), whose differences explain nothing."""
    names = [inv.facts.get("sagemaker.job_name"), inv.last_good, inv.target.name]
    names += [n.rsplit(":", 1)[-1] for n in list(names) if isinstance(n, str) and ":" in n]
    return [n for n in names if isinstance(n, str)]


def _remediation(f: Finding, diff: changes_mod.Changes) -> list[str]:
    steps = list(f.remediation)
    note = changes_mod.note(diff, f.category) if f.category not in ("none", "unknown") else ""
    if steps and note:
        steps[0] = f"{steps[0].rstrip()} What changed: {note}."
    return steps


def runbook_page(category_name: str, rule: str, base: str | None = None) -> str | None:
    """`<base>/<category>/<rule>.md` for a rule that has a playbook (and so a page)."""
    from investigator.classifier.loader import PlaybookError, default_playbook_dir

    try:
        if not (default_playbook_dir() / category_name / f"{rule}.yaml").is_file():
            return None
    except PlaybookError:
        return None
    base = (base or os.environ.get(RUNBOOK_ENV) or DEFAULT_RUNBOOK_BASE).rstrip("/")
    return f"{base}/{category_name}/{rule}.md"


# ---------------------------------------------------------------- shared words


def retry_advice(f: Finding) -> tuple[str, str]:
    if f.category == "none":
        return "na", "No failure found: nothing to retry"
    if f.category == "unknown" or f.confidence_label == "low" or f.confidence < SURE_ENOUGH:
        return "unknown", "Retry: unknown (the cause is not established)"
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


def code_spans(text: str) -> list[tuple[bool, str]]:
    """Split playbook prose on `backticks` into (is_code, part); unbalanced ticks stay text."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: not markup, just a character
        return [(False, text)]
    return [(n % 2 == 1, p) for n, p in enumerate(parts) if p]


def _fail_state_line(inv: Investigation) -> str:
    """The Fail state a workflow ended in, when it is not the failed state itself (Catch → Fail):
    its name and its own Error/Cause."""
    name = inv.facts.get("sfn.fail_state")
    if not name or name == inv.failed_state:
        return ""
    said = ": ".join(str(inv.facts[k]) for k in ("sfn.fail_error", "sfn.fail_cause")
                     if inv.facts.get(k))
    return f"{name}" + (f" ({said})" if said else "")


def _job_line(inv: Investigation) -> str:
    job = inv.job
    if job is None or not job.name:
        return ""
    status = " / ".join(s for s in (job.status, job.secondary_status) if s)
    kind = f"{job.kind} job " if job.kind else "job "
    return f"{kind}{job.name}" + (f" ({status})" if status else "")


# ---------------------------------------------------------------- evidence


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


# ---------------------------------------------------------------- facts


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


def _facts(inv: Investigation) -> Facts:
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
    return Facts(primary, hyper, other)
