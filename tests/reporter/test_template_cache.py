"""Compiled report templates are cached across runs without changing a byte of the report."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from investigator.reporter import html


@pytest.fixture
def fresh_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A new template environment under a private cache home (and a clean one afterwards)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("INVESTIGATOR_NO_CACHE", raising=False)

    def reset() -> None:
        html._env.cache_clear()
        html._assets.cache_clear()

    reset()
    yield reset
    reset()


def _entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "xdg" / "investigator" / "templates").glob("*.cache"))


def test_a_second_run_renders_from_the_cache_identically(fresh_env, tmp_path, sfn_inv,
                                                         monkeypatch):
    first = html.render_html(sfn_inv)
    assert _entries(tmp_path), "no compiled template was cached"
    fresh_env()

    def refuse(*_a, **_k):
        raise AssertionError("compiled a template that the cache holds")

    monkeypatch.setattr(jinja2.Environment, "compile", refuse)
    assert html.render_html(sfn_inv) == first


def test_corrupt_entries_are_recompiled(fresh_env, tmp_path, sfn_inv):
    first = html.render_html(sfn_inv)
    for entry in _entries(tmp_path):
        entry.write_bytes(b"garbage")
    fresh_env()
    assert html.render_html(sfn_inv) == first


def test_an_unwritable_cache_only_costs_the_compile(fresh_env, tmp_path, sfn_inv, monkeypatch):
    expected = html.render_html(sfn_inv)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    fresh_env()
    assert html.render_html(sfn_inv) == expected
