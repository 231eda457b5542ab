"""The README's example output is what the tool really prints (docs that are tested)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from investigator.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_log_example_matches_real_output(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["log", "examples/apex-build-skipped.log", "--format", "json"])
    [obj] = json.loads(result.stdout)
    for key in ("source", "category", "rule", "title"):
        assert f'"{key}": "{obj[key]}"' in README, key
    assert f'"confidence": {obj["confidence"]}' in README
    first = obj["evidence"][0]
    assert f'"line": {first["line"]}, "text": "{first["text"]}"' in README
    for alt in obj["alternatives"]:
        assert f'"rule": "{alt["rule"]}", "confidence": {alt["confidence"]}' in README


def test_readme_lists_every_cli_command():
    for command in main.commands:
        assert f"investigate {command} " in README, command
