"""Per-host instance metrics as small SVG sparklines on the timeline's time axis.

Reads the `metrics.series` fact (collectors/metrics.py: host → metric → [[ISO time, value]])
and draws one row per host, with the same viewBox width, plot area and time range as the
timeline chart (reporter/timeline.py) so a spike lines up with the state or log line above it.
Memory and disk are percentages; CPU and GPU utilisation sum over cores / GPUs, so each line is
scaled to max(100, its peak) and the row label gives the peaks in numbers. Inline SVG, no script.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from investigator.collectors import as_datetime
from investigator.models import Investigation
from investigator.reporter import timeline

# (metric key, label, stroke colour): colours at >= 3:1 contrast on white, told apart by the
# legend text as well as by colour.
LINES = (
    ("memory", "memory", "#b3261e"),
    ("disk", "disk", "#6a3d9a"),
    ("gpu_memory", "GPU mem", "#00695c"),
    ("gpu", "GPU", "#1f6feb"),
    ("cpu", "CPU", "#7a5c00"),
)
MAX_HOSTS = 8
_ROW, _TOP, _PAD = 44, 34, 6


def render_svg(inv: Investigation, title_id: str) -> Markup:
    """The sparklines, or empty markup when the evidence has no metric series."""
    series = inv.facts.get("metrics.series")
    if not isinstance(series, dict) or not series:
        return Markup("")
    hosts = sorted(series, key=_host_order)[:MAX_HOSTS]
    parsed = {h: _parse(series[h]) for h in hosts}
    axis = _axis(inv, parsed)
    if axis is None:
        return Markup("")
    height = _TOP + len(hosts) * _ROW + 8
    out = [
        f'<svg class="timeline metrics" viewBox="0 0 {timeline._W} {height}" role="img" '
        f'aria-labelledby="{escape(title_id)}" xmlns="http://www.w3.org/2000/svg" '
        'preserveAspectRatio="xMinYMin meet">',
        f'<title id="{escape(title_id)}">Instance metrics per host (maximum per '
        f'{escape(str(inv.facts.get("metrics.period_s", 60)))} s), on the timeline\'s time axis'
        "</title>",
        _legend(),
    ]
    out += [_row(i, host, parsed[host], axis) for i, host in enumerate(hosts)]
    out.append("</svg>")
    return Markup("".join(out))


def _host_order(host: str) -> tuple[int, str]:
    digits = "".join(ch for ch in host if ch.isdigit())
    return (int(digits) if digits else 0, host)


def _parse(metrics: Any) -> dict[str, list[tuple[datetime, float]]]:
    out: dict[str, list[tuple[datetime, float]]] = {}
    if not isinstance(metrics, dict):
        return out
    for key, points in metrics.items():
        pts = [pt for p in (points if isinstance(points, list) else []) if (pt := _point(p))]
        if pts:
            out[str(key)] = sorted(pts)
    return out


def _point(p: Any) -> tuple[datetime, float] | None:
    """[ISO time, value] from a bundle (which may have been edited by hand)."""
    if not isinstance(p, list | tuple) or len(p) != 2:
        return None
    t, v = as_datetime(p[0]), p[1]
    if t is None or isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return t, float(v)


def _axis(inv: Investigation,
          parsed: dict[str, dict[str, list[tuple[datetime, float]]]]) -> timeline.Axis | None:
    """The timeline chart's axis when it has one, else the metrics' own time range."""
    tl = timeline.build(inv)
    rows = tl.items[: timeline.MAX_ROWS]
    if rows:
        ends = [i.end or i.start for i in rows] + ([tl.failed_at] if tl.failed_at else [])
        return timeline.Axis(min(i.start for i in rows), max(ends))
    times = [t for m in parsed.values() for pts in m.values() for t, _ in pts]
    return timeline.Axis(min(times), max(times)) if times else None


def _legend() -> str:
    x, parts = timeline._X0, []
    for _, label, colour in LINES:
        parts.append(f'<line x1="{x}" y1="14" x2="{x + 18}" y2="14" stroke="{colour}" '
                     'stroke-width="2"/>'
                     f'<text class="tl-tick" x="{x + 22}" y="18">{escape(label)}</text>')
        x += 30 + 8 * len(label)
    return "".join(parts)


def _row(i: int, host: str, metrics: dict[str, list[tuple[datetime, float]]],
         axis: timeline.Axis) -> str:
    y0 = _TOP + i * _ROW
    y1 = y0 + _ROW - _PAD
    peaks = [f"{label} {max(v for _, v in metrics[key]):.0f}%" for key, label, _ in LINES
             if key in metrics]
    parts = [
        '<g class="tl-row">',
        f'<text class="tl-label" x="8" y="{y0 + 14}">{escape(host)}</text>',
        f'<text class="tl-dur" x="8" y="{y0 + 30}">{escape(" · ".join(peaks[:3]))}</text>',
        f'<rect x="{timeline._X0}" y="{y0}" width="{timeline._X1 - timeline._X0}" '
        f'height="{_ROW - _PAD}" fill="none" stroke="#c8c8c8"/>',
    ]
    for key, label, colour in LINES:
        pts = [(t, v) for t, v in metrics.get(key, []) if axis.t0 <= t <= axis.t1]
        if not pts:
            continue
        top = max(100.0, max(v for _, v in pts))
        coords = " ".join(f"{axis.x(t):.1f},{y1 - min(v, top) / top * (y1 - y0):.1f}"
                          for t, v in pts)
        peak = max(v for _, v in pts)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                     f'stroke-width="1.5"><title>{escape(f"{host} {label}: peak {peak:.1f}%")}'
                     "</title></polyline>")
    parts.append("</g>")
    return "".join(parts)


__all__ = ["render_svg"]
