"""The fleet outputs: JSON contract, CSV safe in a spreadsheet, Markdown and HTML inert."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from investigator.fleet.group import group_records
from investigator.fleet.records import IndexRecord
from investigator.fleet.render import render, report_href
from investigator.fleet.view import Filters, FleetView
from tests.fleet.conftest import random_records

HOSTILE = "=HYPERLINK(\"http://evil\") <script>alert(1)</script> | *bold* [x](javascript:alert(1))"


def make_view(records: list[IndexRecord] | None = None) -> FleetView:
    records = records if records is not None else random_records(400)
    return FleetView(source="reports/", engine="pandas", filters=Filters(),
                     groups=group_records(records, Filters()), records=len(records))


def hostile_view() -> FleetView:
    base = random_records(1)[0]
    rec = replace(base, title=HOSTILE, report="javascript:alert(1)", target="t\nforged line")
    return make_view([rec, replace(rec, fingerprint="f" * 16, report="s3://bkt/reports/a b.html")])


def test_json_is_an_object_with_groups_and_per_day():
    doc = json.loads(render(make_view(), "json"))
    assert doc["kind"] == "fleet" and doc["engine"] == "pandas"
    assert sum(g["count"] for g in doc["groups"]) == doc["records"] == 400
    for g in doc["groups"]:
        assert {"fingerprint", "category", "rule", "title", "count", "first_seen", "last_seen",
                "targets", "retryable_share", "pipelines", "jobs", "per_day",
                "latest_report"} <= set(g)
        assert sum(g["per_day"].values()) == g["count"]
    days = list(doc["per_day"])
    assert days == sorted(days)
    assert sum(sum(c.values()) for c in doc["per_day"].values()) == 400


def test_csv_has_one_row_per_group_and_no_formula_cells():
    text = render(hostile_view(), "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2
    assert all(r["title"].startswith("'=HYPERLINK") for r in rows)
    assert all("\n" not in v for r in rows for v in r.values())


def test_markdown_escapes_hostile_text_and_links_only_safe_urls():
    from markdown_it import MarkdownIt

    md = render(hostile_view(), "md")
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<script>" not in html and 'href="javascript' not in html
    assert "<strong>" not in html and html.count("<tr>") == 3  # header + 2 groups: no split cell
    assert "(https://s3.console.aws.amazon.com/s3/object/bkt?prefix=reports/a%20b.html)" in md


def test_text_keeps_each_field_on_its_line():
    text = render(hostile_view(), "text")
    assert "forged line" in text and "\nforged line" not in text


def test_html_is_self_contained_and_inert():
    html = render(hostile_view(), "html")
    assert "<script" not in html.lower()  # no script at all: nothing to run
    assert "&lt;script&gt;" in html and 'href="javascript' not in html
    assert " src=" not in html and "<link" not in html and "url(" not in html  # no fetches
    assert "Content-Security-Policy" in html


def test_html_chart_has_a_bar_per_day_and_category_and_links_latest_reports(tmp_path):
    records = random_records(300)
    view = make_view(records)
    html = render(view, "html", output=str(tmp_path / "fleet.html"))
    n_bars = sum(len(c) for c in view.per_day_by_category().values())
    assert html.count("<rect") >= n_bars and n_bars > 0
    assert html.count('class="groups"') == 1
    linked = [g for g in view.groups[:50] if g.latest_report]
    assert html.count(">latest report</a>") == len(linked)


@pytest.mark.parametrize(
    ("report", "href"),
    [
        ("s3://b/reports/2025/x.html", "https://s3.console.aws.amazon.com/s3/object/b?prefix=reports/2025/x.html"),
        ("javascript:alert(1)", None),
        ("data:text/html,x", None),
        (None, None),
    ],
)
def test_report_links(report, href):
    assert report_href(report) == href


def test_local_report_links_are_relative_to_the_dashboard(tmp_path):
    (tmp_path / "r").mkdir()
    report = tmp_path / "r" / "x.html"
    assert report_href(str(report), output=str(tmp_path / "out" / "fleet.html")) == "../r/x.html"
    assert report_href(str(report)) == report.resolve().as_uri()


def test_an_empty_fleet_renders_everywhere():
    view = FleetView(source="x", engine="pandas", filters=Filters(since=datetime(2025, 1, 1, tzinfo=UTC)),
                     groups=[], records=0)
    for fmt in ("html", "json", "csv", "md", "text"):
        out = render(view, fmt)
        assert out
    assert "No failures match." in render(view, "text")
