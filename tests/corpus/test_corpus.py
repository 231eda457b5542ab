"""The real-log corpus: well-formed, covering every category, and classified right."""

from __future__ import annotations

import pytest

from investigator.models import CATEGORIES
from tests.corpus.evaluate import Outcome, run, samples

MIN_ACCURACY = 0.90


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return run()


def test_corpus_is_well_formed():
    items = samples()
    assert len(items) >= 120
    for s in items:
        assert s.source.startswith("https://"), f"{s.path}: source must be an https URL"
        assert s.category in CATEGORIES, f"{s.path}: unknown category {s.category!r}"
        assert s.path.parent.name == s.category, f"{s.path}: category differs from its folder"
        assert set(s.alternates) <= set(CATEGORIES), f"{s.path}: unknown alternate"
        assert s.body.strip(), f"{s.path}: empty excerpt"
    assert {s.category for s in items} == set(CATEGORIES)
    assert sum(s.category == "none" for s in items) >= 15


def test_top1_accuracy(outcomes):
    correct = sum(o.correct for o in outcomes)
    misses = "\n".join(
        f"  {o.sample.path.name}: {o.sample.category} -> {o.predicted} ({o.rule})"
        for o in outcomes
        if not o.correct
    )
    assert correct / len(outcomes) >= MIN_ACCURACY, f"accuracy {correct}/{len(outcomes)}\n{misses}"


def test_no_false_alarms_on_healthy_logs(outcomes):
    # As `make eval` counts them: a healthy log answered with an alternate its header accepts
    # (a careful SRE would take either) is no false alarm.
    alarms = [o for o in outcomes if o.false_alarm]
    assert not alarms, [(o.sample.path.name, o.predicted, o.rule) for o in alarms]


def test_no_failing_log_called_healthy(outcomes):
    """A confident "no failure" on a failed job is the worst answer the tool can give."""
    missed = [o for o in outcomes if o.missed]
    assert not missed, [(o.sample.path.name, o.sample.category, o.rule) for o in missed]
