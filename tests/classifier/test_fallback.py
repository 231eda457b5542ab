"""The learned fallback in the engine: a labelled low-confidence guess for failures no rule
explains, never over a rule that fired, never on a healthy log, loaded only when needed."""

from __future__ import annotations

import json
import subprocess
import sys

from investigator.classifier import classify, default_library
from investigator.classifier.fallback import MAX_CONFIDENCE, RULE_ID
from investigator.models import Gap, to_json
from tests.classifier.test_engine import evidence

# Generic failure markers only (an ERROR line), but the words are those of a category.
UNEXPLAINED_OOM = "ERROR - GPU memory exhausted while allocating activations for batch"
UNEXPLAINED_CAPACITY = (
    "ERROR: the instance pool has no ml.p4d.24xlarge capacity in this availability zone"
)


def test_a_failure_no_rule_explains_gets_a_labelled_guess():
    for log, category in ((UNEXPLAINED_OOM, "resources"), (UNEXPLAINED_CAPACITY, "capacity")):
        inv = classify(evidence(log), default_library())
        f = inv.finding
        assert (f.category, f.rule) == (category, RULE_ID)
        assert f.confidence <= MAX_CONFIDENCE and f.confidence_label == "low"
        assert f.title.startswith("Statistical guess")
        assert "not a diagnosis" in f.explanation
        assert f.evidence and log in f.evidence[0].text  # the telling line is still cited
        marker = inv.alternatives[0]  # the marker that detected it, ranked below the guess
        assert marker.category == "unknown"
        assert 0 < marker.confidence <= round(f.confidence - 0.01, 2)
        assert marker.why_lower == "a generic failure marker: it says that the job failed, not why"


def test_every_generic_marker_ranks_below_the_guess():
    """Two markers fired (an ERROR line and an exit code): neither may outrank the guess."""
    log = f"{UNEXPLAINED_CAPACITY}\nexit code: 1"
    inv = classify(evidence(log), default_library())
    assert inv.finding.rule == RULE_ID
    generic = [a for a in inv.alternatives if a.category == "unknown"]
    assert {a.rule for a in generic} >= {"unknown-error-log-line", "unknown-nonzero-exit-code"}
    for alt in generic:
        assert alt.confidence < inv.finding.confidence
        assert alt.why_lower.startswith("a generic failure marker")


def test_no_guess_from_a_couple_of_words():
    """A bare error line says that something failed, not what: it stays unknown."""
    for log in ("ERROR: failed", "ERROR: job failed"):
        inv = classify(evidence(log), default_library())
        assert inv.finding.category == "unknown", log
        assert inv.finding.rule != RULE_ID


def test_a_rule_that_fired_is_never_overridden():
    log = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\nERROR: job failed"
    inv = classify(evidence(log), default_library())
    assert inv.finding.rule == "resources-cuda-out-of-memory"


def test_a_healthy_log_is_never_turned_into_a_failure():
    log = "epoch 3 loss 0.12 memory 31 GiB capacity instance ml.p4d.24xlarge\nTraining finished."
    inv = classify(evidence(log), default_library())
    assert inv.finding.category == "none"


def test_no_guess_without_log_text():
    """Logs unreadable, a terse FailureReason: unknown, not a guess from a few words."""
    facts = {
        "sagemaker.status": "Failed",
        "sagemaker.failure_reason": "AlgorithmError: ExecuteUserScriptError: ExitCode 1 "
        "ErrorMessage \"ValueError: bad shard layout in the instance pool\"",
    }
    gap = Gap(source="logs", code="AccessDenied", message="no logs:GetLogEvents")
    inv = classify(evidence("", facts=facts, gaps=[gap]), default_library())
    assert inv.finding.category == "unknown"


def test_the_guess_is_deterministic():
    runs = {
        to_json(classify(evidence(UNEXPLAINED_OOM), default_library()).finding)
        for _ in range(3)
    }
    assert len(runs) == 1


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


PROBE = """
import json, sys
from investigator.classifier import classify
from investigator.classifier.fallback import load_model
from investigator.models import Evidence, LogEvent, LogStream, Target
ev = Evidence(target=Target(kind="log", name="t"),
              logs=[LogStream(name="s", events=[LogEvent(message={log!r})])])
category = classify(ev).finding.category
print(json.dumps({{"category": category, "loaded": load_model.cache_info().currsize,
                  "numpy": "numpy" in sys.modules}}))
"""


def test_model_is_loaded_lazily_and_without_numpy():
    specific = _run(PROBE.format(log="No space left on device"))
    assert specific["loaded"] == 0  # a rule explained it: the model was never read
    guessed = _run(PROBE.format(log=UNEXPLAINED_OOM))
    assert guessed == {"category": "resources", "loaded": 1, "numpy": False}


def test_the_model_reads_aws_failure_reason_error_and_cause_beside_the_log():
    from investigator.classifier.engine import fallback_text
    from investigator.classifier.scanner import ScanStats

    facts = {"sagemaker.failure_reason": "the zeta runtime reported code 7731",
             "sfn.error": "States.TaskFailed", "sfn.cause": "the training step failed"}
    inv = classify(evidence("ERROR - job failed", facts), default_library())
    text = fallback_text(inv, ScanStats())
    for value in facts.values():  # each on its own line
        assert value in text.splitlines()


def test_the_model_reads_at_most_max_chars_half_of_them_telling_lines():
    """Long evidence and a long log: the last half of MAX_CHARS of the telling lines (here the
    cause), a newline, then the end of the log filling the rest."""
    from investigator.classifier.engine import fallback_text
    from investigator.classifier.fallback import MAX_CHARS
    from investigator.classifier.scanner import ScanStats

    cause = "".join(f"cause line {i:05d}\n" for i in range(2000))
    inv = classify(evidence("ERROR - job failed", {"sfn.cause": cause}), default_library())
    log = "".join(f"log {i:06d}\n" for i in range(3000)).encode()
    stats = ScanStats(tails={"algo-1": (log, 3000)})
    text = fallback_text(inv, stats)
    head, tail = text[: MAX_CHARS // 2], text[MAX_CHARS // 2 + 1 :]
    assert head == cause[-(MAX_CHARS // 2) :]
    assert text[MAX_CHARS // 2] == "\n"
    assert tail == stats.tail_text()[-(MAX_CHARS - MAX_CHARS // 2) :]
