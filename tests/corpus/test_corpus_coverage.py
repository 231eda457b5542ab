"""The corpus is big and wide enough to measure generalisation (issue 10, item 6)."""

from __future__ import annotations

from collections import Counter

from investigator.models import CATEGORIES
from tests.corpus.evaluate import samples

MIN_TOTAL = 450
MIN_PER_FAILURE_CATEGORY = 20
MIN_HEALTHY = 40


def test_corpus_size_and_spread() -> None:
    items = samples()
    per = Counter(s.category for s in items)
    assert len(items) >= MIN_TOTAL
    thin = {
        c: per[c]
        for c in CATEGORIES
        if c not in ("none", "unknown") and per[c] < MIN_PER_FAILURE_CATEGORY
    }
    assert not thin, f"failure categories under {MIN_PER_FAILURE_CATEGORY} excerpts: {thin}"
    assert per["none"] >= MIN_HEALTHY


def test_every_source_thread_is_used_once() -> None:
    """One excerpt per public thread or file and outcome: a second copy would score the same
    incident twice (the same file at another commit, or its URL percent-encoded, is the same
    source). A run log committed again after a run that ended otherwise is another incident."""
    seen: dict[tuple[str, str], str] = {}
    dupes = []
    for s in samples():
        key = (s.source_key, s.category)
        if key in seen:
            dupes.append((s.path.name, seen[key]))
        seen.setdefault(key, s.path.name)
    assert not dupes, dupes
