"""Tolerant matching by construction: one playbook spelling matches the shapes real logs use."""

from __future__ import annotations

import pytest
import re2

from investigator.classifier import classify
from investigator.classifier.tolerant import tolerant
from tests.classifier.test_engine import evidence, library, rule

VALUE = rule(
    "value-error", "code", priority=40, patterns={"any": ["ValueError: bad learning rate"]}
)
ANCHORED = rule("anchored", "deps", priority=40, patterns={"any": ["^No module named (?P<m>\\w+)"]})


@pytest.mark.parametrize(
    "line",
    [
        "ValueError: bad learning rate",
        "ValueError:bad learning rate",  # no space after the colon
        "ValueError : bad learning rate",
        "valueerror: BAD LEARNING RATE",  # a logger that lower-cases
        "2024-05-01 12:00:00,123 ValueError: bad learning rate",
        "[rank3]: ValueError: bad learning rate",
        "algo-1-abcde | ValueError: bad learning rate",
        "> ValueError: bad learning rate",
        "\x1b[31mValueError\x1b[0m: bad learning rate",  # ANSI colour mid-line
        "[31mValueError[0m: bad learning rate",  # ANSI codes that lost their ESC in a paste
        "ValueError: bad learning rate\r",
    ],
)
def test_one_spelling_matches_every_common_shape(tmp_path, line):
    inv = classify(evidence(line), library(tmp_path, VALUE))
    assert inv.finding.rule == "value-error"


@pytest.mark.parametrize(
    "line",
    [
        "No module named einops",
        "2024-05-01T12:00:00.123Z No module named einops",
        "[1,0]<stderr>:No module named einops",
        "[rank0]: No module named einops",
        "> > No module named einops",
        "(RayTrainWorker pid=1234, ip=10.0.1.2) No module named einops",
        "[pod/train-0/pytorch] No module named einops",
        "E0612 10:05:38.123456 1234 main.cc:12] No module named einops",
        "12:00:01 algo-1 | No module named einops",
        "#7 278.8 No module named einops",  # a step of `docker build --progress=plain`
        "[2]<stderr>:No module named einops",  # horovodrun (gloo)
        "3: No module named einops",  # srun --label
        "`No module named einops`",  # Markdown inline code around a pasted line
        "```No module named einops",  # a code fence opened on the log's first line
    ],
)
def test_a_line_anchored_pattern_accepts_known_prefixes(tmp_path, line):
    inv = classify(evidence(line), library(tmp_path, ANCHORED))
    assert inv.finding.rule == "anchored"
    assert inv.finding.title.endswith("anchored")


def test_anchor_still_anchors(tmp_path):
    inv = classify(evidence("pip says: No module named einops"), library(tmp_path, ANCHORED))
    assert inv.finding.category == "none"


def test_a_rule_can_opt_out_of_case_folding(tmp_path):
    strict = rule("strict", "capacity", case_sensitive=True, patterns={"any": ["Rate exceeded"]})
    per_pattern = rule(
        "per-pattern",
        "capacity",
        patterns={"any": [{"regex": "Rate exceeded", "case_sensitive": True}]},
    )
    lib = library(tmp_path, strict, per_pattern)
    assert classify(evidence("sampling rate exceeded target"), lib).finding.category == "none"
    assert classify(evidence("ClientError: Rate exceeded"), lib).finding.category == "capacity"


def test_a_one_case_character_class_keeps_its_case():
    rx = re2.compile(tolerant(r"[A-Z]\w*Error: x"))
    assert rx.search("OSError:x")
    assert rx.search("dlerror: x") is None  # "[A-Z]" says an upper-case initial
    assert rx.search("CUDAERROR: x")  # ...and "Error" itself is folded


def test_unless_drops_a_line_that_also_matches_a_veto(tmp_path):
    generic = rule(
        "generic-error",
        "code",
        confidence="low",
        priority=5,
        patterns={"any": [{"regex": "^ERROR:", "unless": ["pip's dependency resolver"]}]},
    )
    lib = library(tmp_path, generic)
    pip = "ERROR: pip's dependency resolver does not currently take into account all packages"
    assert classify(evidence(pip), lib).finding.category == "none"
    inv = classify(evidence(f"{pip}\nERROR: training crashed"), lib)
    assert inv.finding.rule == "generic-error"
    assert [e.line for e in inv.finding.evidence] == [2]


@pytest.mark.parametrize(
    ("regex", "text", "hit"),
    [
        (r"exit code: (?P<c>\d+)", "Exit Code:137", True),
        (r"\d+:\d+", "12:30", True),  # a colon inside a token is left alone
        (r"[: ]x", ":x", True),  # a colon in a class is a class member
        (r"(?:a|b): x", "B :x", True),
        (r"(?P<g>a): *x", "a:x", True),
        (r"^States\.Timeout$", "States.Timeout\r", True),
        (r"^States\.Timeout$", "States.TimeoutX", False),
    ],
)
def test_rewrite_keeps_regex_meaning(regex, text, hit):
    assert bool(re2.search(tolerant(regex), text)) is hit


def test_a_case_sensitive_rule_keeps_its_vetoes_case_sensitive(tmp_path):
    from investigator.classifier import classify
    from tests.classifier.test_engine import evidence, library, rule

    strict = rule("strict", "code", priority=40, case_sensitive=True,
                  patterns={"any": [{"regex": "Boom", "unless": ["Retrying"]}]})
    lib = library(tmp_path, strict)
    assert classify(evidence("Boom: retrying soon"), lib).finding.rule == "strict"
    assert classify(evidence("Boom: Retrying soon"), lib).finding.category == "none"
