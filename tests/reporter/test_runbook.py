"""The on-call runbook rendered from the playbooks, and the committed copy kept in sync."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from investigator.classifier.loader import load_rules
from investigator.classifier.schema import Condition, Rule, parse_rule
from investigator.cli import main as cli_main
from investigator.models import CATEGORIES
from investigator.reporter.runbook import (
    GENERATED,
    condition_words,
    md_fence,
    render_runbook,
    write_runbook,
)

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "docs" / "runbook"


def make_rule(**over: Any) -> Rule:
    data: dict[str, Any] = {
        "id": "deps-demo-missing",
        "title": "Module {module} missing from the image",
        "category": "deps",
        "confidence": "medium",
        "priority": 55,
        "retryable": False,
        "requires": ["logs", "sagemaker"],
        "patterns": {
            "any": [r"No module named '(?P<module>[\w.]+)'"],
            "all": [{"regex": "AlgorithmError", "in": ["sagemaker.failure_reason"]}],
            "none": ["handled gracefully"],
        },
        "conditions": [
            {"fact": "sagemaker.status", "op": "equals", "value": "Failed"},
            {"fact": "instance.gpu_count", "op": "gt", "value": 0, "if_missing": True},
        ],
        "explanation": "The image ({sagemaker.image|image unknown}) lacks `{module}` <b>bold</b>.",
        "remediation": ["Add `{module}` to requirements.txt and rebuild.", "# not a heading"],
        "repro": ["docker run --rm {sagemaker.image|\"$IMAGE\"} python -c 'import {module}'"],
        "references": ["https://docs.python.org/3/library/exceptions.html"],
        "examples": [
            {"name": "import fails in train.py", "expect": "match",
             "log": "epoch 0\nModuleNotFoundError: No module named 'peft'\n",
             "facts": {"sagemaker.status": "Failed",
                       "sagemaker.failure_reason": "AlgorithmError: exit code 1"},
             "cites": ["peft"]},
            {"name": "handled", "expect": "no-match",
             "log": "No module named 'x'\nhandled gracefully\n",
             "facts": {"sagemaker.status": "Failed"}},
        ],
    }
    data.update(over)
    return parse_rule(data)


def test_every_playbook_has_a_page_linked_from_both_indexes(tmp_path):
    rules = load_rules()
    index = write_runbook(rules, tmp_path)
    assert index == tmp_path / "index.html"
    html = index.read_text(encoding="utf-8")
    md_index = (tmp_path / "index.md").read_text(encoding="utf-8")
    for rule in rules:
        page = tmp_path / rule.category / f"{rule.id}.md"
        text = page.read_text(encoding="utf-8")
        assert text.startswith(GENERATED + "\n")
        assert f"`{rule.id}`" in text and f"category **{rule.category}**" in text
        assert f'id="rule-{rule.id}"' in html
        assert f'href="{rule.category}/{rule.id}.md"' in html
        assert f"]({rule.category}/{rule.id}.md)" in md_index
        for url in rule.references:
            assert url in text
    # Categories appear in taxonomy order, each with its meaning.
    positions = [html.index(f'id="cat-{c}"') for c in CATEGORIES]
    assert positions == sorted(positions)
    assert "The GPU stack." in html and "A time limit ended it." in md_index


def test_rule_page_shows_signatures_cited_lines_conditions_and_steps(tmp_path):
    write_runbook([make_rule()], tmp_path)
    page = (tmp_path / "deps" / "deps-demo-missing.md").read_text(encoding="utf-8")
    assert "# Module missing from the image" in page  # no placeholder: readable words
    assert "confidence **medium**" in page and "retryable: **no**" in page
    # Signature lines are real log lines; the regexes fold away for rule authors.
    assert page.index("ModuleNotFoundError: No module named 'peft'") < page.index("<details>")
    assert "```text\nNo module named '(?P<module>[\\w.]+)'\n```" in page
    assert "All of these:" in page
    assert "searched in SageMaker FailureReason" in page
    assert "Not when any of these appear" in page and "handled gracefully" in page
    # The lines the engine cites when it runs the rule on its own match example.
    assert "import fails in train.py:" in page
    assert "```text\nModuleNotFoundError: No module named 'peft'\n" in page
    assert "sagemaker.failure_reason: AlgorithmError: exit code 1" in page
    assert "handled:" not in page  # no-match examples are not symptoms
    assert "- `sagemaker.status` is `Failed`" in page
    assert "- `instance.gpu_count` is greater than `0` (or it is not known)" in page
    assert "the job's logs and the SageMaker job description" in page
    assert "docker run --rm \"$IMAGE\" python -c 'import <module>'" in page
    assert "1. Add `<module>` to requirements.txt and rebuild." in page
    # How to confirm: where to look in the console and what to run, as numbered steps.
    confirm = page.split("## How to confirm")[1].split("## Remediation")[0]
    assert "1. Open the job's log: SageMaker console" in confirm
    assert "aws logs tail /aws/sagemaker/TrainingJobs" in confirm
    assert "grep -n -F 'ModuleNotFoundError: No module named'" in confirm
    assert "aws sagemaker describe-training-job" in confirm
    assert "2. \\# not a heading" in page
    assert "The image (image unknown) lacks `<module>` \\<b>bold\\</b>." in page
    assert "- <https://docs.python.org/3/library/exceptions.html>" in page


def test_window_is_stated(tmp_path):
    rule = make_rule(patterns={"any": [r"No module named '(?P<module>[\w.]+)'"],
                               "all": ["exit status 1"], "window": 40})
    write_runbook([rule], tmp_path)
    page = (tmp_path / "deps" / "deps-demo-missing.md").read_text(encoding="utf-8")
    assert "All of these, within 40 lines of each other:" in page


@pytest.mark.parametrize(
    ("cond", "words"),
    [
        ({"fact": "sagemaker.secondary_status", "op": "in", "value": ["A", "B"]},
         "`sagemaker.secondary_status` is one of `A`, `B`"),
        ({"fact": "ecr.image_digest", "op": "exists", "value": False}, "`ecr.image_digest` is not known"),
        ({"fact": "sagemaker.runtime_s", "op": "lt", "value": 60}, "`sagemaker.runtime_s` is less than `60`"),
        ({"fact": "sagemaker.image", "op": "matches", "value": "arm64"},
         "`sagemaker.image` matches the regex `arm64`"),
    ],
)
def test_conditions_in_words(cond, words):
    assert condition_words(Condition(**cond)).startswith(words)


def test_html_is_self_contained_and_escapes_playbook_text(tmp_path):
    hostile = make_rule(title='Boom <script>alert("x")</script> & co',
                        explanation="Explains <img src=x onerror=alert(1)> things at length.")
    write_runbook([hostile], tmp_path)
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower() and "<img" not in html
    assert "Boom &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in html
    assert "<style>" in html and not re.search(r"<(?:link|script|iframe|img)\b", html)
    assert not re.search(r"<[^>]+\ssrc=", html)
    external = set(re.findall(r'(?:href|src)="(https?://[^"]+)"', html))
    assert external == {"https://docs.python.org/3/library/exceptions.html"}
    md = (tmp_path / "deps" / "deps-demo-missing.md").read_text(encoding="utf-8")
    assert "\\<script>" in md and "\\<img" in md


def test_code_fences_outgrow_backticks_in_the_content():
    assert md_fence(["a ``` b"]).startswith("````text\n")
    assert md_fence(["plain"]) == "```text\nplain\n```"


def test_stale_generated_pages_are_removed_and_other_files_kept(tmp_path):
    old = make_rule(id="deps-old-rule")
    write_runbook([old, make_rule()], tmp_path)
    notes = tmp_path / "deps" / "my-notes.md"
    notes.write_text("# kept\n")
    write_runbook([make_rule()], tmp_path)
    assert not (tmp_path / "deps" / "deps-old-rule.md").exists()
    assert (tmp_path / "deps" / "deps-demo-missing.md").exists() and notes.exists()


def test_render_is_deterministic():
    rules = load_rules()
    assert render_runbook(rules) == render_runbook(rules)


def test_committed_runbook_matches_the_playbooks():
    fresh = render_runbook(load_rules())
    hint = "docs/runbook is out of date with playbooks/: run `make runbook` and commit the result"
    assert COMMITTED.is_dir(), hint
    committed = {
        p.relative_to(COMMITTED).as_posix(): p.read_text(encoding="utf-8")
        for p in COMMITTED.rglob("*") if p.is_file()
    }
    missing = sorted(set(fresh) - set(committed))
    extra = sorted(set(committed) - set(fresh))
    changed = sorted(k for k in set(fresh) & set(committed) if fresh[k] != committed[k])
    assert not (missing or extra or changed), (
        f"{hint} (missing: {missing[:5]}, stale: {extra[:5]}, changed: {changed[:5]})"
    )


def test_cli_runbook_writes_the_index(tmp_path):
    out = tmp_path / "rb"
    result = CliRunner().invoke(cli_main, ["runbook", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file() and (out / "index.md").is_file()
    assert "runbook written to" in result.output
