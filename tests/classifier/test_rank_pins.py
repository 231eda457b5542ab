"""Ranking, pinned by the verdict a user sees: which rule wins, and how sure it says it is.

Each test changes one thing (a fact, an indent, a line's position) and shows the verdict
moves with it, so the behaviour cannot be switched off unnoticed (see issue "Tests that
pin behaviour": these were the mutants that survived)."""

from __future__ import annotations

from pathlib import Path

from investigator.classifier import classify
from tests.classifier.test_engine import evidence, library, rule


def _verdict(tmp_path: Path, rules: list[dict], log: str, facts: dict | None = None):
    inv = classify(evidence(log, facts), library(tmp_path, *rules))
    return inv.finding


OOM = rule("oom", "resources", priority=50, patterns={"any": ["CUDA out of memory"]})


def test_a_completed_job_means_the_errors_in_its_log_were_handled(tmp_path):
    log = "step 10\nCUDA out of memory. Tried to allocate 2.00 GiB\nstep 11 done"
    failed = _verdict(tmp_path / "a", [OOM], log)
    assert failed.category == "resources"
    completed = _verdict(tmp_path / "b", [OOM], log, {"sagemaker.status": "Completed"})
    assert completed.category == "none"
    # ...but a job that failed keeps its errors even with a success marker earlier.
    again = _verdict(tmp_path / "c", [OOM], log, {"sagemaker.status": "Failed"})
    assert again.category == "resources"


def test_a_close_runner_up_of_another_category_lowers_confidence(tmp_path):
    deps_close = rule("deps-close", "deps", priority=48, patterns={"any": ["pip check failed"]})
    deps_far = rule("deps-far", "deps", priority=20, patterns={"any": ["pip check failed"]})
    log = "pip check failed\nCUDA out of memory. Tried to allocate 2.00 GiB"
    sure = _verdict(tmp_path / "a", [OOM, deps_far], log)
    unsure = _verdict(tmp_path / "b", [OOM, deps_close], log)
    assert sure.rule == unsure.rule == "oom"
    assert unsure.confidence < sure.confidence
    assert round(sure.confidence - unsure.confidence, 2) == 0.1


SIZE = rule("size-mismatch", "code", priority=40, patterns={"any": ["size mismatch for"]})
MOD = rule("module", "deps", priority=50, patterns={"any": [r"No module named '(?P<m>\w+)'"]})


def test_the_final_exception_continues_onto_its_indented_message_line(tmp_path):
    indented = (
        "No module named 'wandb'\n"
        "RuntimeError: loading state_dict failed for Net\n"
        "\tsize mismatch for fc.weight: copying a param with shape [10, 512]"
    )
    assert _verdict(tmp_path / "a", [SIZE, MOD], indented).rule == "size-mismatch"
    # Another error printed after a final exception that has its own message is not it.
    separate = (
        "No module named 'wandb'\n"
        "RuntimeError: boom\n"
        "size mismatch for fc.weight: copying a param with shape [10, 512]"
    )
    assert _verdict(tmp_path / "b", [SIZE, MOD], separate).rule == "module"


def test_unknown_category_rules_rank_last_whatever_their_priority(tmp_path):
    loud = rule("loud-generic", "unknown", priority=95, patterns={"any": ["Traceback"]})
    quiet = rule("quiet-code", "code", priority=10, confidence="low", patterns={"any": ["KeyError"]})
    finding = _verdict(tmp_path, [loud, quiet], "Traceback (most recent call last):\nKeyError 'x'")
    assert finding.rule == "quiet-code"


def test_ties_go_to_the_most_recent_evidence_before_the_rule_id(tmp_path):
    early = rule("a-early", "code", priority=30, patterns={"any": ["first problem"]})
    late = rule("z-late", "code", priority=30, patterns={"any": ["second problem"]})
    log = "first problem\nsomething\nsecond problem"
    assert _verdict(tmp_path, [early, late], log).rule == "z-late"


def test_ties_on_the_same_line_go_to_the_rule_citing_more_lines(tmp_path):
    more = rule("z-more", "code", priority=30, patterns={"any": ["setup broke", "it failed"]})
    fewer = rule("a-fewer", "code", priority=30, patterns={"any": ["it failed"]})
    log = "setup broke\nother\nit failed"
    assert _verdict(tmp_path, [more, fewer], log).rule == "z-more"


def test_rank_prefixed_and_exception_lines_count_as_the_final_exception(tmp_path):
    cause = rule("cause", "deps", priority=50, patterns={"any": ["early hint"]})
    rank_line = rule("rank-err", "distributed", priority=40, patterns={"any": ["boom happened"]})
    log = "early hint\n[rank0]: RuntimeError: boom happened"
    assert _verdict(tmp_path / "a", [cause, rank_line], log).rule == "rank-err"
    java = rule("java-err", "code", priority=40, patterns={"any": ["state is bad"]})
    log2 = "early hint\njava.lang.IllegalStateException: state is bad"
    assert _verdict(tmp_path / "b", [cause, java], log2).rule == "java-err"
    # Without an exception shape the earlier, higher-priority cause wins.
    plain = "early hint\nboom happened"
    assert _verdict(tmp_path / "c", [cause, rank_line], plain).rule == "cause"


def test_ties_across_streams_go_to_the_stream_read_last(tmp_path):
    from investigator.models import Evidence, LogEvent, LogStream, Target

    early = rule("a-early", "code", priority=30, patterns={"any": ["first problem"]})
    late = rule("z-late", "code", priority=30, patterns={"any": ["second problem"]})
    streams = [
        LogStream(name="algo-1", events=[LogEvent(message="x"), LogEvent(message="x"),
                                         LogEvent(message="first problem")]),
        LogStream(name="algo-2", events=[LogEvent(message="second problem")]),
    ]  # fmt: skip
    ev = Evidence(target=Target(kind="log", name="t"), logs=streams)
    assert classify(ev, library(tmp_path, early, late)).finding.rule == "z-late"


def test_a_completed_job_inside_a_failed_pipeline_handled_its_log_errors(tmp_path):
    # The pipeline failed after the job (a quality gate): the job's own log errors were handled.
    log = "CUDA out of memory. Tried to allocate 2.00 GiB\nretrying with a smaller batch\ndone"
    facts = {"sagemaker.status": "Completed", "sfn.status": "FAILED"}
    assert _verdict(tmp_path / "a", [OOM], log, facts).category == "none"
    facts_failed_job = {"sagemaker.status": "Failed", "sfn.status": "FAILED"}
    assert _verdict(tmp_path / "b", [OOM], log, facts_failed_job).category == "resources"


def test_an_exception_line_with_no_message_continues_onto_the_next_lines(tmp_path):
    # `AssertionError: ` (trailing space, no message): its message is the next lines, even
    # unindented, up to three lines down.
    log = ("No module named 'wandb'\n"
           "AssertionError: \n"
           "checkpoint keys differ:\n"
           "missing: fc.bias\n"
           "size mismatch for fc.weight: copying a param with shape [10, 512]")
    assert _verdict(tmp_path / "a", [SIZE, MOD], log).rule == "size-mismatch"
    # Four lines down is no longer its message.
    far = log.replace("missing: fc.bias\n", "missing: fc.bias\nunexpected: fc2.bias\n")
    assert _verdict(tmp_path / "b", [SIZE, MOD], far).rule == "module"


def test_a_space_indented_line_continues_the_final_exception(tmp_path):
    log = ("No module named 'wandb'\n"
           "RuntimeError: loading state_dict failed for Net\n"
           "    size mismatch for fc.weight: copying a param with shape [10, 512]")
    assert _verdict(tmp_path, [SIZE, MOD], log).rule == "size-mismatch"


# --- what a user reads about each runner-up: its confidence and why it ranks lower ---------


def _investigation(tmp_path: Path, rules: list[dict], log: str, facts: dict | None = None):
    return classify(evidence(log, facts), library(tmp_path, *rules))


def _alts(inv) -> list[tuple[str, float, str]]:
    return [(a.rule, a.confidence, a.why_lower) for a in inv.alternatives]


DEPS = rule("deps", "deps", priority=30, confidence="medium", patterns={"any": ["pip check failed"]})
GENERIC = rule("generic", "unknown", priority=5, confidence="low", patterns={"any": ["Traceback"]})
DONE = rule("done", "none", patterns={"any": ["Reporting training SUCCESS"]})


def test_why_lower_names_priority_final_error_and_generic_marker(tmp_path):
    inv = _investigation(tmp_path, [OOM, DEPS, GENERIC],
                         "Traceback\npip check failed\nRuntimeError: CUDA out of memory")
    assert (inv.finding.rule, inv.finding.confidence) == ("oom", 0.95)  # high + final error
    # Runner-up confidence: its own level scaled down by how far its score is below the top
    # (deps: medium 0.75 x (1 - 40/100)); a generic marker bottoms out at 30% of its level.
    assert _alts(inv) == [
        ("deps", 0.45, "usually a consequence rather than a cause (priority 30 < 50); "
                       "it is not the final error of the log"),
        ("generic", 0.17, "a generic failure marker; a specific rule explains the failure"),
    ]


def test_why_lower_for_an_equal_rule_matched_earlier(tmp_path):
    same = rule("same", "code", priority=50, patterns={"any": ["weird thing"]})
    inv = _investigation(tmp_path, [OOM, same], "weird thing\nCUDA out of memory")
    # A tie of another category: the later one wins, less sure (0.9 - 0.1).
    assert (inv.finding.rule, inv.finding.confidence) == ("oom", 0.8)
    assert _alts(inv) == [("same", 0.79, "matched earlier in the log than the chosen cause")]


def test_why_lower_falls_back_to_the_scores(tmp_path):
    low = rule("low", "code", priority=50, confidence="low", patterns={"any": ["weird thing"]})
    inv = _investigation(tmp_path, [OOM, low], "CUDA out of memory\nweird thing")
    assert (inv.finding.rule, inv.finding.confidence) == ("oom", 0.9)
    assert _alts(inv) == [("low", 0.5, "lower score (55 < 65)")]


def test_why_lower_for_errors_a_later_success_handled(tmp_path):
    log = "CUDA out of memory\nReporting training SUCCESS"
    inv = _investigation(tmp_path / "a", [OOM, DONE], log)
    assert (inv.finding.category, inv.finding.confidence) == ("none", 0.9)
    assert _alts(inv) == [
        ("oom", 0.89, "the job went on and ended successfully after this, so it was handled")]
    stopped = _investigation(tmp_path / "b", [OOM, DONE], log, {"stop.by": "arn:aws:iam::1:user/me"})
    assert stopped.finding.category == "none"
    assert _alts(stopped) == [
        ("oom", 0.89, "the run was stopped on request; errors around a stop are its consequence")]


def test_an_unknown_category_verdict_is_never_more_than_half_sure(tmp_path, monkeypatch):
    # The cap is rank's; the learned fallback, which may replace an unknown verdict with a
    # guess depending on the committed model's weights, is not this test's subject.
    monkeypatch.setattr("investigator.classifier.fallback.guess", lambda text: None)
    loud = rule("loud", "unknown", priority=5, patterns={"any": ["Traceback"]})
    inv = _investigation(tmp_path, [loud], "Traceback")
    assert (inv.finding.rule, inv.finding.confidence) == ("loud", 0.5)


PROBLEMS = [rule(f"r{i}", "code", priority=10 + i, patterns={"any": [f"problem {i}"]})
            for i in range(8)]


def test_at_most_five_alternatives_live_ones_first(tmp_path):
    log = "\n".join(f"problem {i}" for i in range(8))
    inv = _investigation(tmp_path / "a", PROBLEMS, log)
    assert inv.finding.rule == "r7"
    assert [a.rule for a in inv.alternatives] == ["r6", "r5", "r4", "r3"]
    handled = _investigation(tmp_path / "b", [*PROBLEMS, DONE],
                             log + "\nReporting training SUCCESS")
    assert handled.finding.category == "none"
    assert [a.rule for a in handled.alternatives] == ["r7", "r6", "r5", "r4", "r3"]
    assert [a.confidence for a in handled.alternatives] == [0.6, 0.59, 0.59, 0.58, 0.57]


def test_handled_errors_fill_only_the_room_live_ones_leave(tmp_path):
    # Five errors handled by a success marker, then eight live ones after it: the live ones
    # take all the room (four besides the verdict) and no handled one is listed.
    problems = [rule(f"r{i}", "code", priority=10 + i, patterns={"any": [f"problem {i}"]})
                for i in range(13)]
    log = "\n".join([*(f"problem {i}" for i in range(5)), "Reporting training SUCCESS",
                     *(f"problem {i}" for i in range(5, 13))])
    inv = _investigation(tmp_path, [*problems, DONE], log)
    assert inv.finding.rule == "r12"
    assert [a.rule for a in inv.alternatives] == ["r11", "r10", "r9", "r8"]


def test_a_generic_runner_up_of_a_generic_verdict_gets_the_ordinary_reason(tmp_path):
    # Both rules are generic markers: "a specific rule explains the failure" would be false.
    first = rule("gen-a", "unknown", priority=20, confidence="low", patterns={"any": ["Traceback"]})
    second = rule("gen-b", "unknown", priority=5, confidence="low", patterns={"any": ["exited"]})
    inv = _investigation(tmp_path, [first, second], "Traceback\nprocess exited with code 1")
    runner_up = next(a for a in inv.alternatives if a.rule == "gen-b")
    assert runner_up.why_lower == "usually a consequence rather than a cause (priority 5 < 20)"


def test_a_later_success_line_does_not_handle_a_failure_aws_reported(tmp_path):
    # The failure rests on SageMaker's FailureReason, not on log lines: a success line in the
    # log does not make it handled, whether the rule cites the reason's text...
    reason = {"sagemaker.failure_reason": "CapacityError: Unable to provision requested ML compute"}
    log = "starting\nReporting training SUCCESS"
    cited = rule("cap-text", "capacity", priority=60,
                 patterns={"any": ["Unable to provision requested"]})
    assert _verdict(tmp_path / "a", [cited, DONE], log, reason).rule == "cap-text"
    # ...or only checks it in a condition (nothing cited at all).
    checked = rule("cap-cond", "capacity", priority=60, conditions=[
        {"fact": "sagemaker.failure_reason", "op": "matches", "value": "CapacityError"}])
    assert _verdict(tmp_path / "b", [checked, DONE], log, reason).rule == "cap-cond"


def test_runner_up_on_the_same_line_is_lower_by_score_not_earlier(tmp_path):
    low = rule("low-oom", "code", priority=50, confidence="low",
               patterns={"any": ["CUDA out of memory"]})
    inv = _investigation(tmp_path, [OOM, low], "step 1\nCUDA out of memory")
    assert _alts(inv) == [("low-oom", 0.5, "lower score (55 < 65)")]


def test_a_runner_up_five_points_below_does_not_lower_confidence(tmp_path):
    five_below = rule("deps-5", "deps", priority=45, patterns={"any": ["pip check failed"]})
    four_below = rule("deps-4", "deps", priority=46, patterns={"any": ["pip check failed"]})
    log = "pip check failed\nCUDA out of memory. Tried to allocate 2.00 GiB"
    assert _verdict(tmp_path / "a", [OOM, five_below], log).confidence == 0.9
    assert _verdict(tmp_path / "b", [OOM, four_below], log).confidence == 0.8


def test_a_success_line_is_not_after_a_failure_on_the_same_line(tmp_path):
    # "Training completed with errors": the success rule and the failure rule cite one line;
    # the success did not come after the failure, so the failure stands.
    errors = rule("completed-with-errors", "code", priority=40,
                  patterns={"any": ["completed with errors"]})
    done = rule("completed", "none", patterns={"any": ["Training completed"]})
    finding = _verdict(tmp_path, [errors, done], "epoch 3\nTraining completed with errors")
    assert finding.rule == "completed-with-errors"


def test_a_runner_up_with_an_equal_score_keeps_its_own_confidence(tmp_path):
    # Same score (40 + high = 50 + low): the later one wins; the runner-up is not discounted
    # for any distance, so it keeps its level's 0.55.
    sure = rule("sure-late", "code", priority=40, patterns={"any": ["second problem"]})
    vague = rule("vague-early", "code", priority=50, confidence="low",
                 patterns={"any": ["first problem"]})
    inv = _investigation(tmp_path, [sure, vague], "first problem\nsecond problem")
    assert (inv.finding.rule, inv.finding.confidence) == ("sure-late", 0.9)
    assert _alts(inv) == [("vague-early", 0.55, "matched earlier in the log than the chosen cause")]


def test_a_success_rule_explaining_the_final_exception_is_surer(tmp_path):
    # Early stopping that ends the log with its own (handled) exception line: the success rule
    # that explains that final line gets the final-line bonus like any other.
    early = rule("early-stop", "none", patterns={"any": ["EarlyStopping"]})
    log = "epoch 9 val_loss 0.31\nEarlyStoppingException: no improvement in 3 epochs"
    finding = _verdict(tmp_path, [early], log)
    assert (finding.category, finding.confidence) == ("none", 0.95)


def test_a_succeeded_or_stopped_run_handled_the_errors_in_its_log(tmp_path):
    log = "step 10\nCUDA out of memory. Tried to allocate 2.00 GiB\nstep 11"
    for name, facts in [("succeeded", {"sfn.status": "SUCCEEDED"}),
                        ("stopped", {"stop.by": "arn:aws:iam::123456789012:user/oncall"})]:
        inv = _investigation(tmp_path / name, [OOM], log, facts)
        assert inv.finding.category == "none", name
        assert inv.finding.explanation.endswith(
            "Errors were printed but the job carried on and finished, so they were handled.")
        assert [a.rule for a in inv.alternatives] == ["oom"], name


def test_lines_of_an_ignored_traceback_are_no_failure(tmp_path):
    # Python printed this traceback and carried on ("Exception ignored in", a __del__ failing
    # at exit): a rule matching its lines does not make the run a failure.
    attr = rule("attr-none", "code", priority=40, patterns={"any": ["object has no attribute"]})
    log = ("Exception ignored in: <function Pool.__del__ at 0x7f>\n"
           "Traceback (most recent call last):\n"
           "AttributeError: 'NoneType' object has no attribute 'close'")
    assert _verdict(tmp_path / "a", [attr], log).category == "none"
    raised = log.replace("Exception ignored in: <function Pool.__del__ at 0x7f>\n", "")
    assert _verdict(tmp_path / "b", [attr], raised).rule == "attr-none"


def test_an_ignored_traceback_ends_at_its_exception_line(tmp_path):
    key = rule("key-error", "code", priority=40, patterns={"any": ["KeyError"]})
    ignored = ("Exception ignored in: <function Pool.__del__ at 0x7f>\n"
               "Traceback (most recent call last):\n"
               "AttributeError: 'NoneType' object has no attribute 'close'\n")
    # An error raised two lines after the ignored traceback's end is a failure...
    log = ignored + "step 10\nKeyError: 'labels'"
    assert _verdict(tmp_path / "a", [key], log).rule == "key-error"
    # ...and without an exception line the ignored part is the next twelve lines.
    cut = ignored.replace("AttributeError: 'NoneType' object has no attribute 'close'\n", "")
    inside = cut + "step\n" * 10 + "KeyError: 'x'"  # twelve lines below the header
    assert _verdict(tmp_path / "b", [key], inside).category == "none"
    after = cut + "step\n" * 11 + "KeyError: 'x'"  # thirteen
    assert _verdict(tmp_path / "c", [key], after).rule == "key-error"


def test_an_ignored_traceback_cut_short_with_no_exception_line_anywhere(tmp_path):
    killed = rule("killed", "resources", priority=40, patterns={"any": ["^Killed$"]})
    log = ("Exception ignored in: <function Pool.__del__ at 0x7f>\n"
           "Traceback (most recent call last):\n" + "step\n" * 12 + "Killed")
    assert _verdict(tmp_path, [killed], log).rule == "killed"


RESET = rule("conn-reset", "network", priority=40, patterns={"any": ["connection reset by peer"]})
IGNORED_HEAD = ("Exception ignored in: <function Client.__del__ at 0x7f>\n"
                "Traceback (most recent call last):\n"
                "  socket: connection reset by peer\n")


def test_an_ignored_traceback_without_an_exception_line_still_hides_its_lines(tmp_path):
    assert _verdict(tmp_path, [RESET], IGNORED_HEAD + "step\n" * 3).category == "none"


def test_another_streams_exception_does_not_end_an_ignored_traceback(tmp_path):
    from investigator.models import Evidence, LogEvent, LogStream, Target

    streams = [
        LogStream(name="algo-1", events=[LogEvent(message=m) for m in
                                         (IGNORED_HEAD + "step\n" * 3).splitlines()]),
        LogStream(name="algo-2", events=[LogEvent(message="step"),
                                         LogEvent(message="ValueError: bad shard")]),
    ]
    ev = Evidence(target=Target(kind="log", name="t"), logs=streams)
    assert classify(ev, library(tmp_path, RESET)).finding.category == "none"


def test_the_ignored_header_line_itself_is_no_failure(tmp_path):
    marker = rule("exception-word", "unknown", priority=5, confidence="low",
                  patterns={"any": [r"\bException\b"]})
    assert _verdict(tmp_path, [marker], IGNORED_HEAD + "step").category == "none"


WAITING = rule(
    "waiting", "capacity", priority=40,
    patterns={"any": [{
        "regex": r"(?:\bpod/(?P<object>[\w-]+)\s.*)?\b0/\d+ nodes are available",
        "cleared_by": [r"Successfully assigned \w+/(?P<object>[\w-]+) to"],
    }]},
)


def test_a_pod_scheduled_later_clears_its_scheduling_failure(tmp_path):
    log = ("Warning FailedScheduling 0/4 nodes are available: 4 Insufficient nvidia.com/gpu.\n"
           "Normal Scheduled Successfully assigned default/train-0 to gpu-node-3\n")
    inv = _investigation(tmp_path / "a", [WAITING], log)
    assert inv.finding.category == "none"
    assert _alts(inv) == [("waiting", 0.0, "line 2 says it resolved itself: Normal Scheduled "
                           "Successfully assigned default/train-0 to gpu-node-3")]
    # The same lines in the other order: still waiting when the log ends.
    swapped = "\n".join(reversed(log.strip().split("\n")))
    assert _verdict(tmp_path / "b", [WAITING], swapped).category == "capacity"


def test_another_pods_placement_does_not_clear_a_pod_still_waiting(tmp_path):
    other = ("3m Warning FailedScheduling pod/train-1 0/4 nodes are available: 4 Insufficient gpu\n"
             "2m Normal Scheduled pod/train-0 Successfully assigned default/train-0 to node-2\n")
    assert _verdict(tmp_path / "a", [WAITING], other).category == "capacity"
    same = other.replace("default/train-0", "default/train-1")
    assert _verdict(tmp_path / "b", [WAITING], same).category == "none"


def test_a_cleared_failure_leaves_a_later_failure_live(tmp_path):
    log = ("Warning FailedScheduling 0/4 nodes are available\n"
           "Normal Scheduled Successfully assigned default/train-0 to gpu-node-3\n"
           "CUDA out of memory. Tried to allocate 2.00 GiB\n")
    assert _verdict(tmp_path, [WAITING, OOM], log).category == "resources"


# A weak line (a family's vocabulary, a generic marker) that training outlived.
WEAK = rule("weak-denied", "permissions", priority=12, confidence="low",
            patterns={"any": ["permission denied"]})
STRONG = rule("strong-denied", "permissions", priority=60, confidence="high",
              patterns={"any": ["permission denied"]})
MEDIUM = rule("medium-denied", "permissions", priority=40, confidence="medium",
              patterns={"any": ["permission denied"]})
DENIED = "find: '.git': Permission denied"


def test_training_that_went_on_after_a_weak_failure_line_means_it_was_handled(tmp_path):
    log = f"{DENIED}\nEpoch 1/3 - loss: 0.412\nEpoch 2/3 - loss: 0.301\n"
    finding = classify(evidence(log), library(tmp_path, WEAK))
    assert finding.finding.category == "none"
    (alt,) = finding.alternatives
    assert alt.rule == "weak-denied"
    assert alt.why_lower.startswith("training went on after it (line 3 reports progress: Epoch 2/3")


def test_what_does_not_show_training_went_on_keeps_the_weak_failure(tmp_path):
    cases = {
        "one progress line": f"{DENIED}\nEpoch 1/3 - loss: 0.412\n",
        "progress only before": f"Epoch 1/3 - loss: 0.412\nEpoch 2/3 - loss: 0.301\n{DENIED}\n",
        "a diverging loss": f"{DENIED}\nstep 10 loss: nan\nstep 20 loss: nan\n",
        "bars standing at 0%": f"{DENIED}\n  0%|          | 0/100 [00:00<?, ?it/s]\n"
        "  0%|          | 0/100 [00:30<?, ?it/s]\n",
        "Slurm killing a failed step": f"{DENIED}\nsrun: Terminating job step 422332.0\n"
        "srun: error: cgpu17: task 1: Killed\nsrun: Terminating job step 422332.0\n",
    }
    for i, (case, log) in enumerate(cases.items()):
        got = _verdict(tmp_path / str(i), [WEAK], log)
        assert got.category == "permissions", case


def test_progress_does_not_outlive_a_strong_rule_or_a_failed_job(tmp_path):
    log = f"{DENIED}\n 40%|████      | 40/100 [00:10<00:15, 3.9it/s]\n" \
          " 80%|████████  | 80/100 [00:20<00:05, 3.9it/s]\n"
    assert _verdict(tmp_path / "a", [WEAK], log).category == "none"
    # A medium rule names a cause, not that it stopped the job (a notebook's failed `!pip`
    # cell, then training): progress outlives it too. A high one is decisive.
    assert _verdict(tmp_path / "m", [MEDIUM], log).category == "none"
    assert _verdict(tmp_path / "b", [STRONG], log).category == "permissions"
    failed = _verdict(tmp_path / "c", [WEAK], log, {"sagemaker.status": "Failed"})
    assert failed.category == "permissions"


def test_a_long_ignored_traceback_still_ends_at_its_own_exception_line(tmp_path):
    attr = rule("attr", "code", priority=40, patterns={"any": ["AttributeError"]})
    frames = '  File "/lib/wandb/redirect.py", line 161, in _redirect\n    fp.close()\n' * 10
    printed = ("Error in atexit._run_exitfuncs:\nTraceback (most recent call last):\n" + frames
               + "AttributeError: 'TeeHandler' object has no attribute 'close'\n")
    assert _verdict(tmp_path / "a", [attr], printed).category == "none"
    # The same traceback raised by the program (no header) is its failure.
    raised = printed.replace("Error in atexit._run_exitfuncs:\n", "")
    assert _verdict(tmp_path / "b", [attr], raised).rule == "attr"


def test_progress_is_read_from_the_end_of_a_long_log_with_its_line_numbers(tmp_path):
    # The weak line is far above the tail the scan keeps (32 KiB); the progress at the end
    # still counts, and the runner-up names its real line number.
    filler = "".join(f"step {i} loss: 0.{i % 10}\n" for i in range(5000))
    log = f"{DENIED}\n" + filler
    inv = classify(evidence(log), library(tmp_path, WEAK))
    assert inv.finding.category == "none"
    assert "(line 5001 reports progress: step 4999 loss: 0.9)" in inv.alternatives[0].why_lower


def test_a_weak_rule_does_not_rest_on_a_python_warning_record(tmp_path):
    warned = "/opt/lib/cache.py:12: UserWarning: permission denied on ~/.cache, using /tmp\n"
    assert _verdict(tmp_path / "a", [WEAK], warned).category == "none"
    # a specific rule may (a CPU-only wheel announces itself in a warning) ...
    assert _verdict(tmp_path / "b", [STRONG], warned).category == "permissions"
    # ... and the weak rule still reads the same words when they are not a warning
    raised = "PermissionError: permission denied on ~/.cache\n"
    assert _verdict(tmp_path / "c", [WEAK], raised).category == "permissions"


ASSERT = rule("assertion", "code", priority=28, confidence="low", message_decides=True,
              patterns={"any": [r"AssertionError(?:: (?P<message>.*))?$"]})
DIVISIBLE = rule("not-divisible", "hyperparameters", priority=12, confidence="low",
                 patterns={"any": [r"\bis not divisible by\b"]})


def test_an_assertions_message_decides_its_category_when_a_rule_reads_it(tmp_path):
    log = '  File "tp.py", line 9, in split\n    assert heads % tp == 0\n' \
          "AssertionError: 96 is not divisible by 64"
    finding = classify(evidence(log), library(tmp_path / "a", ASSERT, DIVISIBLE))
    assert finding.finding.rule == "not-divisible"
    (alt,) = finding.alternatives
    assert alt.rule == "assertion"
    assert alt.why_lower == "its exception type names no category; its message reads as " \
        "hyperparameters (not-divisible)"
    # Without `message_decides` the assertion's higher priority wins, as for any exception.
    typed = {**ASSERT, "message_decides": False}
    assert _verdict(tmp_path / "b", [typed, DIVISIBLE], log).rule == "assertion"


def test_a_rule_reading_another_line_leaves_the_assertion_its_verdict(tmp_path):
    log = "warning: 96 is not divisible by 64, padding\nAssertionError: expected dim 768, got 1024"
    assert _verdict(tmp_path, [ASSERT, DIVISIBLE], log).rule == "assertion"


TIMEOUT = rule("hub-timeout", "network", priority=60, confidence="high",
               patterns={"any": [r"ReadTimeoutError\("]})


def test_a_retried_request_that_training_outlived_was_handled_whatever_the_rules_confidence(
        tmp_path):
    retried = ("WARNING:huggingface_hub.utils._http:'(ReadTimeoutError(\"HTTPSConnectionPool("
               "host='huggingface.co', port=443): Read timed out.\"))' thrown while requesting "
               "HEAD https://huggingface.co/Qwen/Qwen3-4B/resolve/main/config.json\n")
    progress = "{'loss': 1.3612, 'epoch': 0.52}\n{'loss': 1.3481, 'epoch': 0.78}\n"
    assert _verdict(tmp_path / "a", [TIMEOUT], retried + progress).category == "none"
    # The same error raised, not retried, stays the failure even if progress follows.
    raised = "requests.exceptions.ReadTimeout: ReadTimeoutError(\"HTTPSConnectionPool(...)\")\n"
    assert _verdict(tmp_path / "b", [TIMEOUT], raised + progress).category == "network"
    # ...and retries with nothing after them are the failure: the retries ran out.
    assert _verdict(tmp_path / "c", [TIMEOUT], retried).category == "network"
