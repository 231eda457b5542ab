"""The playbook cache: a hit skips YAML and validation, any edit invalidates, races and
corrupt or unwritable caches only cost speed, never correctness."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from investigator.classifier import cache, loader
from investigator.classifier.loader import PlaybookError, load_rules
from tests.classifier.test_engine import rule, write_rules


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv(cache.ENV_DISABLE, raising=False)
    return home


@pytest.fixture
def playbooks(tmp_path: Path) -> Path:
    return write_rules(
        tmp_path / "pb",
        rule("deps-a", "deps", patterns={"any": [{"regex": "No module named a"}]}),
        rule("cuda-b", "cuda", patterns={"any": [{"regex": "no kernel image"}]}),
    )


def _entries(home: Path) -> list[Path]:
    return sorted((home / "investigator").glob("playbooks-*.pickle"))


def _no_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: Path) -> None:
        raise AssertionError(f"parsed {path} although the cache holds it")

    monkeypatch.setattr(loader, "load_rule", refuse)


def test_second_load_comes_from_the_cache(cache_home, playbooks, monkeypatch):
    first = load_rules(playbooks)
    assert len(_entries(cache_home)) == 1
    _no_yaml(monkeypatch)
    again = load_rules(playbooks)
    assert again == first
    assert [r.id for r in again] == ["cuda-b", "deps-a"]


def test_cache_respects_xdg_cache_home(cache_home):
    assert cache.cache_dir() == cache_home / "investigator"


def test_editing_a_playbook_invalidates_the_entry(cache_home, playbooks):
    load_rules(playbooks)
    path = playbooks / "deps" / "deps-a.yaml"
    data = yaml.safe_load(path.read_text())
    data["title"] = "An edited title"
    path.write_text(yaml.safe_dump(data))
    assert {r.id: r.title for r in load_rules(playbooks)}["deps-a"] == "An edited title"


def test_adding_or_renaming_a_playbook_invalidates_the_entry(cache_home, playbooks):
    load_rules(playbooks)
    write_rules(playbooks, rule("deps-c", "deps", patterns={"any": [{"regex": "c"}]}))
    assert [r.id for r in load_rules(playbooks)] == ["cuda-b", "deps-a", "deps-c"]
    (playbooks / "deps" / "deps-c.yaml").rename(playbooks / "deps" / "deps-d.yaml")
    with pytest.raises(PlaybookError, match="must equal the file stem"):
        load_rules(playbooks)


def test_an_invalid_library_is_never_cached(cache_home, playbooks):
    (playbooks / "deps" / "broken.yaml").write_text("id: [unclosed\n")
    for _ in range(2):
        with pytest.raises(PlaybookError, match=r"broken\.yaml"):
            load_rules(playbooks)
    assert _entries(cache_home) == []


@pytest.mark.parametrize("garbage", [b"", b"not a pickle", b"\x80\x05K\x01."])
def test_a_corrupt_entry_is_ignored_and_rewritten(cache_home, playbooks, garbage):
    good = load_rules(playbooks)
    [entry] = _entries(cache_home)
    entry.write_bytes(garbage)
    assert load_rules(playbooks) == good
    assert entry.read_bytes() != garbage, "the corrupt entry was not rewritten"


def test_an_entry_holding_foreign_objects_is_ignored(cache_home, playbooks):
    import pickle

    good = load_rules(playbooks)
    [entry] = _entries(cache_home)
    key = cache.content_key(playbooks)
    entry.write_bytes(pickle.dumps((key, ["not a rule"])))
    assert load_rules(playbooks) == good


def test_an_unwritable_cache_only_costs_speed(tmp_path, playbooks, monkeypatch):
    blocker = tmp_path / "a-file-not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert [r.id for r in load_rules(playbooks)] == ["cuda-b", "deps-a"]


def test_concurrent_first_runs_all_succeed_and_leave_one_whole_entry(cache_home, playbooks):
    code = (
        "import sys; from pathlib import Path; "
        "from investigator.classifier.loader import load_rules; "
        "print(','.join(r.id for r in load_rules(Path(sys.argv[1]))))"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(playbooks)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, results
    assert {out.strip() for out, _ in results} == {"cuda-b,deps-a"}
    folder = cache_home / "investigator"
    assert len(_entries(cache_home)) == 1
    assert not list(folder.glob(".*.tmp")), "a writer left its temp file behind"


def test_old_entries_are_pruned(cache_home, tmp_path):
    for n in range(cache._KEEP + 3):
        root = write_rules(tmp_path / f"pb{n}", rule(f"deps-{n}", "deps",
                                                      patterns={"any": [{"regex": "x"}]}))
        load_rules(root)
    assert len(_entries(cache_home)) == cache._KEEP


def test_the_default_library_is_cached(cache_home, monkeypatch):
    first = load_rules()
    _no_yaml(monkeypatch)
    assert load_rules() == first


def test_the_cache_can_be_built_ahead_of_first_use(cache_home):
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    done = subprocess.run([sys.executable, "-m", "investigator.classifier"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "validated playbooks" in done.stdout
    assert len(_entries(cache_home)) == 1


def test_the_cache_can_be_turned_off(cache_home, playbooks, monkeypatch):
    monkeypatch.setenv(cache.ENV_DISABLE, "1")
    assert [r.id for r in load_rules(playbooks)] == ["cuda-b", "deps-a"]
    assert _entries(cache_home) == []


def test_the_default_library_reuses_its_rewritten_patterns(cache_home, monkeypatch):
    from investigator.classifier import engine, tolerant

    first = engine.Library.build(load_rules())  # rewrites every pattern
    engine.default_library.cache_clear()
    engine.default_library()  # writes the rewritten patterns beside the validated rules
    assert len(list((cache_home / "investigator").glob("patterns-*.pickle"))) == 1
    engine.default_library.cache_clear()
    engine._REWRITTEN.clear()

    def refuse(regex: str, **_: object) -> str:
        raise AssertionError(f"rewrote {regex!r} although the cache holds it")

    monkeypatch.setattr(engine, "tolerant", refuse)
    again = engine.default_library()
    assert again.patterns.regexes == first.patterns.regexes
    assert tolerant.tolerant("a: b") != "a: b"  # the real rewrite still does its work
    engine.default_library.cache_clear()


def test_a_patterns_entry_holding_foreign_items_is_ignored(cache_home, playbooks):
    """The rewritten-patterns entry is trusted only when every item is a (key, regex) pair."""
    import pickle

    from investigator.classifier import engine

    def fresh() -> engine.Library:
        engine.default_library.cache_clear()
        engine._REWRITTEN.clear()
        return engine.default_library(str(playbooks))

    good = fresh()
    [entry] = sorted((cache_home / "investigator").glob("patterns-*.pickle"))
    key = cache.content_key(playbooks)
    keys = list(engine._REWRITTEN)
    for foreign in ([[k, "^never$"] for k in keys],  # lists, not pairs
                    [(k, "^never$", "extra") for k in keys]):  # triples
        entry.write_bytes(pickle.dumps((key, foreign)))
        assert fresh().patterns.regexes == good.patterns.regexes
    engine.default_library.cache_clear()
    engine._REWRITTEN.clear()
