"""The shared view: every format says the same words, and the model is neutralised once."""

from __future__ import annotations

import html
from dataclasses import fields, is_dataclass
from typing import Any

import pytest

from investigator.reporter import render, safe_text, view
from investigator.reporter.markdown import esc
from investigator.taxonomy import TAXONOMY

_CONTROL = {chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]}
_BIDI = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
         "\u2069", "\u200e", "\u200f"}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if is_dataclass(value) and not isinstance(value, type):
        return [s for f in fields(value) for s in _strings(getattr(value, f.name))]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def test_the_view_holds_no_control_or_bidi_character(hostile_inv):
    strings = _strings(view.build(hostile_inv))
    assert strings
    bad = [s[:40] for s in strings if set(s) & (_CONTROL | _BIDI) - {"\n", "\t"}]
    assert not bad


@pytest.mark.parametrize("fmt", ["text", "md", "html"])
def test_each_format_neutralises_the_investigation_once(fmt, all_invs, monkeypatch):
    calls = []
    original = safe_text.neutralise_model

    def counting(model):
        calls.append(model)
        return original(model)

    monkeypatch.setattr(view, "neutralise_model", counting)
    monkeypatch.setattr(safe_text, "neutralise_model", counting)
    for inv in all_invs:
        render(inv, fmt)
    assert len(calls) == len(all_invs)


def test_all_formats_state_the_same_verdict(all_invs):
    for inv in all_invs:
        v = view.build(inv)
        text, md, page = render(inv, "text"), render(inv, "md"), render(inv, "html")
        for words in (v.label, v.retry_text):
            assert words in text
            assert esc(words) in md
            assert html.escape(words, quote=False) in page
        if v.when.failed_at:
            assert v.when.failed_at in text and v.when.failed_at in md
            assert v.when.failed_at in page
        if v.job_line:
            assert v.job_line in text and esc(v.job_line) in md


def test_every_category_has_a_family_the_view_names(log_inv):
    for info in TAXONOMY:
        inv = log_inv.replace(
            finding=log_inv.finding.replace(category=info.name)
        )
        v = view.build(inv)
        assert (v.family, v.family_label) == (info.family, info.family_label)


def test_retry_advice_follows_the_finding(log_inv, none_inv):
    assert view.build(none_inv).retry == "na"
    retryable = log_inv.replace(
        finding=log_inv.finding.replace(retryable=True)
    )
    assert view.build(retryable).retry_text == "A retry may succeed"
    stuck = log_inv.replace(
        finding=log_inv.finding.replace(retryable=False)
    )
    assert view.build(stuck).retry_text == "Do not retry unchanged"
