"""Hostile text from logs must not drive the reader's terminal, page or ticket.

Every renderer passes the investigation through `neutralise_model` first, so terminal
escape sequences, bells, carriage returns and bidi overrides become visible, inert glyphs
in every format. Over-long lines are clipped around the part that matters.
"""

from __future__ import annotations

from typing import Any, TypeVar

import re2

from investigator.models import is_model, map_fields

# C0 controls except tab and newline, DEL, C1 controls (which include the 8-bit CSI).
_CONTROLS = re2.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi embeddings/overrides/isolates can make a line read differently than it is ("Trojan Source").
_BIDI = re2.compile(r"[\x{200e}\x{200f}\x{202a}-\x{202e}\x{2066}-\x{2069}]")

# A displayed log line longer than this is clipped; the JSON keeps the full text.
MAX_LINE = 1000
ELLIPSIS = " … "

T = TypeVar("T")


def _picture(ch: str) -> str:
    """The Unicode 'control picture' for a C0 control or DEL (ESC → ␛), '?' for C1."""
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else "?"


def strip_controls(text: str) -> str:
    """Replace control characters and bidi overrides with visible, inert characters.

    Tab and newline are kept; callers that need one line use `one_line`.
    """
    if not text:
        return text
    text = _CONTROLS.sub(lambda m: _picture(m.group(0)), text)
    return _BIDI.sub(lambda _m: "\ufffd", text)


def one_line(text: str) -> str:
    """Neutralised text on a single line (newlines and tabs become spaces)."""
    return strip_controls(text).replace("\r", " ").replace("\n", " ").replace("\t", " ")


def clip(
    text: str, span: tuple[int, int] | None = None, limit: int = MAX_LINE
) -> tuple[str, tuple[int, int] | None]:
    """Clip an over-long line to `limit` characters, keeping the highlighted span in view.

    Returns the (possibly) clipped text and the span shifted to match it.
    """
    span = valid_span(text, span)
    if len(text) <= limit:
        return text, span
    # Start a little before the span so the reader sees what led to the match.
    start = max(0, min(span[0] - limit // 4, len(text) - limit)) if span else 0
    end = start + limit
    head = f"[{start} chars cut]{ELLIPSIS}" if start else ""
    tail = f"{ELLIPSIS}[{len(text) - end} chars cut]" if end < len(text) else ""
    shifted = None
    if span:
        shifted = (span[0] - start + len(head), min(span[1], end) - start + len(head))
    return head + text[start:end] + tail, shifted


def valid_span(text: str, span: tuple[int, int] | None) -> tuple[int, int] | None:
    """A span clamped into the text, or None when it is empty or nonsensical.

    Redaction can shorten a line after the classifier computed its span, so never trust it.
    """
    if span is None:
        return None
    lo, hi = max(0, span[0]), min(len(text), span[1])
    return (lo, hi) if lo < hi else None


def _neutralise(value: Any) -> Any:
    if isinstance(value, str):
        return strip_controls(value)
    if is_model(value):
        return map_fields(value, lambda _name, v: _neutralise(v))
    if isinstance(value, dict):
        return {_neutralise(k): _neutralise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_neutralise(v) for v in value)
    return value


def neutralise_model(model: T) -> T:
    """A copy of a model with every string (keys too) through strip_controls."""
    assert is_model(model)
    return _neutralise(model)  # type: ignore[no-any-return]
