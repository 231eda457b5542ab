"""`make eval` / `make heldout`: the scoring command a round's figures come from."""

from __future__ import annotations

from pathlib import Path

from tests.corpus.evaluate import main


def _batch(root: Path) -> Path:
    (root / "resources").mkdir(parents=True)
    (root / "none").mkdir()
    (root / "resources" / "oom.log").write_text(
        "# source: https://example.com/1\n# category: resources\n"
        "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
    )
    (root / "none" / "fine.log").write_text(
        "# source: https://example.com/2\n# category: none\nepoch 3 loss 0.12\n"
    )
    (root / "none" / "scary.log").write_text(
        "# source: https://example.com/3\n# category: none\n"
        "RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1269, unhandled system error\n"
    )
    return root


def test_summary_prints_one_line_per_folder_with_the_recorded_figures(tmp_path, capsys):
    a, b = _batch(tmp_path / "wave-a"), _batch(tmp_path / "wave-b")
    assert main(["--summary", str(a), str(b)]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert lines == [
        "wave-a: top-1 66.7% (2/3), missed 0/1, false alarms 1/2",
        "wave-b: top-1 66.7% (2/3), missed 0/1, false alarms 1/2",
    ]


def test_a_folder_that_is_not_there_is_a_one_line_error(tmp_path, capsys):
    assert main(["--summary", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evaluate: ") and "is not a directory" in err


def test_the_report_says_how_often_each_kind_of_verdict_was_right(tmp_path, capsys):
    assert main(["--root", str(_batch(tmp_path / "wave"))]) == 0
    out = capsys.readouterr().out
    table = out.split("can be trusted (right / given):\n")[1].split("\n\n")[0].splitlines()
    rows = {tuple(line.split()[:3]): line.split()[3] for line in table}
    # The OOM and the NCCL error on a healthy log are both named by a confident specific
    # rule, one rightly: a high label was worth 1 in 2 here. The loss line is no failure.
    assert rows == {("specific", "rule", "high"): "1/2", ("no", "failure", "medium"): "1/1"}
