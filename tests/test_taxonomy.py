"""The vocabulary is defined once (investigator/taxonomy.py); the README and the models agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from investigator import models, taxonomy
from investigator.classifier.loader import default_playbook_dir

ROOT = Path(__file__).resolve().parent.parent


def _table(path: Path, header: str) -> list[tuple[str, ...]]:
    """The rows of the Markdown table that starts with `header`."""
    text = path.read_text(encoding="utf-8")
    section = text.split(header, 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in section.splitlines()[1:]:  # the first line is |---|---|
        rows.append(tuple(c.strip() for c in line.strip().strip("|").split("|")))
    return rows


def test_readme_taxonomy_table_matches_the_taxonomy():
    rows = _table(ROOT / "README.md", "| category | meaning |\n")
    assert rows == [(c.name, c.meaning) for c in taxonomy.TAXONOMY]


def test_design_doc_taxonomy_table_matches_the_taxonomy():
    rows = _table(ROOT / "docs" / "design.md", "| category | meaning | typical evidence |\n")
    assert rows == [(c.name, c.meaning, c.looks_like) for c in taxonomy.TAXONOMY]


def test_the_models_validate_exactly_the_taxonomy():
    assert taxonomy.Category.__args__ == taxonomy.CATEGORIES
    assert models.CATEGORIES is taxonomy.CATEGORIES
    finding = {"rule": "r", "title": "t", "confidence": 0.5, "confidence_label": "medium",
               "retryable": False, "explanation": "e", "remediation": []}
    for category in taxonomy.CATEGORIES:
        assert models.validate(models.Finding, {**finding, "category": category}).category == category
    with pytest.raises(ValidationError):
        models.validate(models.Finding, {**finding, "category": "weather"})


def test_every_playbook_folder_is_a_category():
    folders = {p.name for p in default_playbook_dir().iterdir() if p.is_dir()}
    assert folders <= set(taxonomy.CATEGORIES)


def test_status_sets_are_consistent():
    assert set(taxonomy.SFN_FAILED_STATUSES) < set(taxonomy.SFN_TERMINAL_STATUSES)
    assert not set(taxonomy.SFN_FAILED_STATUSES) & set(taxonomy.SFN_SUCCEEDED_STATUSES)
    assert set(taxonomy.JOB_FAILED_STATUSES) < set(taxonomy.JOB_TERMINAL_STATUSES)
    assert not set(taxonomy.JOB_FAILED_STATUSES) & set(taxonomy.JOB_SUCCEEDED_STATUSES)


def test_an_unrecognised_category_reads_as_unknown():
    assert taxonomy.category("no-such-category") is taxonomy.BY_NAME["unknown"]
