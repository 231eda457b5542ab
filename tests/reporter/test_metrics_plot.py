"""Instance metrics drawn as per-host sparklines on the timeline's time axis (HTML report)."""

from __future__ import annotations

import re
from datetime import timedelta

from investigator.reporter import metrics_plot, timeline
from investigator.reporter.html import render_html
from investigator.reporter.view import build
from tests.reporter.conftest import T0


def _series(points: list[tuple[float, float]]) -> list[list]:
    return [[(T0 + timedelta(seconds=s)).isoformat(), v] for s, v in points]


def _with_metrics(inv):
    tl = timeline.build(inv)
    t0 = min(i.start for i in tl.items[: timeline.MAX_ROWS])
    start = (t0 - T0).total_seconds()
    series = {
        "algo-2": {"memory": _series([(start, 20.0), (start + 300, 40.0)])},
        "algo-1": {"memory": _series([(start, 35.0), (start + 300, 70.0), (start + 600, 100.0)]),
                   "disk": _series([(start, 10.0), (start + 600, 12.0)]),
                   "cpu": _series([(start, 380.0), (start + 600, 95.0)])},
    }
    facts = {**inv.facts, "metrics.series": series, "metrics.period_s": 60}
    return inv.replace(facts=facts)


def _svg(html: str) -> str:
    m = re.search(r'<svg class="timeline metrics".*?</svg>', html, re.S)
    assert m, "no metrics chart in the report"
    return m.group(0)


def test_one_row_per_host_in_host_order_on_the_timeline_axis(sfn_inv) -> None:
    inv = _with_metrics(sfn_inv)
    svg = _svg(render_html(inv))
    labels = re.findall(r'<text class="tl-label"[^>]*>([^<]+)</text>', svg)
    assert labels == ["algo-1", "algo-2"]
    lines = re.findall(r'<polyline points="([^"]+)"', svg)
    assert len(lines) == 4  # algo-1: memory, disk, cpu; algo-2: memory
    # The first point is at the timeline's first instant: the left edge of the plot area.
    first_x = float(lines[0].split()[0].split(",")[0])
    assert first_x == timeline._X0
    assert "memory 100%" in svg  # the peak in numbers beside the host
    assert "CPU 380%" in svg  # summed over cores: shown as is, drawn scaled to its peak


def test_no_metrics_no_chart_and_the_series_stay_out_of_the_facts_table(sfn_inv) -> None:
    assert 'class="timeline metrics"' not in render_html(sfn_inv)
    inv = _with_metrics(sfn_inv)
    shown = {k for k, _ in build(inv).facts.other}
    assert "metrics.series" not in shown


def test_hostile_series_values_never_break_the_page(sfn_inv) -> None:
    bad = {"<script>x</script>": {"memory": [["not a time", 5], [T0.isoformat(), "NaN"], 7]},
           "algo-1": "nope"}
    inv = sfn_inv.replace(facts={**sfn_inv.facts, "metrics.series": bad})
    html = render_html(inv)
    assert "<script>x</script>" not in html
    assert metrics_plot.render_svg(inv, "t") == "" or "<polyline" not in metrics_plot.render_svg(
        inv, "t")
