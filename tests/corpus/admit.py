"""Admit a scored blind wave into the corpus (`make admit WAVE=tests/corpus-heldout/roundN`).

Once a wave has been scored on arrival (docs/corpus-scores.md), two kinds of its excerpts join
tests/corpus:

* those the playbooks now get right: from then on the corpus test guards those answers;
* failing ones that no category rule explains (the verdict is the learned fallback's guess or
  `unknown`): those are the logs the fallback answers, and excerpts the rules explain teach it
  little about them. Trained with a round left out and scored on that round's such logs, the
  fallback went from 180 to 190 right of 308 with them (docs/corpus-scores.md, Round 11).

Left out: healthy or failing excerpts a rule gets wrong (the corpus test would fail on them, and
they would teach the fallback a rule's mistake), sources already in the corpus, and excerpts
whose note says `prose-only` (the failure is in the thread's prose, not in the lines). Run
`make model` afterwards to retrain the fallback.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from investigator.classifier import Library, default_library
from tests.corpus.evaluate import CORPUS, Outcome, run, samples

PROSE_ONLY = "prose-only"


def admissible(outcome: Outcome) -> bool:
    """Right now, or a failing log that only the fallback (or nothing) explains."""
    if outcome.correct:
        return True
    return outcome.sample.category != "none" and outcome.kind in ("learned guess", "generic marker")


def admit(wave: Path, corpus: Path = CORPUS, library: Library | None = None) -> list[Path]:
    """Copy the wave's admissible excerpts into corpus/<category>/; return the new files."""
    known = {s.source_key for s in samples(corpus)}
    added: list[Path] = []
    for outcome in run(library or default_library(), root=wave):
        sample = outcome.sample
        key = sample.source_key
        if key in known or PROSE_ONLY in sample.note or not admissible(outcome):
            continue
        target = corpus / sample.category / sample.path.name
        if target.exists():
            target = target.with_name(f"{wave.name}-{sample.path.name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(sample.path, target)
        known.add(key)
        added.append(target)
    return added


def main(argv: list[str]) -> int:
    if not argv or not all(Path(a).is_dir() for a in argv):
        print("admit: give one or more wave folders of <category>/*.log", file=sys.stderr)
        return 2
    library = default_library()
    for arg in argv:
        added = admit(Path(arg), library=library)
        print(f"{arg}: {len(added)} excerpts added to {CORPUS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
