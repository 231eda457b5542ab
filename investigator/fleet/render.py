"""The fleet view as an HTML dashboard, JSON, CSV, Markdown or text.

Titles and targets come from logs and ARNs: untrusted text. HTML autoescapes it and links
only to http(s) or to a relative/file path; Markdown escapes it; CSV neutralises cells a
spreadsheet would run as a formula; text keeps it on one line.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import re2

from investigator.fleet.view import FleetView, Group

FORMATS = ("html", "json", "csv", "md", "text")
TOP_GROUPS = 50  # the dashboard and Markdown show the top ones; JSON and CSV have them all
CATEGORY_COLORS = {  # distinct hues, each ≥ 3:1 on white (non-text graphics)
    "entrypoint": "#7c3aed", "platform": "#a21caf", "cuda": "#15803d", "deps": "#2563eb",
    "hyperparameters": "#a16207", "paths": "#ea580c", "permissions": "#b91c1c",
    "resources": "#78350f", "capacity": "#0891b2", "timeout": "#db2777", "network": "#0f766e",
    "distributed": "#4d7c0f", "orchestration": "#c026d3", "code": "#4338ca", "none": "#57534e",
    "unknown": "#1f2937",
}
_CONTROL = re2.compile(r"[\x00-\x1f\x7f]+")
_MD_SPECIAL = re2.compile(r"([\\`*_{}\[\]()<>#+!|~-])")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def one_line(text: Any) -> str:
    return _CONTROL.sub(" ", str(text)).strip()


# -- links ------------------------------------------------------------------------------------

def report_href(report: str | None, output: str | None = None) -> str | None:
    """A browser link to a report: S3 console for s3://, relative path for a local file."""
    if not report:
        return None
    if report.startswith("s3://"):
        bucket, _, key = report[5:].partition("/")
        return (f"https://s3.console.aws.amazon.com/s3/object/{quote(bucket)}"
                f"?prefix={quote(key)}")
    if report.startswith(("https://", "http://")):
        return report
    if ":" in report.split("/", 1)[0]:
        return None  # javascript:, data:, ... never a link
    path = Path(report)
    if output:
        try:
            return quote(os.path.relpath(path.resolve(), Path(output).resolve().parent))
        except ValueError:  # another drive (Windows)
            pass
    return path.resolve().as_uri()


# -- JSON / CSV / text / Markdown -----------------------------------------------------------------

def render_json(view: FleetView) -> str:
    return json.dumps(view.as_dict(), indent=2, ensure_ascii=False) + "\n"


def _cell(value: Any) -> str:
    text = one_line(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


CSV_COLUMNS = ["fingerprint", "category", "rule", "title", "count", "first_seen", "last_seen",
               "retryable_share", "targets", "pipelines", "jobs", "per_day", "latest_report",
               "latest_target"]


def render_csv(view: FleetView) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for g in view.groups:
        row = g.as_dict()
        row.update(targets=" ".join(g.targets), pipelines=" ".join(g.pipelines),
                   jobs=" ".join(g.jobs),
                   per_day=" ".join(f"{d}={n}" for d, n in g.per_day.items()))
        writer.writerow([_cell("" if row[c] is None else row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def _window(view: FleetView) -> str:
    f = view.filters
    parts = [f"since {f.since:%Y-%m-%d %H:%M} UTC" if f.since else "all time"]
    if f.category:
        parts.append(f"category {f.category}")
    if f.pipeline:
        parts.append(f"pipeline {f.pipeline}")
    return ", ".join(parts)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _summary(view: FleetView) -> str:
    failures = sum(g.count for g in view.groups)
    text = (f"{_n(failures, 'failure')} in {_n(len(view.groups), 'fingerprint')} ({_window(view)}; "
            f"{view.records} records read from {one_line(view.source)} by {view.engine})")
    if view.skipped:
        text += f"; {view.skipped} files or lines skipped (not reports)"
    return text


def _affected(g: Group) -> str:
    parts = [f"{len(g.targets)} target{'s' if len(g.targets) != 1 else ''}"]
    if g.pipelines:
        more = " ..." if len(g.pipelines) > 5 else ""
        parts.append("pipelines " + ", ".join(g.pipelines[:5]) + more)
    if g.jobs:
        parts.append(f"{len(g.jobs)} job{'s' if len(g.jobs) != 1 else ''}")
    return ", ".join(parts)


def render_text(view: FleetView) -> str:
    lines = [_summary(view), ""]
    for n, g in enumerate(view.groups, 1):
        lines += [
            f"{n:>3}. {g.count:>5}x  {g.category}: {one_line(g.title)}",
            f"       rule {g.rule} · fingerprint {g.fingerprint} · "
            f"retryable {g.retryable_share:.0%}",
            f"       first {g.first_seen} · last {g.last_seen} in {one_line(g.latest_target)}",
            f"       {one_line(_affected(g))}",
        ]
        if g.latest_report:
            lines.append(f"       latest report: {one_line(g.latest_report)}")
    if not view.groups:
        lines.append("No failures match.")
    return "\n".join(lines) + "\n"


def _md(text: Any) -> str:
    return _MD_SPECIAL.sub(r"\\\1", one_line(text))


def render_markdown(view: FleetView, output: str | None = None) -> str:
    lines = ["## Fleet: recurring failures", "", _md(_summary(view)), ""]
    if not view.groups:
        return "\n".join([*lines, "No failures match.", ""])
    lines += ["| # | failures | category | cause | first seen | last seen | affected | retryable "
              "| latest report |", "|---:|---:|---|---|---|---|---|---:|---|"]
    for n, g in enumerate(view.groups[:TOP_GROUPS], 1):
        href = report_href(g.latest_report, output)
        link = f"[report]({href.replace(')', '%29').replace(' ', '%20')})" if href else ""
        lines.append(
            f"| {n} | {g.count} | {_md(g.category)} | {_md(g.title)} "
            f"(`{g.rule}`, `{g.fingerprint}`) | {g.first_seen} | {g.last_seen} "
            f"| {_md(_affected(g))} | {g.retryable_share:.0%} | {link} |"
        )
    if len(view.groups) > TOP_GROUPS:
        rest = len(view.groups) - TOP_GROUPS
        lines += ["", f"... and {rest} more fingerprints (see the JSON or CSV)."]
    return "\n".join(lines) + "\n"


# -- HTML -----------------------------------------------------------------------------------------

CHART_W, CHART_H, CHART_PAD_L, CHART_PAD_B, CHART_PAD_T = 800, 260, 40, 28, 10


def _ticks(top: int) -> list[int]:
    if top <= 0:
        return [0]
    step = max(1, -(-top // 4))
    return list(range(0, top + step, step))


def chart(view: FleetView) -> dict[str, Any]:
    """Stacked bars: failures per day, one colour per category (all in SVG user units)."""
    days = view.per_day_by_category()
    if not days:
        return {"bars": [], "ticks": [], "labels": [], "legend": []}
    top = max(sum(c.values()) for c in days.values())
    ticks = _ticks(top)
    scale_max = ticks[-1] or 1
    plot_w = CHART_W - CHART_PAD_L - 4
    plot_h = CHART_H - CHART_PAD_B - CHART_PAD_T
    slot = plot_w / len(days)
    bars, used = [], set()
    for i, (day, cats) in enumerate(days.items()):
        y = CHART_PAD_T + plot_h
        for cat, n in cats.items():
            h = plot_h * n / scale_max
            y -= h
            used.add(cat)
            bars.append({"x": round(CHART_PAD_L + i * slot + slot * 0.1, 2), "y": round(y, 2),
                         "w": round(max(slot * 0.8, 0.5), 2), "h": round(h, 2),
                         "color": CATEGORY_COLORS.get(cat, "#4b5563"),
                         "title": f"{day} · {cat}: {n}"})
    names = list(days)
    picks = sorted({0, len(names) // 2, len(names) - 1})
    anchor = {0: "start", len(names) - 1: "end"}  # the edge labels stay inside the chart
    labels = [{"x": round(CHART_PAD_L + (i + 0.5) * slot, 2), "text": names[i],
               "anchor": anchor.get(i, "middle") if len(names) > 1 else "middle"} for i in picks]
    grid = [{"y": round(CHART_PAD_T + plot_h - plot_h * t / scale_max, 2), "value": t}
            for t in ticks]
    legend = [{"category": c, "color": CATEGORY_COLORS.get(c, "#4b5563")}
              for c in CATEGORY_COLORS if c in used]
    return {"bars": bars, "ticks": grid, "labels": labels, "legend": legend,
            "width": CHART_W, "height": CHART_H, "left": CHART_PAD_L,
            "baseline": CHART_PAD_T + plot_h, "days": len(names)}


def _spark(g: Group, days: list[str]) -> list[dict[str, float]]:
    top = max(g.per_day.values(), default=1)
    w = 120 / max(len(days), 1)
    return [{"x": round(i * w, 2), "w": round(max(w * 0.8, 0.5), 2),
             "h": round(24 * g.per_day[d] / top, 2)} for i, d in enumerate(days) if d in g.per_day]


def _env() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("investigator.fleet", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       trim_blocks=True, lstrip_blocks=True)


def render_html(view: FleetView, output: str | None = None) -> str:
    days = list(view.per_day_by_category())
    groups = [{"g": g, "href": report_href(g.latest_report, output), "spark": _spark(g, days),
               "affected": _affected(g), "color": CATEGORY_COLORS.get(g.category, "#4b5563")}
              for g in view.groups[:TOP_GROUPS]]
    return _env().get_template("fleet.html.j2").render(
        view=view, summary=_summary(view), chart=chart(view), groups=groups,
        more=max(0, len(view.groups) - TOP_GROUPS), generated=view.generated_at,
        window=_window(view),
    )


def render(view: FleetView, fmt: str, output: str | None = None) -> str:
    if fmt == "html":
        return render_html(view, output)
    if fmt == "json":
        return render_json(view)
    if fmt == "csv":
        return render_csv(view)
    if fmt == "md":
        return render_markdown(view, output)
    return render_text(view)
