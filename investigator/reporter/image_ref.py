"""The image a job ran, pinned: `repo@sha256:…` instead of a tag that may have moved since.

A tag is a pointer: by the time someone copies a command from a report, `:latest` may name
another image. Every command that names the job's image uses the digest the job ran (the
digest in the submitted URI, else the one the ECR collector resolved).
"""

from __future__ import annotations

from typing import Any

import re2

_DIGEST = re2.compile(r"^sha256:[0-9a-f]{64}$")
# Characters that continue an image reference: a match followed by one is a longer name.
_REF_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/@")


def pinned(facts: dict[str, Any]) -> tuple[str, str] | None:
    """(the image as submitted, the same image by digest), or None when no digest is known."""
    uri = facts.get("sagemaker.image")
    if not isinstance(uri, str) or not uri:
        return None
    name, _, digest = uri.partition("@")
    if not digest:
        digest = facts.get("ecr.image_digest") or ""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        return None
    last = name.rsplit("/", 1)[-1]
    repo = name.rsplit(":", 1)[0] if ":" in last else name
    return uri, f"{repo}@{digest}"


def pin_command(command: str, facts: dict[str, Any]) -> str:
    """`command` with each whole occurrence of the job's image replaced by its digest form."""
    pair = pinned(facts)
    if pair is None or pair[0] == pair[1]:
        return command
    uri, ref = pair
    out, pos = [], 0
    while (hit := command.find(uri, pos)) >= 0:
        end = hit + len(uri)
        whole = (hit == 0 or command[hit - 1] not in _REF_CHARS) and (
            end == len(command) or command[end] not in _REF_CHARS)
        out.append(command[pos:hit] + (ref if whole else uri))
        pos = end
    return "".join(out) + command[pos:]
