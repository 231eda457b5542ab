"""Markdown, text and JSON: complete, safe with hostile text, and JSON valid against its schema."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from markdown_it import MarkdownIt

from investigator.models import CATEGORIES, SCHEMA_VERSION
from investigator.reporter import FORMATS, render, render_many
from investigator.reporter.markdown import code, fence, render_markdown
from investigator.reporter.safe_text import clip, strip_controls
from investigator.reporter.text import render_text
from tests.reporter.conftest import (
    AKIA,
    CUSPARSE_ERR,
    DIGEST,
    HF_TOKEN,
    IMG,
    REPRO_CMDS,
    SCRIPT,
    SECRETS,
    STREAM,
    TICKS,
)

# --------------------------------------------------------------------- markdown


def _md_html(md: str) -> str:
    # CommonMark with raw HTML allowed (as many ticket systems do) and GFM tables.
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(md)


class _Tags(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.code_blocks: list[str] = []
        self._in_pre = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "pre":
            self._in_pre = True
            self.code_blocks.append("")

    def handle_endtag(self, tag):
        if tag == "pre":
            self._in_pre = False

    def handle_data(self, data):
        if self._in_pre:
            self.code_blocks[-1] += data


def test_markdown_has_verdict_sections_and_tables(sfn_inv):
    md = render(sfn_inv, "md")
    assert md.startswith("## ")
    assert "**Verdict:** `cuda` (GPU stack)" in md
    assert "0.90 (high)" in md and "Do not retry unchanged" in md
    for heading in ("### Root cause", "### Evidence", "### Remediation", "### Reproduce",
                    "### Alternatives considered", "### Could not rule out",
                    "### What changed since the last good run", "### Timeline", "### Raw sources"):
        assert heading in md
    html = _md_html(md)
    tags = _Tags(html)
    # alternatives, changes, could not rule out, timeline, facts
    assert [t for t, _ in tags.tags].count("table") == 5
    # The evidence block keeps the cited line and its context; the commands are copy-pasteable.
    block = next(b for b in tags.code_blocks if CUSPARSE_ERR in b)
    assert "> " in block and "212 | " + CUSPARSE_ERR in block and "import torch" in block
    assert "\n".join(REPRO_CMDS) + "\n" in tags.code_blocks
    assert STREAM in html and "ecr:BatchGetImage" in html and DIGEST in html
    assert "<li>" in html and "<ol>" in html


def test_markdown_hostile_text_cannot_break_out(hostile_inv):
    md = render(hostile_inv, "md")
    html = _md_html(md)
    tags = _Tags(html)
    names = [t for t, _ in tags.tags]
    assert "script" not in names and "img" not in names and "b" not in names
    assert not [a for _, a in tags.tags for k in a if k.startswith("on")]
    assert "javascript:" not in "".join(str(a.get("href")) for _, a in tags.tags)
    # The evidence block holds the whole hostile line, backtick run included: the fence held.
    assert any(TICKS in b and SCRIPT in b for b in tags.code_blocks)
    assert "\x1b" not in md and "\u202e" not in md


@pytest.mark.parametrize("body", ["plain", "a ``` b", "````", "x`y", TICKS * 3])
def test_fences_and_code_spans_outlast_any_backtick_run(body):
    html = MarkdownIt("commonmark").render(fence(body, "text") + "\n\nafter")
    assert "<p>after</p>" in html and _Tags(html).code_blocks[0].rstrip("\n") == body
    span = MarkdownIt("commonmark").render(f"see {code(body)} here")
    assert span.count("<code>") == 1 and "here" in span.split("</code>")[1]


def test_markdown_table_cells_escape_pipes(hostile_inv):
    html = _md_html(render_markdown(hostile_inv))  # unredacted on purpose: only layout matters
    # The change row has three cells despite `|` in its values.
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    change = next(r for r in rows if "&quot;k&quot;" in r)
    assert change.count("<td>") + change.count("<th>") == 3


# --------------------------------------------------------------------- text


def test_text_is_complete(sfn_inv):
    out = render(sfn_inv, "text")
    for needle in ("cuda (GPU stack)", "confidence 0.90 (high)", "Do not retry unchanged",
                   "failed state: Train", "after 12m 32s", f"{STREAM}, line 212", "1. Install torch",
                   "$ " + REPRO_CMDS[0], "deps/deps-undefined-symbol (0.55)",
                   "Could not rule out", "NOT READ: ECR image metadata",
                   "fix: grant ecr:BatchGetImage", "ECR image metadata not read: 1 rule left open",
                   "What changed since the last good run",
                   "ml.g4dn.2xlarge → ml.g5.2xlarge", "GPU: 1 × A10G"):
        assert needle in out, needle
    assert "\x1b" not in out  # no colour unless asked


def test_text_colour_only_when_asked(sfn_inv):
    coloured = render_text(sfn_inv, color=True)
    assert "\x1b[1m" in coloured and "\x1b[31mDo not retry unchanged\x1b[0m" in coloured
    assert "\x1b" not in render_text(sfn_inv, color=False)


def test_text_neutralises_terminal_escapes_even_in_colour(hostile_inv):
    for color in (False, True):
        out = render(hostile_inv, "text", color=color)
        # Only our own SGR sequences may remain: ESC '[' digits/semicolons 'm'.
        stray = re.sub(r"\x1b\[[0-9;]*m", "", out)
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", stray)
        assert "␛]0;pwn␇" in out and "␛[31m" in out


def test_strip_controls_keeps_length_so_spans_stay_valid():
    text = "a\x1b[31mb\x07c\u202ed\r\x9b"
    assert len(strip_controls(text)) == len(text)
    assert strip_controls(text) == "a␛[31mb␇c\ufffdd␍?"
    assert strip_controls("tab\tnew\nline") == "tab\tnew\nline"


def test_clip_keeps_the_span_in_view():
    text = "x" * 5000 + "NEEDLE" + "y" * 5000
    clipped, span = clip(text, (5000, 5006), limit=1000)
    assert clipped[span[0] : span[1]] == "NEEDLE"
    assert len(clipped) < 1100 and "[4750 chars cut]" in clipped and "chars cut]" in clipped[-20:]
    assert clip("short", (2, 99)) == ("short", (2, 5))
    assert clip("short", (9, 12)) == ("short", None)


# --------------------------------------------------------------------- json


@pytest.fixture(scope="module")
def schema() -> dict:
    path = resources.files("investigator.reporter") / "schema" / "investigation.schema.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(data)
    return data


def _errors(schema: dict, doc) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(doc)]


def test_json_output_validates_against_the_published_schema(schema, all_invs):
    for inv in all_invs:
        doc = json.loads(render(inv, "json"))
        assert doc["schema_version"] == SCHEMA_VERSION
        assert _errors(schema, doc) == []
    many = json.loads(render_many(all_invs, "json"))
    assert len(many) == len(all_invs) and _errors(schema, many) == []


def test_schema_tracks_the_models(schema):
    inv = schema["$defs"]["investigation"]
    assert inv["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    assert schema["$defs"]["category"]["enum"] == list(CATEGORIES)


def test_schema_rejects_drift(schema, sfn_inv):
    doc = json.loads(render(sfn_inv, "json"))
    for bad in (
        {**doc, "category": "gpu"},  # not a taxonomy word
        {**doc, "schema_version": "0.9"},
        {k: v for k, v in doc.items() if k != "schema_version"},
        {**doc, "surprise": 1},  # a new key must be added to the schema on purpose
        {**doc, "confidence": 1.5},
        {**doc, "timeline": [{"time": "yesterday", "source": "sfn", "event": "x", "end": None}]},
    ):
        assert _errors(schema, bad), bad


# --------------------------------------------------------------------- every format


@pytest.mark.parametrize("fmt", FORMATS)
def test_secrets_never_appear_in_any_format(fmt, sfn_inv, hostile_inv):
    outputs = [render(sfn_inv, fmt), render(hostile_inv, fmt), render_many([sfn_inv, hostile_inv], fmt)]
    for out in outputs:
        for secret in (*SECRETS, HF_TOKEN, AKIA):
            assert secret not in out, (fmt, secret)
        assert "REDACTED" in out


@pytest.mark.parametrize("fmt", ["text", "md", "html"])
def test_no_raw_control_characters_in_human_formats(fmt, hostile_inv):
    out = render_many([hostile_inv], fmt)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", out), fmt
    assert IMG.split(" ")[0].strip('"><') in out  # the text itself is still shown


# --------------------------------------------------------------------- through the CLI


@pytest.mark.parametrize("fmt", FORMATS)
def test_investigate_log_renders_every_format_end_to_end(fmt, tmp_path):
    from click.testing import CliRunner

    from investigator.cli import main

    logs = sorted(Path(__file__).parents[1].joinpath("corpus", "cuda").glob("*.log"))[:2]
    assert len(logs) == 2
    out = tmp_path / f"report.{fmt}"
    result = CliRunner().invoke(main, ["log", *map(str, logs), "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        assert [d["source"] for d in json.loads(text)] == [str(p) for p in logs]
    elif fmt == "html":
        assert text.count("<article") == 2 and text.count("<h1") == 1
    else:
        assert all(str(p) in text for p in logs)
