"""`make admit`: which excerpts of a scored wave join the corpus."""

from pathlib import Path

from tests.corpus.admit import admit, main


def _log(root: Path, rel: str, source: str, category: str, body: str, note: str = "") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# source: {source}\n# category: {category}\n"
    if note:
        header += f"# note: {note}\n"
    path.write_text(header + body, encoding="utf-8")


def test_right_answers_and_the_fallbacks_population_join_mistakes_and_repeats_do_not(tmp_path):
    corpus, wave = tmp_path / "corpus", tmp_path / "wave"
    _log(corpus, "deps/old.log", "https://github.com/o/r/blob/0123abc/logs/train%20%282%29.log",
         "deps", "ImportError: x\n")
    missing = "ModuleNotFoundError: No module named 'flash_attn'\n"
    _log(wave, "deps/right.log", "https://example.org/t/2", "deps", missing)
    # no category rule reads an exception type it has never seen: a guess or `unknown`
    _log(wave, "code/unexplained.log", "https://example.org/t/3", "code",
         'Traceback (most recent call last):\n  File "train.py", line 3, in <module>\n'
         "WidgetExplodedError: the widget exploded at step 12\n")
    _log(wave, "code/rule-says-deps.log", "https://example.org/t/4", "code", missing)
    _log(wave, "none/false-alarm.log", "https://example.org/t/5", "none",
         "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
    _log(wave, "deps/prose.log", "https://example.org/t/6", "deps", missing,
         note="the job just stopped; the cause is in the thread (prose-only)")
    # the same file at another commit, its URL encoded otherwise
    _log(wave, "deps/repeat.log", "https://github.com/o/r/blob/89abcdef/logs/train%20(2).log/",
         "deps", missing)

    added = admit(wave, corpus=corpus)

    assert sorted(p.relative_to(corpus).as_posix() for p in added) == [
        "code/unexplained.log", "deps/right.log"]
    assert (corpus / "deps/right.log").read_text(encoding="utf-8").endswith(missing)


def test_a_name_taken_in_the_corpus_gets_the_waves_name_in_front(tmp_path):
    corpus, wave = tmp_path / "corpus", tmp_path / "round12"
    _log(corpus, "deps/right.log", "https://example.org/t/1", "deps", "ImportError: x\n")
    _log(wave, "deps/right.log", "https://example.org/t/2", "deps",
         "ModuleNotFoundError: No module named 'apex'\n")

    added = admit(wave, corpus=corpus)

    assert [p.name for p in added] == ["round12-right.log"]


def test_a_folder_that_is_not_there_is_a_one_line_error(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.startswith("admit: ")
