"""`investigate log`: classify saved log files offline, streaming them in bounded memory."""

from __future__ import annotations

import gzip
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from investigator.classifier import Library, classify, default_library
from investigator.classifier.scanner import TextSource, file_chunks
from investigator.errors import InputError
from investigator.models import Evidence, Investigation, Target

STDIN = "-"


@contextmanager
def open_log(path: str) -> Iterator[BinaryIO]:
    """Open a log for binary reading: `-` is stdin, `.gz` is decompressed on the fly."""
    if path == STDIN:
        yield sys.stdin.buffer
        return
    try:
        fh: BinaryIO = gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        yield fh


def _chunks(fh: BinaryIO, path: str) -> Iterator[bytes]:
    try:
        yield from file_chunks(fh)
    except (OSError, EOFError, zlib.error) as exc:
        # IsADirectoryError, a truncated or corrupt .gz, an unreadable device...
        msg = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"cannot read {path}: {msg}") from None


def investigate_log(path: str, library: Library | None = None) -> Investigation:
    library = library or default_library()
    label = "<stdin>" if path == STDIN else path
    with open_log(path) as fh:
        source = TextSource("logs", label, _chunks(fh, label))
        evidence = Evidence(target=Target(kind="log", name=label))
        return classify(evidence, library, log_sources=[source], source_label=label)
