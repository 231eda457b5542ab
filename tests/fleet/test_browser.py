"""The fleet dashboard in a real headless Chromium (Debian's package, as tests/reporter).

Lays out at desktop and phone width without horizontal overflow, raises no console error
(the CSP allows only the inline style: a blocked resource would show up here), and hostile
titles stay text. Screenshots at 1280 and 390 px go to the test's tmp dir.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from investigator.fleet.group import group_records
from investigator.fleet.render import render
from investigator.fleet.view import Filters, FleetView
from tests.fleet.conftest import random_records

CHROMIUM = os.environ.get("INVESTIGATOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not Path(CHROMIUM).exists():
    pytest.skip(f"Chromium not installed ({CHROMIUM}); run `make system-deps`",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("fleet")
    records = random_records(2000)
    long_arn = "arn:aws:states:us-east-1:123456789012:execution:" + "VeryLongPipelineName" * 6 + ":r"
    records.append(replace(records[0], fingerprint="e" * 16,
                           title="<img src=x onerror=alert(1)> " + "x" * 300, target=long_arn))
    view = FleetView(source=str(out), engine="pandas", filters=Filters(),
                     groups=group_records(records, Filters()), records=len(records))
    path = out / "fleet.html"
    path.write_text(render(view, "html", output=str(path)), encoding="utf-8")
    return path, len(view.groups)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        try:
            b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        except sync_api.Error as exc:
            pytest.skip(f"Chromium at {CHROMIUM} could not be driven: {exc.message.splitlines()[0]}")
        yield b
        b.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_dashboard_lays_out_without_errors_or_overflow(browser, dashboard, tmp_path, width):
    path, n_groups = dashboard
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.screenshot(path=str(tmp_path / f"fleet-{width}.png"), full_page=True)
    assert errors == [] and dialogs == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    chart = page.locator("svg.chart")
    box = chart.bounding_box()
    assert box and box["width"] <= width and box["height"] > 80  # the chart is drawn, and fits
    assert page.locator("svg.chart rect").count() > 20
    assert page.locator("ol.groups > li").count() == n_groups
    for li in page.locator("ol.groups > li").all()[:5]:
        li_box = li.bounding_box()
        assert li_box and li_box["x"] + li_box["width"] <= width
    assert page.locator("img").count() == 0  # the hostile title stayed text
    ctx.close()
