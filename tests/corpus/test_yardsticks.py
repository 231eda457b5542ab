"""The yardsticks the playbooks are read against must stay what they say they are."""

from __future__ import annotations

from investigator.taxonomy import CATEGORIES
from tests.corpus.evaluate import samples
from tests.corpus.yardsticks import KEYWORDS, grep_category, score


def test_keyword_grep_counts_lines_and_says_none_without_a_match():
    assert grep_category("ModuleNotFoundError: No module named 'x'") == "deps"
    assert grep_category("epoch 1 loss 0.3\nepoch 2 loss 0.2") == "none"
    # Two lines of NCCL beat one line of a generic error.
    text = "NCCL error: unhandled system error\nNCCL WARN timeout\nTypeError: bad"
    assert grep_category(text) == "distributed"


def test_keyword_grep_knows_every_failure_category_and_only_those():
    assert set(KEYWORDS) == set(CATEGORIES) - {"none", "unknown"}


def test_scores_count_right_missed_and_false_alarms(tmp_path):
    for category, body in (("deps", "No module named 'x'"), ("none", "Killed 3 zombie workers")):
        (tmp_path / category).mkdir()
        (tmp_path / category / "a.log").write_text(f"# source: https://x\n# category: {category}\n{body}\n")
    right, missed, alarms = score(samples(tmp_path))["keyword grep"]
    assert (right, missed, alarms) == (1, 0, 1)  # "Killed" is a false alarm for a grep
