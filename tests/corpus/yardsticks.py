"""Two yardsticks to read the classifier's score against (`make yardsticks ROOT=DIR`).

A score on a batch of real logs means little alone. Beside the playbooks this prints:

* **keyword grep**: what an engineer would grep for, one short list of words per category,
  taken from the taxonomy's "looks like" column (investigator/taxonomy.py), not from the
  playbooks. The category with the most matching lines wins (ties: taxonomy order); no
  match at all is `none`.
* **model alone**: the learned fallback's TF-IDF + linear model (trained on tests/corpus,
  `make model`) asked for every log, with no rule and no failure detection around it.

Both are scored like the classifier (label or accepted alternate). They are yardsticks, not
products: if the playbooks do not clearly beat them on logs nobody tuned for, the playbooks
are fitting the corpus rather than naming failure families.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import re2

from investigator.classifier import default_library
from investigator.classifier.fallback import load_model
from tests.corpus.evaluate import CORPUS, Outcome, Sample, predict, samples

# One alternation per category, from the taxonomy's "looks like" words; case-insensitive.
KEYWORDS: dict[str, str] = {
    "entrypoint": r"exec: .* not found|bad interpreter|\\r': command not found|entrypoint|"
                  r"can't open file|no such file or directory: '.*\.(?:py|sh)'",
    "platform": r"exec format error|glibc_[0-9.]+' not found|illegal instruction|"
                r"could not select device driver",
    "cuda": r"cuda (?:is )?not available|no cuda gpus|cuda driver version|no kernel image|"
            r"libcudart|libcudnn|libcusparse|nvidia driver",
    "deps": r"modulenotfounderror|no module named|cannot import name|undefined symbol|"
            r"importerror|resolutionimpossible|conflicting dependencies",
    "hyperparameters": r"invalid (?:int|float|choice|value)|unrecognized arguments|"
                       r"hyperparameter|loss (?:is )?nan|must be divisible",
    "paths": r"filenotfounderror|no such file or directory|nosuchkey|does not exist|not found in",
    "permissions": r"accessdenied|access denied|permission denied|forbidden|unauthorized|\b403\b|"
                   r"\b401\b|kms",
    "resources": r"out of memory|oom|killed|exit code 137|no space left|bus error|/dev/shm",
    "capacity": r"insufficient ?capacity|resourcelimitexceeded|quota|preempt|spot interruption|"
                r"unschedulable|insufficient nvidia.com/gpu",
    "timeout": r"timed? ?out|time limit|maxruntimeexceeded|deadline exceeded|heartbeat",
    "network": r"name resolution|connection refused|connection reset|could not resolve|"
               r"max retries exceeded|ssl|unreachable",
    "distributed": r"nccl|childfailederror|rendezvous|\brank\b|collective|watchdog",
    "orchestration": r"states\.|pipeline|workflow|createtrainingjob|validationexception|dag",
    "code": r"typeerror|keyerror|attributeerror|assertionerror|indexerror|valueerror|nameerror",
}
_COMPILED = {c: re2.compile(f"(?i)(?:{rx})") for c, rx in KEYWORDS.items()}


def grep_category(text: str) -> str:
    """The category whose words match the most lines; `none` when no line matches."""
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        for category, rx in _COMPILED.items():
            if rx.search(line):
                counts[category] += 1
    if not counts:
        return "none"
    best = max(counts.values())
    return next(c for c in KEYWORDS if counts[c] == best)


def model_category(text: str) -> str:
    probs = load_model().probabilities(text)
    return max(sorted(probs), key=lambda c: probs[c])


def score(items: list[Sample]) -> dict[str, tuple[int, int, int]]:
    """Per method: (right, failing logs called none, healthy logs given a failure)."""
    library = default_library()
    out: dict[str, list[int]] = {m: [0, 0, 0] for m in ("playbooks", "keyword grep", "model alone")}
    for s in items:
        text = s.body.decode("utf-8", "replace")
        answers = {
            "playbooks": predict(s, library).finding.category,
            "keyword grep": grep_category(text),
            "model alone": model_category(text),
        }
        for method, got in answers.items():
            outcome = Outcome(s, got, method)  # scored exactly as `make eval` scores
            out[method][0] += outcome.correct
            out[method][1] += outcome.missed
            out[method][2] += outcome.false_alarm
    return {m: (a, b, c) for m, (a, b, c) in out.items()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, action="append",
                        help="batch folder(s) laid out like tests/corpus (default: the corpus)")
    args = parser.parse_args(argv)
    items = [s for root in (args.root or [CORPUS]) for s in samples(root)]
    if not items:
        print("no labelled logs found", file=sys.stderr)
        return 2
    failing = sum(s.category != "none" for s in items)
    healthy = len(items) - failing
    print(f"{len(items)} logs ({failing} failing, {healthy} healthy)")
    print(f"{'method':<14}{'top-1':>16}{'missed':>10}{'false alarms':>14}")
    for method, (right, missed, alarms) in score(items).items():
        print(f"{method:<14}{f'{right / len(items):.1%} ({right})':>16}"
              f"{f'{missed}/{failing}':>10}{f'{alarms}/{healthy}':>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
