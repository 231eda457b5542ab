"""The HTML report: what the on-call engineer reads, parsed as a browser would parse it."""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser

import pytest

from investigator.models import EvidenceLine, TimelineEvent
from investigator.reporter import render, render_many, timeline
from investigator.reporter.html import render_html, render_html_many
from investigator.taxonomy import TAXONOMY
from tests.reporter.conftest import (
    AKIA,
    DIGEST,
    HF_TOKEN,
    JOB,
    REPRO_CMDS,
    SECRETS,
    STREAM,
    WANDB_KEY,
)


class Page(HTMLParser):
    """Every element with its attributes, text per id, and inline style/script content."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text_by_id: dict[str, str] = {}
        self.texts: dict[str, list[str]] = {}  # tag → text of each element of that tag
        self._open: list[tuple[str, str | None, list[str]]] = []
        self.style = ""
        self.script = ""
        self.feed(html)
        self.close()

    _VOID = frozenset({"meta", "link", "br", "img", "input", "hr", "line", "path", "rect"})

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a))
        if tag not in self._VOID:
            self._open.append((tag, a.get("id"), []))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        while self._open:
            t, ident, buf = self._open.pop()
            text = "".join(buf)
            if ident:
                self.text_by_id[ident] = text
            self.texts.setdefault(t, []).append(text)
            if self._open:
                self._open[-1][2].append(text)
            if t == tag:
                break

    def handle_data(self, data):
        if self._open:
            self._open[-1][2].append(data)
            if self._open[-1][0] == "style":
                self.style += data
            if self._open[-1][0] == "script":
                self.script += data

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.elements if t == name]


def _sha(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


# ------------------------------------------------------------------ structure


def test_page_is_self_contained_and_csp_pins_inline_assets(sfn_inv):
    html = render(sfn_inv, "html")
    page = Page(html)
    assert page.tags("html")[0]["lang"] == "en"
    # No external asset of any kind: only links to references may leave the page.
    for tag, attrs in page.elements:
        for name in ("src", "srcset", "data", "action"):
            assert name not in attrs, (tag, attrs)
        if tag == "link":
            assert attrs.get("href", "").startswith("data:"), attrs
    assert "@import" not in page.style and "url(" not in page.style
    assert "@font-face" not in page.style
    csp = next(a["content"] for a in page.tags("meta") if a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp
    assert f"style-src '{_sha(page.style)}'" in csp
    assert f"script-src '{_sha(page.script)}'" in csp
    assert "unsafe-eval" not in csp and "http" not in csp
    assert len(page.tags("script")) == 1 and len(page.tags("style")) == 1
    # No inline event handlers or style attributes (CSP would block them anyway).
    assert not [a for _, a in page.elements for k in a if k.startswith("on") or k == "style"]


def test_headings_landmarks_and_labelled_controls(sfn_inv):
    page = Page(render_html(sfn_inv))
    levels = [int(t[1]) for t, _ in page.elements if re.fullmatch(r"h[1-6]", t)]
    assert levels.count(1) == 1 and levels[0] == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels
    assert page.tags("main") and page.tags("header") and page.tags("footer")
    for button in page.tags("button"):
        assert button.get("aria-label", "").startswith("Copy "), button
        assert "hidden" in button  # shown by the script: no dead control without JavaScript
    ids = [a["id"] for _, a in page.elements if a.get("id")]
    assert len(ids) == len(set(ids))
    # The SVG chart is named by the paragraph that says a table lists the same events.
    svg = page.tags("svg")[0]
    assert svg["role"] == "img" and "table below" in page.text_by_id[svg["aria-labelledby"]]


def _contrast(fg: str, bg: str) -> float:
    def lum(h: str) -> float:
        rgb = [int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_every_text_colour_pair_has_at_least_4_5_to_1_contrast(sfn_inv):
    css = Page(render_html(sfn_inv)).style
    fg = dict(re.findall(r"--([a-z]+)-fg: (#[0-9a-f]{6})", css))
    bg = dict(re.findall(r"--([a-z]+)-bg: (#[0-9a-f]{6})", css))
    assert set(fg) == set(bg) and len(fg) >= 15, (fg, bg)
    for name in fg:
        assert _contrast(fg[name], bg[name]) >= 4.5, name
    # Every category family has its pair, so no category renders with an unchecked colour.
    assert {c.family for c in TAXONOMY} <= set(fg)


# ------------------------------------------------------------------ content


def test_verdict_banner_says_what_when_and_whether_to_retry(sfn_inv):
    html = render_html(sfn_inv)
    page = Page(html)
    h1 = page.texts["h1"][0]
    assert h1 == sfn_inv.finding.title
    assert "cuda" in html and "GPU stack" in html  # category in words, not colour only
    assert "Confidence 0.90 (high)" in html
    assert "Do not retry unchanged" in html
    assert sfn_inv.target.name in html and ">Train<" in html and JOB in html
    # Failed when the job ended (09:24:32), 12m 32s after the execution started (09:12:00).
    assert "2024-06-03 09:24:32 UTC" in html and "12m 32s" in html


def test_retry_advice_follows_the_finding(log_inv, none_inv):
    retryable = log_inv.replace(finding=log_inv.finding.replace(retryable=True))
    assert "A retry may succeed" in render_html(retryable)
    assert "Do not retry unchanged" in render_html(log_inv)
    none_html = render_html(none_inv)
    assert "nothing to retry" in none_html and "Do not retry" not in none_html
    assert "Failed at" not in none_html  # no failure, so no failure time


def test_evidence_is_shown_in_context_with_the_span_highlighted(sfn_inv):
    html = render_html(sfn_inv)
    page = Page(html)
    assert page.texts["mark"][0] == "libcusparseLt.so.0: cannot open shared object file"
    # Each line keeps its own number: 4 lines before the cited line 212, 1 after.
    numbered = dict(re.findall(r'<span class="n">(\d+)</span><span class="t">(.*?)</span></div>', html))
    assert [int(n) for n in numbered] == list(range(208, 214))
    assert numbered["208"].startswith("Traceback") and "import torch" in numbered["210"]
    assert "Reporting training FAILURE" in numbered["213"]
    assert "OSError: <mark>libcusparseLt.so.0" in numbered["212"]
    captions = page.texts["figcaption"]
    assert STREAM in captions[0] and "line 212" in captions[0] and "09:24:30" in captions[0]
    assert "sagemaker.failure_reason" in captions[1]


def test_touching_context_windows_merge_into_one_block(log_inv):
    # Two hits three lines apart: their contexts overlap, so the reader gets one window
    # with both lines marked, and no line twice.
    lines = [f"line {n}" for n in range(1, 11)]

    def hit(n: int) -> EvidenceLine:
        text = lines[n - 1] + " ERROR"
        return EvidenceLine(source="logs", stream="s", line=n, text=text, span=(len(text) - 5, len(text)),
                            before=lines[n - 3 : n - 1], after=lines[n : n + 2])

    other = EvidenceLine(source="logs", stream="other", line=1, text="x")
    finding = log_inv.finding.replace(evidence=[hit(4), hit(7), other])
    inv = log_inv.replace(finding=finding)
    html = render_html(inv)
    page = Page(html)
    assert len(page.tags("figure")) == 2
    assert page.texts["mark"] == ["ERROR", "ERROR"]
    nums = re.findall(r'<span class="n">(\d+)</span>', html)
    assert nums == [str(n) for n in range(2, 10)] + ["1"]
    assert "lines 4, 7" in page.texts["figcaption"][0]


def test_span_shifted_by_redaction_never_breaks_the_page(sfn_inv):
    # Redaction shortens a line after the classifier computed its span; the span is clamped.
    e = EvidenceLine(source="logs", text=f"token {HF_TOKEN} failed", span=(6, 400))
    inv = sfn_inv.replace(finding=sfn_inv.finding.replace(evidence=[e]))
    page = Page(render(inv, "html"))
    assert page.texts["mark"] == ["***REDACTED*** failed"]


def test_timeline_svg_and_table_list_the_same_events(sfn_inv):
    page = Page(render_html(sfn_inv))
    bars = [e for e in sfn_inv.timeline if e.end]
    assert len(page.tags("rect")) == len(bars)
    # Instants (log events, the Failed status) and the cited line are diamonds.
    assert len(page.tags("path")) == len(sfn_inv.timeline) - len(bars) + 1
    rows = [t for t in page.texts["tr"] if "UTC" in t]
    assert len(rows) == len(sfn_inv.timeline) + 1
    text = " ".join(page.texts["td"])
    for duration in ("1m 35s", "11m 15s", "7m 20s", "52s"):
        assert duration in text
    assert "failed 09:24:32" in " ".join(page.texts["text"])  # the failure marker on the chart


def test_alternatives_could_not_rule_out_and_changes(sfn_inv):
    page = Page(render_html(sfn_inv))
    cells = " | ".join(page.texts["td"] + page.texts["th"])
    assert "deps-undefined-symbol" in cells and "before the final exception" in cells
    assert "platform-image-arch-mismatch" in cells
    unread = " ".join(page.texts["li"])
    assert "ECR image metadata" in unread and "access denied" in unread
    assert "ecr:BatchGetImage" in page.texts["code"]
    assert "sha256:1a2b3c4d5e6f" in cells and DIGEST in cells
    assert "ml.g4dn.2xlarge" in cells and "nightly-2024-06-02" in " ".join(page.texts["code"])


def test_remediation_is_an_ordered_list_with_code_spans(sfn_inv):
    page = Page(render_html(sfn_inv))
    items = [t for t in page.texts["li"] if t.startswith("Install torch together")]
    assert items
    assert "--no-deps" in page.texts["code"]  # `--no-deps` in the playbook shows as code
    assert page.tags("ol")


def test_each_repro_command_is_copyable_exactly(sfn_inv):
    page = Page(render_html(sfn_inv))
    buttons = page.tags("button")
    targets = [b["data-copy"] for b in buttons]
    commands = [page.text_by_id[t] for t in targets]
    assert commands[: len(REPRO_CMDS)] == REPRO_CMDS
    # No kit was written, so the report says how to write one for this very execution.
    assert commands[-1] == f"investigate execution {sfn_inv.target.name} --repro repro"


def test_repro_kit_link_when_the_kit_was_written(sfn_inv):
    page = Page(render_html(sfn_inv, repro_href="repro/repro.sh"))
    assert {"href": "repro/repro.sh"} in [{"href": a.get("href")} for a in page.tags("a")]
    assert not any(b["data-copy"].endswith("kit") for b in page.tags("button"))


def test_facts_table_shows_instance_gpu_image_and_redacted_hyperparameters(sfn_inv):
    html = render(sfn_inv, "html")
    page = Page(html)
    cells = " | ".join(page.texts["td"])
    assert "ml.g5.2xlarge" in cells and "1 × A10G, 24 GB each, compute capability 8.6" in cells
    assert DIGEST in cells and "amd64" in cells and "2e-05" in cells
    for secret in SECRETS:
        assert secret not in html
    assert html.count("***REDACTED***") >= 2


def test_log_only_report_has_no_aws_sections(log_inv):
    page = Page(render_html(log_inv))
    html = render_html(log_inv)
    assert "no timestamps" in html and not page.tags("svg")
    assert "No facts were collected" in html
    assert page.texts["mark"] == ["ModuleNotFoundError"]


def test_many_investigations_share_one_page(all_invs):
    html = render_many(all_invs, "html")
    page = Page(html)
    assert len(page.tags("h1")) == 1
    assert len(page.tags("article")) == len(all_invs)
    # The summary links to each investigation's verdict heading.
    links = [a["href"] for a in page.tags("a") if a.get("href", "").startswith("#r")]
    ids = {a["id"] for _, a in page.elements if a.get("id")}
    assert len(links) == len(all_invs) and all(h[1:] in ids for h in links)
    for inv in all_invs[:3]:
        assert inv.finding.title in page.texts["td"]
    ids_list = [a["id"] for _, a in page.elements if a.get("id")]
    assert len(ids_list) == len(set(ids_list))
    assert render_html_many(all_invs[:1]).count("<h1") == 1


# ------------------------------------------------------------------ hostile text


def test_hostile_text_is_never_markup(hostile_inv):
    for html in (render(hostile_inv, "html"), render_many([hostile_inv, hostile_inv], "html")):
        page = Page(html)
        assert not page.tags("img") and not page.tags("b")
        assert len(page.tags("script")) == 1
        for _, attrs in page.elements:
            assert not [k for k in attrs if k.startswith("on")], attrs
        # Only our references link out, and never with a javascript: URL.
        assert all(not (a.get("href") or "").startswith("javascript") for a in page.tags("a"))
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#39;pwn&#39;)&lt;/script&gt;" in html


def test_hostile_text_keeps_no_terminal_or_bidi_control_characters(hostile_inv):
    html = render(hostile_inv, "html")
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", html)
    assert "␛]0;pwn␇" in html  # visible, inert


def test_secrets_never_reach_the_html(hostile_inv, sfn_inv):
    for html in (render(hostile_inv, "html"), render_many([sfn_inv, hostile_inv], "html")):
        for secret in (HF_TOKEN, AKIA, WANDB_KEY):
            assert secret not in html


def test_very_long_lines_are_clipped_around_the_match(hostile_inv):
    page = Page(render(hostile_inv, "html"))
    assert "RuntimeError" in page.texts["mark"]
    log = page.text_by_id["r1-ev2"]
    assert "chars cut]" in log and len(log) < 1500


# ------------------------------------------------------------------ timeline unit


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.4, "<1s"), (45, "45s"), (750, "12m 30s"), (3600, "1h 00m"),
     (7530, "2h 05m"), (90000, "1d 1h"), (None, "")],
)
def test_human_duration(seconds, text):
    assert timeline.human_duration(seconds) == text


def test_timeline_mixes_naive_and_aware_times_without_crashing(log_inv):
    naive = datetime(2024, 1, 1, 12, 0, 0)
    events = [
        TimelineEvent(time=naive, end=naive + timedelta(minutes=5), source="sfn", event="Train"),
        TimelineEvent(time=naive.replace(tzinfo=timeline.UTC) + timedelta(minutes=6), source="logs",
                      event="ExecutionFailed"),
    ]
    inv = log_inv.replace(timeline=events)
    tl = timeline.build(inv)
    assert tl.failed_at == naive.replace(tzinfo=timeline.UTC) + timedelta(minutes=6)
    assert timeline.human_duration(tl.failed_after_s) == "6m 00s"
    assert "<svg" in render_html(inv)
