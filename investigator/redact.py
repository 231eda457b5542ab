"""Secrets never reach a report or a log line we write.

Applied at the collector boundary (text and facts as collected) and again on every
investigation before it is rendered, so a secret that slipped into a log line, a
hyperparameter or an explanation filled from a regex capture is still removed. The text
is untrusted, so the patterns run on RE2 (linear time).
"""

from __future__ import annotations

from functools import partial
from typing import Any, TypeVar

import re2

from investigator.models import is_model, map_fields

MASK = "***REDACTED***"

# Names whose values are secrets wherever they appear (env, hyperparameters, key=value text).
# The secret word must end a word part (`HF_TOKEN`, `TOKEN_FILE`, `SECRET_KEY_BASE`), so
# `TOKENIZERS_PARALLELISM`, `max_new_tokens` or `SECRETS_MANAGER_ARN` are not secrets.
_SECRET_NAME = (
    r"[A-Za-z0-9_.-]*"
    r"(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)"
    r"(?:_[A-Za-z0-9]+)*"
)
# Tokenizer vocabulary, not credentials: `pad_token`, `eos_token_id`, `max_token_length`...
# (Hugging Face configs and warnings print these constantly.)
_BENIGN_NAME = re2.compile(
    r"(?i)(?:^|[_.-])(?:pad|eos|bos|unk|sep|cls|mask|special|additional_special|max|min|num|"
    r"total|vocab|decoder_start)_token(?:_|$)"
    r"|_token_(?:ids?|len|length|count|type|limit)$|^token_(?:ids?|type_ids?)$"
)

# (pattern, replacement): replacements keep the name so the reader still knows what was there.
_RULES: list[tuple[str, str]] = [
    # Quoted values first, so a secret with spaces is masked whole.
    (
        rf"(?i)(\b(?P<name>{_SECRET_NAME})[\"']?\s*[=:]\s*)(\"[^\"\n]*\"|'[^'\n]*')",
        rf"\1\"{MASK}\"",
    ),
    (r"(?i)(\bpass(?:word|wd)?[\"']?\s*[=:]\s*)(\"[^\"\n]*\"|'[^'\n]*')", rf"\1\"{MASK}\""),
    # NAME=value / NAME: value / "NAME": "value" for secret-looking names (incl. *_TOKEN, *_SECRET)
    (
        rf"(?i)(\b(?P<name>{_SECRET_NAME})[\"']?\s*[=:]\s*[\"']?)([^\s\"',;}}&]+)",
        rf"\1{MASK}",
    ),
    (r"(?i)(\bpass(?:word|wd)?[\"']?\s*[=:]\s*[\"']?)([^\s\"',;}&]+)", rf"\1{MASK}"),
    (r"(?i)(\bpwd\s*=\s*)([^\s\"',;}&]+)", rf"\1{MASK}"),
    # Authorization headers and bearer tokens
    (r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*", rf"\1{MASK}"),
    (r"(?i)(\bAuthorization\s*:\s*(?:Basic|Token)\s+)\S+", rf"\1{MASK}"),
    # Well-known token shapes
    (r"\b(?:AKIA|ASIA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b", MASK),
    (r"\bhf_[A-Za-z0-9]{20,}\b", MASK),
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", MASK),
    (r"\bgithub_pat_[A-Za-z0-9_]{40,}\b", MASK),
    (r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b", MASK),
    (r"\bsk-[A-Za-z0-9_-]{20,}\b", MASK),
    (r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b", MASK),
    # Credentials inside URLs: scheme://user:password@host
    (r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@", rf"\1{MASK}@"),
    # PEM private keys (the header line is enough to know the rest is secret)
    (r"-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]*", f"-----BEGIN PRIVATE KEY-----{MASK}"),
]


def _is_arn_resource_type(match: Any) -> bool:
    """`arn:aws:secretsmanager:…:secret:NAME` names a secret; it is not one."""
    start = match.start()
    name = match.group("name").lower()
    return name == "secret" and start > 0 and match.string[start - 1] == ":" and (
        "arn:" in match.string[max(0, start - 120) : start]
    )


def _substitute(template: str, match: Any) -> str:
    """The template, except where the secret-looking name is tokenizer vocabulary."""
    name = match.groupdict().get("name")
    if name and (_BENIGN_NAME.search(name) or _is_arn_resource_type(match)):
        return match.group(0)
    return match.expand(template)


_COMPILED = [(re2.compile(p), partial(_substitute, r)) for p, r in _RULES]
_SECRET_KEY = re2.compile(rf"(?i)^{_SECRET_NAME}$|^(?:pass(?:word|wd)?|pwd)$")

T = TypeVar("T")


def redact_text(text: str) -> str:
    if not text:
        return text
    for rx, repl in _COMPILED:
        text = rx.sub(repl, text)
    return text


def is_secret_name(name: str) -> bool:
    return _SECRET_KEY.search(name) is not None and _BENIGN_NAME.search(name) is None


def redact_value(value: Any, key: str | None = None) -> Any:
    """Redact a JSON-like value; a secret-looking key masks its whole value."""
    if key is not None and is_secret_name(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if is_model(value):
        return map_fields(value, lambda name, v: redact_value(v, name))
    if isinstance(value, dict):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


def redact_model(model: T) -> T:
    """A copy of a model with every string in it redacted."""
    assert is_model(model)
    return redact_value(model)  # type: ignore[no-any-return]
