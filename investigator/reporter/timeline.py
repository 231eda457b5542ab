"""One time axis for everything that happened: Step Functions states, the job's status
transitions, log events, cited lines and the failure. Rendered as inline SVG (no script,
no external asset) plus the same rows for a table, so no reader depends on the picture.

Collector convention: a TimelineEvent with `end` is a span (a state, a status), one without
is an instant (first/last log event). `source` picks the lane: sfn/stepfunctions/states,
sagemaker, logs/cloudwatch; anything else gets a lane of its own name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from markupsafe import Markup, escape

from investigator.models import Investigation
from investigator.taxonomy import JOB_FAILED_STATUSES

_LANES = {
    "sfn": "Step Functions",
    "stepfunctions": "Step Functions",
    "states": "Step Functions",
    "sagemaker": "SageMaker job",
    "logs": "Logs",
    "cloudwatch": "Logs",
    "ecr": "ECR",
}
# Lane → CSS class suffix (colours live in the page CSS, with a text label beside each bar).
_LANE_CLASS = {"Step Functions": "sfn", "SageMaker job": "sm", "Logs": "log", "Evidence": "ev"}
# Words that mark an event as the failure (case-insensitive substring test: the text is
# untrusted and short, and a plain `in` needs no regex engine).
_FAIL_WORDS = ("fail", "timedout", "timed_out", "timed out", "abort", "maxruntimeexceeded",
               "maxwaittimeexceeded", "interrupted")

MAX_ROWS = 30


@dataclass(frozen=True)
class Item:
    lane: str
    label: str
    start: datetime
    end: datetime | None = None
    failed: bool = False

    @property
    def duration_s(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.end else None


@dataclass(frozen=True)
class Timeline:
    items: list[Item]
    failed_at: datetime | None
    started_at: datetime | None
    started_what: str | None

    @property
    def failed_after_s(self) -> float | None:
        if self.failed_at is None or self.started_at is None:
            return None
        return max(0.0, (self.failed_at - self.started_at).total_seconds())


def utc(t: datetime | None) -> datetime | None:
    """Collectors give aware UTC times; saved logs may give naive ones (taken as UTC)."""
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def human_duration(seconds: float | None) -> str:
    """'45s', '12m 30s', '2h 05m', '3d 4h' — readable at a glance."""
    if seconds is None:
        return ""
    s = round(seconds)
    if seconds < 1:
        return "<1s" if seconds > 0 else "0s"
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def fmt_time(t: datetime | None, with_date: bool = True) -> str:
    t = utc(t)
    if t is None:
        return ""
    return t.strftime("%Y-%m-%d %H:%M:%S UTC" if with_date else "%H:%M:%S")


def _is_failure(text: str) -> bool:
    low = text.lower().replace(" ", "")
    return any(w.replace(" ", "") in low for w in _FAIL_WORDS)


def _event_items(inv: Investigation) -> list[Item]:
    items = []
    for ev in inv.timeline:
        start, end = utc(ev.time), utc(ev.end)
        lane = _LANES.get(ev.source.lower(), ev.source)
        end = end if end and start and end > start else None
        items.append(Item(lane, ev.event, start, end, _is_failure(ev.event)))  # type: ignore[arg-type]
    return items


def _job_items(inv: Investigation, have: list[Item]) -> list[Item]:
    """The job's run as one bar when no status transitions were collected."""
    job = inv.job
    if job is None or any(i.lane == "SageMaker job" for i in have):
        return []
    start, end = utc(job.started or job.created), utc(job.ended)
    if start is None:
        return []
    failed = job.status in JOB_FAILED_STATUSES
    label = f"{job.name or 'job'} ({job.status or 'status unknown'})"
    return [Item("SageMaker job", label, start, end if end and end > start else None, failed)]


def _evidence_items(inv: Investigation) -> list[Item]:
    out = []
    for e in inv.finding.evidence:
        if e.timestamp is not None:
            where = f"line {e.line}" if e.line else (e.stream or e.source)
            out.append(Item("Evidence", where, utc(e.timestamp)))  # type: ignore[arg-type]
    return out


def _failed_at(inv: Investigation, items: list[Item]) -> datetime | None:
    if inv.finding.category == "none":
        return None
    job = inv.job
    if job is not None and job.status in JOB_FAILED_STATUSES and job.ended is not None:
        return utc(job.ended)
    points = [i.end or i.start for i in items if i.failed]
    if points:
        return min(points)
    cited = [i.start for i in items if i.lane == "Evidence"]
    return max(cited) if cited else None


def build(inv: Investigation) -> Timeline:
    items = _event_items(inv)
    items += _job_items(inv, items)
    items += _evidence_items(inv)
    items.sort(key=lambda i: (i.start, i.lane, i.label))
    failed_at = _failed_at(inv, items)
    first = items[0] if items else None
    created = utc(inv.job.created) if inv.job else None
    started, what = (first.start, f"{first.lane}: {first.label}") if first else (None, None)
    if created and (started is None or created < started):
        started, what = created, "job created"
    return Timeline(items, failed_at, started, what)


# ---------------------------------------------------------------- SVG rendering

_W, _X0, _X1 = 1000, 300, 930
_LABEL_CHARS = 40  # what fits left of _X0 at the chart's font size
_ROW, _TOP = 26, 46
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
          43200, 86400, 172800, 604800)


def _tick_step(span_s: float) -> int:
    return next((s for s in _STEPS if span_s / s <= 6), _STEPS[-1])


# Chart labels are short; the lane is also told by colour and spelled out in the table.
_LANE_SHORT = {"Step Functions": "SFN", "SageMaker job": "Job", "Evidence": "Cited"}


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: max(1, n - 1)] + "…"


def _chart_label(item: Item) -> str:
    prefix = f"{_LANE_SHORT.get(item.lane, item.lane)} · "
    suffix = " (failed)" if item.failed else ""  # kept whole: never lost to truncation
    return prefix + _short(item.label, _LABEL_CHARS - len(prefix) - len(suffix)) + suffix


class Axis:
    """The time axis of an SVG chart: shared by the timeline and the metric charts."""

    def __init__(self, t0: datetime, t1: datetime) -> None:
        if (t1 - t0).total_seconds() < 10:
            t1 = t0 + timedelta(seconds=10)  # a single instant still gets a readable axis
        self.t0, self.t1 = t0, t1
        self.span = (t1 - t0).total_seconds()

    def x(self, t: datetime) -> float:
        return _X0 + (t - self.t0).total_seconds() / self.span * (_X1 - _X0)

    def ticks(self) -> list[tuple[float, str]]:
        step = _tick_step(self.span)
        epoch = self.t0.timestamp()
        first = epoch - epoch % step + (step if epoch % step else 0)
        with_date = self.span >= 86400
        out = []
        t = first
        while t <= self.t1.timestamp() + 1e-6:
            dt = datetime.fromtimestamp(t, UTC)
            out.append((self.x(dt), dt.strftime("%m-%d %H:%M" if with_date else "%H:%M:%S")))
            t += step
        return out


def _row_svg(i: int, item: Item, ax: Axis) -> str:
    y = _TOP + i * _ROW
    cls = _LANE_CLASS.get(item.lane, "other")
    state = " failed" if item.failed else ""
    name = f"{item.lane} · {item.label}" + (" (failed)" if item.failed else "")
    tip = f"{name}: {fmt_time(item.start)}"
    parts = [f'<g class="tl-row tl-{cls}{state}">',
             f'<text class="tl-label" x="8" y="{y + 17}">{escape(_chart_label(item))}</text>']
    x = ax.x(item.start)
    if item.end is not None:
        dur = human_duration(item.duration_s)
        tip += f" → {fmt_time(item.end)} ({dur})"
        w = max(3.0, ax.x(item.end) - x)
        parts.append(
            f'<rect class="tl-bar" x="{x:.1f}" y="{y + 5}" width="{w:.1f}" height="16" rx="3">'
            f"<title>{escape(tip)}</title></rect>"
        )
        tx, anchor = (x + w + 5, "start") if x + w < _X1 - 70 else (x - 5, "end")
        parts.append(f'<text class="tl-dur" x="{tx:.1f}" y="{y + 17}" text-anchor="{anchor}">'
                     f"{escape(dur)}</text>")
    else:
        parts.append(f'<path class="tl-mark" d="M{x:.1f} {y + 5}l7 8-7 8-7-8z">'
                     f"<title>{escape(tip)}</title></path>")
        tx, anchor = (x + 10, "start") if x < _X1 - 90 else (x - 10, "end")
        parts.append(f'<text class="tl-dur" x="{tx:.1f}" y="{y + 17}" text-anchor="{anchor}">'
                     f"{escape(fmt_time(item.start, with_date=False))}</text>")
    parts.append("</g>")
    return "".join(parts)


def render_svg(tl: Timeline, title_id: str) -> Markup:
    """The timeline as inline SVG; empty when there is nothing with a time."""
    rows = tl.items[:MAX_ROWS]
    if not rows:
        return Markup("")
    ends = [i.end or i.start for i in rows] + ([tl.failed_at] if tl.failed_at else [])
    ax = Axis(min(i.start for i in rows), max(ends))
    height = _TOP + len(rows) * _ROW + 12
    out = [
        f'<svg class="timeline" viewBox="0 0 {_W} {height}" role="img" '
        f'aria-labelledby="{escape(title_id)}" xmlns="http://www.w3.org/2000/svg" '
        'preserveAspectRatio="xMinYMin meet">',
        f'<line class="tl-axis" x1="{_X0}" y1="{_TOP - 4}" x2="{_X1}" y2="{_TOP - 4}"/>',
    ]
    for x, label in ax.ticks():
        out.append(
            f'<line class="tl-grid" x1="{x:.1f}" y1="{_TOP - 8}" x2="{x:.1f}" y2="{height - 8}"/>'
            f'<text class="tl-tick" x="{x:.1f}" y="{_TOP - 14}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    out += [_row_svg(i, item, ax) for i, item in enumerate(rows)]
    if tl.failed_at is not None:
        x = ax.x(tl.failed_at)
        anchor = "end" if x > _X1 - 120 else "start"
        dx = -6 if anchor == "end" else 6
        label = "failed " + fmt_time(tl.failed_at, with_date=False)
        out.append(
            f'<g class="tl-fail">'
            f'<line x1="{x:.1f}" y1="{_TOP - 8}" x2="{x:.1f}" y2="{height - 8}"/>'
            f'<text x="{x + dx:.1f}" y="12" text-anchor="{anchor}">{escape(label)}</text></g>'
        )
    out.append("</svg>")
    return Markup("".join(out))
