"""The report in a real headless Chromium (Debian's package, installed by scripts/system-deps.sh).

Worth the ~10 s: only a browser proves the page lays out at phone width, that the CSP does
not block our own assets (a hash mismatch shows up as a console error), that the copy button
really puts the exact command on the clipboard, and that hostile text runs nothing.
Screenshots at 1280 and 390 px are written to the test's tmp dir for a human to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from investigator.reporter import render, render_many
from tests.reporter.conftest import (
    OPEN_RULES,
    REPRO_CMDS,
    make_blind_inv,
    make_hostile_inv,
    make_log_inv,
    make_none_inv,
    make_sfn_inv,
)

CHROMIUM = os.environ.get("INVESTIGATOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WIDTHS = (1280, 390)

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"Chromium not installed ({CHROMIUM}); run `make system-deps` (Debian package 'chromium')",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright not installed (pip install -e '.[dev]')"
)


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("reports")
    pages = {
        "sfn": render(make_sfn_inv(), "html"),
        "hostile": render(make_hostile_inv(), "html"),
        "blind": render(make_blind_inv(), "html"),
        "many": render_many([make_sfn_inv(), make_log_inv(), make_none_inv(), make_hostile_inv()],
                            "html"),
    }
    for name, html in pages.items():
        (out / f"{name}.html").write_text(html, encoding="utf-8")
    return {name: out / f"{name}.html" for name in pages}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # launch() gives Chromium a fresh temporary --user-data-dir of its own.
    with sync_api.sync_playwright() as pw:
        try:
            b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        except sync_api.Error as exc:  # e.g. a chromium this playwright cannot drive
            pytest.skip(f"Chromium at {CHROMIUM} could not be driven: {exc.message.splitlines()[0]}")
        yield b
        b.close()


class Watched:
    """A page whose console errors, page errors and dialogs are recorded."""

    def __init__(self, browser, width: int) -> None:
        self.ctx = browser.new_context(viewport={"width": width, "height": 900})
        self.ctx.grant_permissions(["clipboard-read", "clipboard-write"])
        self.page = self.ctx.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: Path) -> Watched:
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")
        return self


@pytest.fixture
def watched(browser) -> Iterator[callable]:
    opened: list[Watched] = []

    def factory(width: int) -> Watched:
        w = Watched(browser, width)
        opened.append(w)
        return w

    yield factory
    for w in opened:
        w.ctx.close()


@pytest.mark.parametrize("name", ["sfn", "hostile", "many", "blind"])
@pytest.mark.parametrize("width", WIDTHS)
def test_renders_without_errors_or_page_overflow(watched, reports, tmp_path, name, width):
    w = watched(width).open(reports[name])
    page = w.page
    shot = tmp_path / f"{name}-{width}.png"
    # Full-page shots of a 12 000 px page take seconds; the single report is the one to review.
    page.screenshot(path=str(shot), full_page=name in ("sfn", "blind"))
    assert shot.stat().st_size > 10_000
    assert w.errors == [], w.errors  # includes CSP violations of our own inline assets
    assert w.dialogs == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # The script ran (copy buttons shown) and hostile text created no element.
    assert page.locator("button.copy").first.is_visible()
    assert page.locator("img").count() == 0 and page.locator("script").count() == 1
    assert page.evaluate("document.title") != ""


def test_timeline_scrolls_inside_its_own_box_on_a_phone(watched, reports):
    page = watched(390).open(reports["sfn"]).page
    box = page.locator(".tl-wrap")
    assert box.evaluate("e => e.scrollWidth > e.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Text in the chart stays legible (at least ~10 CSS px).
    size = page.locator("svg.timeline .tl-label").first.evaluate(
        "e => e.getBoundingClientRect().height")
    assert size >= 10


def test_copy_button_puts_the_exact_command_on_the_clipboard(watched, reports):
    page = watched(1280).open(reports["sfn"]).page
    for n, cmd in enumerate(REPRO_CMDS[:2], 1):
        button = page.get_by_role("button", name=f"Copy command {n} to the clipboard")
        button.click()
        page.wait_for_function("b => b.textContent === 'Copied'", arg=button.element_handle())
        assert page.evaluate("navigator.clipboard.readText()") == cmd
    assert page.locator("#copy-status").text_content() == "Command copied to the clipboard"


def test_copy_falls_back_without_the_clipboard_api(watched, reports):
    w = watched(1280)
    # Older browsers or an insecure context: no navigator.clipboard. The copy event proves
    # document.execCommand('copy') copied the command's text.
    w.page.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined});"
        "document.addEventListener('copy', () => {"
        "  window.__copied = document.activeElement.value; });"
    )
    page = w.open(reports["sfn"]).page
    page.get_by_role("button", name="Copy command 3 to the clipboard").click()
    page.wait_for_function("() => window.__copied !== undefined")
    assert page.evaluate("window.__copied") == REPRO_CMDS[2]
    assert page.locator("#copy-status").text_content() == "Command copied to the clipboard"
    assert w.errors == []


def test_readable_without_javascript(browser, reports):
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(reports["sfn"].as_uri())
    assert page.locator("button.copy").first.is_hidden()  # no dead control
    assert page.locator("pre code").first.text_content() == REPRO_CMDS[0]
    assert page.locator("svg.timeline").is_visible() and page.locator("mark").first.is_visible()
    ctx.close()


def test_print_hides_buttons_and_backgrounds(watched, reports):
    page = watched(1280).open(reports["sfn"]).page
    page.emulate_media(media="print")
    assert page.locator("button.copy").first.is_hidden()
    bg = page.locator(".chip").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert bg in ("rgba(0, 0, 0, 0)", "transparent")
    assert page.locator("table").first.is_visible()


# ------------------------------------------------------------ the report for 3 a.m. (issue 13)


def _top(page, selector: str) -> float:
    return page.locator(selector).first.evaluate("e => e.getBoundingClientRect().top")


@pytest.mark.parametrize("width", WIDTHS)
def test_what_was_not_read_and_the_first_step_are_on_the_first_screen(watched, reports, width):
    page = watched(width).open(reports["blind"]).page
    alert = page.get_by_role("alert")
    assert alert.is_visible() and "CloudWatch logs" in alert.inner_text()
    assert "logs:GetLogEvents" in alert.inner_text() and "aws logs tail" in alert.inner_text()
    assert alert.evaluate("e => e.getBoundingClientRect().bottom") <= 900  # no scrolling
    assert _top(page, ".first-step") <= 900
    assert page.locator(".verdict .chip").nth(1).inner_text() == (
        "Retry: unknown (the cause is not established)")


@pytest.mark.parametrize("width", WIDTHS)
def test_could_not_rule_out_shows_the_few_and_folds_the_rest(watched, reports, width):
    page = watched(width).open(reports["blind"]).page
    section = page.locator("section", has=page.locator("h2", has_text="Could not rule out"))
    table = section.locator("table")
    assert table.locator("tbody tr").count() == 1  # one row per source not read
    shown = table.inner_text()
    assert "CloudWatch logs" in shown and str(len(OPEN_RULES)) in shown
    assert "cuda-no-kernel-image" not in shown  # a CPU instance: GPU rules are not plausible
    fold = section.locator("details")
    assert not fold.locator("li").first.is_visible()  # folded away ...
    fold.locator("summary").click()
    assert fold.locator("li", has_text="cuda-no-kernel-image").is_visible()  # ... but there
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_sections_are_in_the_order_of_action_and_raw_sources_fold(watched, reports, width):
    page = watched(width).open(reports["sfn"]).page
    order = ["Evidence", "What changed since the last good run", "Root cause", "Remediation",
             "Timeline", "Raw sources"]
    tops = [_top(page, f"article h2:text-is('{h}')") for h in order]
    assert tops == sorted(tops), dict(zip(order, tops, strict=True))
    assert _top(page, ".first-step") < tops[0]
    raw = page.locator("details.raw")
    assert not raw.locator("pre").first.is_visible()  # raw SageMaker / Step Functions text
    raw.locator("summary").click()
    assert "States.TaskFailed" in raw.locator("pre").nth(1).inner_text()


@pytest.mark.parametrize("name", ["sfn", "blind"])
def test_no_placeholder_is_visible(watched, reports, name):
    text = watched(390).open(reports[name]).page.locator("main").inner_text()
    assert "(unknown)" not in text and "{" not in text and "|fallback" not in text
