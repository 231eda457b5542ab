"""Score the classifier on the labelled real-log corpus (`make eval`).

Each file under tests/corpus/<category>/ starts with header lines
(`# source: URL`, `# category: ...`, `# alternates: a, b`, `# note: ...`) followed by the
excerpt. A prediction is correct when it is the label or one of the alternates.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

from investigator.classifier import Library, classify, default_library
from investigator.classifier.fallback import RULE_ID as FALLBACK_RULE
from investigator.classifier.scanner import TextSource, bytes_chunks
from investigator.models import CATEGORIES, Evidence, Investigation, Target

CORPUS = Path(__file__).resolve().parent
HEADER_KEYS = ("source", "category", "alternates", "note")
_BLOB_COMMIT = re.compile(r"/blob/[0-9a-f]{7,40}/")


@dataclass(frozen=True)
class Sample:
    path: Path
    source: str
    category: str
    alternates: tuple[str, ...]
    body: bytes
    note: str = ""

    @property
    def accepted(self) -> set[str]:
        return {self.category, *self.alternates}

    @property
    def source_key(self) -> str:
        """The source as one public file or thread, however its URL was spelt: a repository file
        at another commit (`/blob/<sha>/`), percent-encoded or not, any case, a trailing slash."""
        url = unquote(self.source).rstrip("/").lower()
        return _BLOB_COMMIT.sub("/blob/-/", url)


def parse(path: Path) -> Sample:
    raw = path.read_bytes()
    header: dict[str, str] = {}
    lines = raw.split(b"\n")
    i = 0
    while i < len(lines) and lines[i].startswith(b"# "):
        key, _, value = lines[i][2:].decode("utf-8", "replace").partition(":")
        if key.strip() not in HEADER_KEYS:
            break
        header[key.strip()] = value.strip()
        i += 1
    alternates = tuple(a.strip() for a in header.get("alternates", "").split(",") if a.strip())
    return Sample(
        path=path,
        source=header.get("source", ""),
        category=header.get("category", ""),
        alternates=alternates,
        body=b"\n".join(lines[i:]),
        note=header.get("note", ""),
    )


def samples(root: Path = CORPUS) -> list[Sample]:
    return [parse(p) for p in sorted(root.glob("*/*.log"))]


def predict(sample: Sample, library: Library) -> Investigation:
    name = f"{sample.path.parent.name}/{sample.path.name}"
    source = TextSource("logs", name, bytes_chunks(sample.body))
    evidence = Evidence(target=Target(kind="log", name=name))
    return classify(evidence, library, log_sources=[source], source_label=name)


@dataclass(frozen=True)
class Outcome:
    sample: Sample
    predicted: str
    rule: str
    confidence: str = ""  # the verdict's label: high, medium or low

    @property
    def kind(self) -> str:
        """What kind of evidence the verdict rests on: how far an on-call engineer may trust it."""
        if self.predicted == "none":
            return "no failure"
        if self.rule == FALLBACK_RULE:
            return "learned guess"
        if self.predicted == "unknown":
            return "generic marker"
        return "family rule" if "-family-" in self.rule else "specific rule"

    @property
    def correct(self) -> bool:
        return self.predicted in self.sample.accepted

    @property
    def missed(self) -> bool:
        """A failing log called healthy: the worst answer for an on-call engineer."""
        return self.sample.category != "none" and self.predicted == "none" and not self.correct

    @property
    def false_alarm(self) -> bool:
        return self.sample.category == "none" and self.predicted != "none" and not self.correct


def run(library: Library | None = None, root: Path = CORPUS) -> list[Outcome]:
    library = library or default_library()
    out = []
    for s in samples(root):
        inv = predict(s, library)
        f = inv.finding
        out.append(Outcome(s, f.category, f.rule, f.confidence_label))
    return out


class Counts(NamedTuple):
    """The figures every score of a folder quotes (report, summary)."""

    total: int
    right: int
    failing: int
    missed: int
    false_alarms: int


def counts(outcomes: list[Outcome]) -> Counts:
    return Counts(
        total=len(outcomes),
        right=sum(o.correct for o in outcomes),
        failing=sum(o.sample.category != "none" for o in outcomes),
        missed=sum(o.missed for o in outcomes),
        false_alarms=sum(o.false_alarm for o in outcomes),
    )


def report(outcomes: list[Outcome]) -> str:
    import pandas as pd

    df = pd.DataFrame(
        {
            "file": [f"{o.sample.path.parent.name}/{o.sample.path.name}" for o in outcomes],
            "label": [o.sample.category for o in outcomes],
            "predicted": [o.predicted for o in outcomes],
            "rule": [o.rule for o in outcomes],
            "correct": [o.correct for o in outcomes],
            "missed": [o.missed for o in outcomes],
        }
    )
    # Count an accepted alternate as the label itself for per-category scores.
    df["scored"] = [o.sample.category if o.correct else o.predicted for o in outcomes]
    cats = [c for c in CATEGORIES if c in set(df.label) | set(df.scored)]
    rows = []
    for c in cats:
        tp = int(((df.label == c) & (df.scored == c)).sum())
        support = int((df.label == c).sum())
        predicted = int((df.scored == c).sum())
        rows.append(
            {
                "category": c,
                "support": support,
                "recall": tp / support if support else float("nan"),
                "precision": tp / predicted if predicted else float("nan"),
                "missed": int(((df.label == c) & df.missed).sum()),
            }
        )
    per_cat = pd.DataFrame(rows).set_index("category")
    confusion = pd.crosstab(
        pd.Categorical(df.label, categories=cats),
        pd.Categorical(df.scored, categories=cats),
        rownames=["label"],
        colnames=["predicted"],
        dropna=False,
    )
    c = counts(outcomes)
    misses = df[~df.correct]
    parts = [
        f"top-1 accuracy: {c.right / c.total:.1%} ({c.right}/{c.total})",
        f"missed (failing logs called none): {c.missed}/{c.failing}",
        f"false alarms on healthy logs: {c.false_alarms}/{c.total - c.failing}",
        "",
        "per category:",
        per_cat.to_string(float_format=lambda x: f"{x:.2f}"),
        "",
        "confusion matrix (rows: label, columns: predicted):",
        confusion.to_string(),
    ]
    parts += ["", "how far each kind of verdict can be trusted (right / given):", reliability(outcomes)]
    if len(misses):
        parts += [
            "",
            "misses:",
            misses[["file", "label", "predicted", "rule"]].to_string(index=False),
        ]
    return "\n".join(parts)


KINDS = ("specific rule", "family rule", "generic marker", "learned guess", "no failure")


def reliability(outcomes: list[Outcome]) -> str:
    """Precision of the verdicts by kind and confidence label: what "medium" is worth on
    these logs, so a user reading a report knows how far to trust it."""
    rows = []
    for kind in KINDS:
        for label in ("high", "medium", "low"):
            given = [o for o in outcomes if o.kind == kind and o.confidence == label]
            if given:
                right = sum(o.correct for o in given)
                rows.append(f"  {kind:15} {label:7} {right:5}/{len(given):<5} {right / len(given):6.1%}")
    return "\n".join(rows)


def summary(name: str, outcomes: list[Outcome]) -> str:
    """One line per folder: what docs/corpus-scores.md records for a batch."""
    c = counts(outcomes)
    return (
        f"{name}: top-1 {c.right / c.total:.1%} ({c.right}/{c.total}), "
        f"missed {c.missed}/{c.failing}, false alarms {c.false_alarms}/{c.total - c.failing}"
    )


def main(argv: list[str]) -> int:
    """`python -m tests.corpus.evaluate [--root DIR]`: score the corpus or a batch folder.

    DIR holds <category>/*.log files with the same headers (e.g. a blind batch to score).
    `--summary DIR...` prints one line per folder instead (`make heldout`: has a change kept
    every held-out wave's right answers right?).
    """
    parser = argparse.ArgumentParser(prog="python -m tests.corpus.evaluate")
    parser.add_argument("--root", type=Path, default=CORPUS, help="folder of <category>/*.log")
    parser.add_argument("--summary", type=Path, nargs="+", metavar="DIR",
                        help="one summary line for each folder")
    parser.add_argument("legacy_root", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    roots = args.summary or [args.legacy_root or args.root]
    bad = [r for r in roots if not r.is_dir()]
    if bad:
        print(f"evaluate: {bad[0]} is not a directory", file=sys.stderr)
        return 2
    for root in roots:
        outcomes = run(root=root)
        if not outcomes:
            print(f"evaluate: no <category>/*.log files under {root}", file=sys.stderr)
            return 2
        if args.summary:
            print(summary(root.name, outcomes))
        else:
            print(f"corpus: {root}")
            print(report(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
