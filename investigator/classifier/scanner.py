"""Streaming, linear-time multi-pattern scan of log text.

All patterns of all rules are compiled once into one RE2 `Set`. Each text source is read
in large chunks cut at line boundaries; the set says which patterns occur in a chunk, and
only those patterns are located (first and last few hits per pattern) to recover line
numbers, text and context. Memory is bounded by the chunk size whatever the file or line
length; RE2 guarantees linear time on hostile text.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

import re2

CHUNK_BYTES = 4 << 20
KEEP_FIRST = 4  # hits kept per pattern from the start of the evidence
KEEP_LAST = 4  # and from the end (where failures usually are)
CONTEXT_LINES = 3
MAX_TEXT = 800  # characters of a cited line kept around its match
_TAIL_WINDOW = 64 << 10
WORKERS = 2  # the CI and Lambda machines have 2 cores
RING = WORKERS + 2  # buffers file_chunks cycles through
# RE2's DFA cache budget for the whole set; beyond it RE2 fails rather than backtracks.
_SET_MAX_MEM = 96 << 20
# ANSI colour/cursor codes, with or without the ESC byte (copy-paste from a terminal or a
# web page often loses it and leaves "[31m"). Removed before matching: they sit mid-line,
# between a level and its colon, where no pattern could expect them.
_ANSI = re2.compile(
    rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\n]*\x07|\x1b[()][A-Z0-9]|\[(?:\d{1,3};)*\d{1,3}m"
)
_ESC = b"\x1b"
_BARE_RESET = b"[0m"  # an ANSI reset that lost its ESC: pasted text, looked for in a first chunk


class ScanError(Exception):
    """The pattern set could not be built or run (e.g. DFA memory budget exceeded)."""


@dataclass(frozen=True)
class Hit:
    pattern: int
    source: str  # "logs" or a text-fact name such as "sagemaker.failure_reason"
    stream: str | None
    line: int  # 1-based line number within the stream
    order: tuple[int, int]  # (source sequence, line): total order of everything scanned
    text: str
    span: tuple[int, int] | None
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    groups: dict[str, str] = field(default_factory=dict)
    timestamp: datetime | None = None


@dataclass
class _PatternHits:
    first: list[Hit] = field(default_factory=list)
    last: deque[Hit] = field(default_factory=lambda: deque(maxlen=KEEP_LAST))

    def add(self, hit: Hit) -> None:
        if len(self.first) < KEEP_FIRST:
            self.first.append(hit)
        elif not self.last or self.last[-1].order < hit.order:
            self.last.append(hit)

    def all(self) -> list[Hit]:
        seen = {h.order for h in self.first}
        return [*self.first, *(h for h in self.last if h.order not in seen)]


Chunk = tuple[bytes | bytearray, int]  # a buffer and how many of its bytes are data

TAIL_BYTES = 32 << 10  # end of each log kept for the learned fallback (failures are at the end)
_SNIFF = 8 << 10  # bytes of a source's start that decide whether it is binary
_NON_SPACE = re2.compile(rb"\S")
# Control bytes that never occur in a text log (tab, LF, CR, FF, BS and ESC do).
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\f\b\x1b") + b"\x7f"


@dataclass
class ScanStats:
    """What the log sources held, beyond pattern hits: was there anything to examine?"""

    log_bytes: int = 0
    log_sources: int = 0
    binary_sources: int = 0
    has_text: bool = False  # a non-whitespace byte in a text (non-binary) log source
    # each log source's kept end (tail_key): its bytes and the number of its last line
    tails: dict[str, tuple[bytes, int]] = field(default_factory=dict)

    @property
    def nothing_to_examine(self) -> bool:
        return not self.has_text

    def tail_text(self, limit: int = TAIL_BYTES) -> str:
        return "\n".join(_decode(t[-limit:]) for t, _ in self.tails.values())

    def tail_lines(self, key: str) -> list[tuple[int, str]]:
        """(line number, text) of each line kept at the end of a log source (tails' key);
        the first may be cut."""
        tail, last = self.tails.get(key, (b"", 0))
        if not tail:
            return []
        lines = _decode(tail).split("\n")
        if lines[-1] == "":
            lines.pop()
        return [(last - len(lines) + 1 + i, line.rstrip("\r")) for i, line in enumerate(lines)]


def tail_key(stream: str | None, seq: int) -> str:
    """The key of a log source's kept tail: its stream, or its place among the sources."""
    return stream or f"log-{seq}"


def looks_binary(sample: bytes) -> bool:
    """Like file(1)/git: many control bytes or undecodable UTF-8 means not a text log."""
    if not sample:
        return False
    control = len(sample) - len(sample.translate(None, _CONTROL))
    if control > len(sample) // 10:
        return True
    text = sample.decode("utf-8", errors="replace")
    return text.count("\ufffd") > len(text) // 5


@dataclass(frozen=True)
class TextSource:
    """A text source to scan: a stream of chunks plus how to label its lines.

    Chunks end at a line boundary except when one line is longer than a chunk.
    """

    source: str
    stream: str | None
    chunks: Iterable[Chunk]
    first_line: int = 1
    # Timestamp of line i (0-based from first_line) when the source knows it.
    timestamps: Sequence[datetime | None] | None = None


def bytes_chunks(data: bytes) -> list[Chunk]:
    return [(data, len(data))] if data else []


def file_chunks(fh: BinaryIO, size: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """Read with readinto into a small ring of reused buffers (no per-chunk allocation).

    Each chunk ends at its last newline; the partial line is carried to the next one. A
    line longer than `size` is cut, so memory stays bounded. A yielded chunk stays valid
    until RING - 1 more chunks have been read: the scanner keeps at most WORKERS + 1 in
    flight.
    """
    # carry (the partial last line) is always shorter than `size`, so 2 * size suffices.
    ring: list[bytearray] = []  # allocated as needed: a short log needs one buffer, not RING
    carry = b""
    i = 0
    while True:
        if i >= len(ring) < RING:
            ring.append(bytearray(2 * size))
        buf = ring[i % RING]
        buf[: len(carry)] = carry
        got = _fill(fh, memoryview(buf)[len(carry) : len(carry) + size])
        n = len(carry) + got
        if got == 0:
            if n:
                yield buf, n
            return
        cut = buf.rfind(b"\n", 0, n)
        if cut == -1 and n < size:
            carry = bytes(buf[:n])  # a short final line: the next read flushes it
            continue
        # A line longer than a chunk is cut there (bounded memory).
        end = n if cut == -1 else cut + 1
        carry = bytes(buf[end:n])
        i += 1
        yield buf, end


def _fill(fh: BinaryIO, view: memoryview) -> int:
    """readinto until the view is full or EOF (pipes and gzip return short reads)."""
    total = 0
    while total < len(view):
        got = fh.readinto(view[total:])  # type: ignore[attr-defined]
        if not got:
            break
        total += got
    return total


def _decode(b: bytes | bytearray) -> str:
    return bytes(b).decode("utf-8", errors="replace")


def _clip(line: bytes, start: int, end: int) -> tuple[str, tuple[int, int]]:
    """Text of a line clipped to MAX_TEXT around the match, and the match span in it."""
    lo, hi = 0, len(line)
    if len(line) > MAX_TEXT:
        lo = max(0, start - MAX_TEXT // 4)
        hi = min(len(line), max(end, lo) + MAX_TEXT // 2)
    prefix = _decode(line[lo:start])
    match = _decode(line[start:end])
    text = prefix + match + _decode(line[end:hi])
    return text.rstrip("\r"), (len(prefix), len(prefix) + len(match))


def _context(
    buf: bytes | bytearray, n: int, ls: int, le: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    before: list[str] = []
    pos = ls
    while pos > 0 and len(before) < CONTEXT_LINES:
        prev = buf.rfind(b"\n", 0, pos - 1) + 1
        before.append(_decode(buf[prev : min(pos - 1, prev + MAX_TEXT)]).rstrip("\r"))
        pos = prev
    after: list[str] = []
    pos = le + 1
    while pos < n and len(after) < CONTEXT_LINES:
        nxt = buf.find(b"\n", pos, n)
        nxt = n if nxt == -1 else nxt
        after.append(_decode(buf[pos : min(nxt, pos + MAX_TEXT)]).rstrip("\r"))
        pos = nxt + 1
    return tuple(reversed(before)), tuple(after)


def strip_ansi(buf: bytes | bytearray, n: int, bare: bool = True) -> Chunk:
    """The chunk without ANSI codes (line count unchanged); a no-op copy-free when absent.

    The ESC byte is a memchr away; codes that lost it (copy-paste) are looked for only when
    `bare` (a source's first chunk: pasted logs are small), since that search costs more.
    """
    if buf.find(_ESC, 0, n) == -1 and not (bare and buf.find(_BARE_RESET, 0, n) != -1):
        return buf, n
    clean = _ANSI.sub(b"", bytes(memoryview(buf)[:n]))
    return clean, len(clean)


def _vetoed(vetoes: list, buf: bytes | bytearray, n: int, pos: int) -> bool:
    ls = buf.rfind(b"\n", 0, pos) + 1
    le = buf.find(b"\n", pos, n)
    line = bytes(buf[ls : n if le == -1 else le])
    return any(v.search(line) for v in vetoes)


class PatternSet:
    """Every distinct regex of the library, compiled once into one RE2 Set.

    `vetoes[i]` lists regexes that, when they also match a hit's line, make it no hit of
    pattern i (a line-level exception, e.g. pip's resolver notice for a generic ERROR).
    """

    def __init__(
        self, regexes: Sequence[str], vetoes: Sequence[Sequence[str]] | None = None
    ) -> None:
        self.regexes = list(regexes)
        opts = re2.Options()
        opts.max_mem = _SET_MAX_MEM
        # Patterns are per line: never let \s or [^x] run across a newline (which would
        # also credit a hit to the previous line).
        opts.never_nl = True
        self._opts = opts
        self._set = re2.Set.SearchSet(opts)
        self._opts = opts
        for rx in self.regexes:
            # (?m) so ^ and $ anchor at line boundaries inside a chunk.
            if self._set.Add(f"(?m){rx}") < 0:
                raise ScanError(f"RE2 refused pattern {rx!r}")
        # Single patterns are compiled when the set first reports them (most never hit):
        # start-up time matters for one-line logs.
        self._compiled: list = [None] * len(self.regexes)
        self._veto_src = list(vetoes) if vetoes is not None else [()] * len(self.regexes)
        self._vetoes: list = [None] * len(self.regexes)
        try:
            self._set.Compile()  # returns None; raises when the set cannot be built
        except Exception as exc:
            raise ScanError(f"RE2 could not compile the pattern set: {exc}") from None

    def scan(
        self, sources: Iterable[TextSource], stats: ScanStats | None = None
    ) -> dict[int, list[Hit]]:
        hits: dict[int, _PatternHits] = {}
        stats = stats if stats is not None else ScanStats()
        # RE2 releases the GIL while matching, so chunks are matched on worker threads
        # while this thread reads ahead, counts lines and locates hits in order.
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for seq, src in enumerate(sources):
                self._scan_source(pool, seq, src, hits, stats)
        return {i: h.all() for i, h in hits.items()}

    def _match(self, buf: bytes | bytearray, n: int) -> Sequence[int]:
        try:
            return self._set.Match(memoryview(buf)[:n]) or ()
        except Exception as exc:  # the binding raises on DFA memory exhaustion
            raise ScanError(f"pattern scan failed: {exc}") from None

    def _scan_source(
        self,
        pool: ThreadPoolExecutor,
        seq: int,
        src: TextSource,
        hits: dict[int, _PatternHits],
        stats: ScanStats,
    ) -> None:
        base = src.first_line - 1  # lines before the current chunk
        window: deque[tuple[bytes | bytearray, int, Future[Sequence[int]]]] = deque()
        is_log = src.source == "logs"
        binary: bool | None = None
        tail = b""
        if is_log:
            stats.log_sources += 1
        first = True
        for raw, size in src.chunks:
            buf, n = strip_ansi(raw, size, bare=first) if size else (raw, size)
            first = first and not size
            if is_log and n:
                stats.log_bytes += n
                if binary is None:
                    binary = looks_binary(bytes(memoryview(buf)[: min(n, _SNIFF)]))
                    stats.binary_sources += binary
                if not binary and not stats.has_text:
                    stats.has_text = _NON_SPACE.search(memoryview(buf)[:n]) is not None
                tail = (tail + bytes(memoryview(buf)[max(0, n - TAIL_BYTES) : n]))[-TAIL_BYTES:]
            if n:
                window.append((buf, n, pool.submit(self._match, buf, n)))
            while window and (len(window) > WORKERS or not n):
                base = self._consume(seq, src, base, *window.popleft(), hits)
        while window:
            base = self._consume(seq, src, base, *window.popleft(), hits)
        if is_log and tail and not binary:
            # base counts newlines; a last line without one is one more
            stats.tails[tail_key(src.stream, seq)] = (tail, base + (not tail.endswith(b"\n")))

    def _consume(
        self,
        seq: int,
        src: TextSource,
        base: int,
        buf: bytes | bytearray,
        n: int,
        fut: Future[Sequence[int]],
        hits: dict[int, _PatternHits],
    ) -> int:
        for idx in fut.result():
            ph = hits.setdefault(idx, _PatternHits())
            for m in self._locate(idx, buf, n, KEEP_FIRST - len(ph.first)):
                ph.add(self._hit(idx, seq, src, buf, n, base, m))
        return base + buf.count(b"\n", 0, n)

    def _pattern(self, idx: int) -> tuple:
        if self._compiled[idx] is None:
            self._compiled[idx] = re2.compile(f"(?m){self.regexes[idx]}".encode(), self._opts)
            self._vetoes[idx] = [re2.compile(v.encode(), self._opts) for v in self._veto_src[idx]]
        return self._compiled[idx], self._vetoes[idx]

    def _locate(self, idx: int, buf: bytes | bytearray, n: int, need_first: int) -> list:
        """First `need_first` matches of a pattern in a chunk plus its last KEEP_LAST."""
        rx, vetoes = self._pattern(idx)
        found: list = []
        if need_first > 0:
            for m in rx.finditer(buf, 0, n):
                if vetoes and _vetoed(vetoes, buf, n, m.start()):
                    continue
                found.append(m)
                if len(found) >= need_first:
                    break
        window = _TAIL_WINDOW
        while True:
            lo = max(0, n - window)
            if lo:
                lo = buf.rfind(b"\n", 0, lo) + 1
            tail = [
                m
                for m in rx.finditer(buf, lo, n)
                if not (vetoes and _vetoed(vetoes, buf, n, m.start()))
            ]
            if tail or lo == 0:
                break
            window *= 8
        starts = {m.start() for m in found}
        found.extend(m for m in tail[-KEEP_LAST:] if m.start() not in starts)
        return found

    def _hit(
        self, idx: int, seq: int, src: TextSource, buf: bytes | bytearray, n: int, base: int, m
    ) -> Hit:
        start, end = m.start(), m.end()
        ls = buf.rfind(b"\n", 0, start) + 1
        le = buf.find(b"\n", start, n)
        le = n if le == -1 else le
        end = min(end, le)
        line_no = base + buf.count(b"\n", 0, start) + 1
        text, span = _clip(bytes(buf[ls:le]), start - ls, end - ls)
        before, after = _context(buf, n, ls, le)
        groups = {
            (k.decode() if isinstance(k, bytes) else k): _decode(v)
            for k, v in m.groupdict().items()
            if v is not None
        }
        ts = None
        if src.timestamps is not None:
            i = line_no - src.first_line
            if 0 <= i < len(src.timestamps):
                ts = src.timestamps[i]
        return Hit(
            pattern=idx,
            source=src.source,
            stream=src.stream,
            line=line_no,
            order=(seq, line_no),
            text=text,
            span=span,
            before=before,
            after=after,
            groups=groups,
            timestamp=ts,
        )
