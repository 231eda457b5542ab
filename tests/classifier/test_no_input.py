"""Empty, whitespace-only or binary input is "nothing to examine", never "no failure found"."""

from __future__ import annotations

import gzip
import json
import random

import pytest
from click.testing import CliRunner

from investigator.classifier.scanner import looks_binary
from investigator.cli import main

NOTHING = "no-input-to-examine"


def investigate(*args: str, input: bytes | None = None) -> dict:
    result = CliRunner().invoke(main, ["log", *args, "--format", "json"], input=input)
    assert result.exit_code == 0, result.output  # a result was produced (README exit codes)
    [obj] = json.loads(result.stdout)
    return obj


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "EmptyInput"),
        (b"   \n\n\t \r\n", "EmptyInput"),
        (bytes(random.Random(7).randrange(256) for _ in range(20_000)), "BinaryInput"),
        (gzip.compress(b"Traceback (most recent call last):\n" * 200), "BinaryInput"),
    ],
    ids=["empty", "whitespace", "random-bytes", "gzip-without-suffix"],
)
def test_nothing_to_examine_is_a_gap_with_low_confidence(tmp_path, content, code):
    path = tmp_path / "job.log"
    path.write_bytes(content)
    obj = investigate(str(path))
    assert obj["category"] != "none"
    assert obj["rule"] == NOTHING
    assert obj["confidence"] <= 0.2
    assert "Nothing to examine" in obj["title"]
    assert [g["code"] for g in obj["gaps"]] == [code]


def test_empty_stdin_is_nothing_to_examine():
    assert investigate("-", input=b"")["rule"] == NOTHING


def test_a_quiet_but_real_log_is_still_examined(tmp_path):
    path = tmp_path / "job.log"
    path.write_bytes("epoch 1 loss 0.52 café\nepoch 2 loss 0.41\n".encode("latin-1"))
    obj = investigate(str(path))
    assert obj["category"] == "none" and obj["rule"] != NOTHING
    assert obj["gaps"] == []


def test_binary_sniffing():
    assert not looks_binary("naïve text, ünïcode and \x1b[31mcolour\x1b[0m\n".encode())
    assert not looks_binary(b"")
    assert looks_binary(bytes(range(256)) * 4)


@pytest.mark.parametrize(
    ("content", "message", "title"),
    [
        (b" \n\t\n", "the log holds no text (4 bytes, all whitespace)",
         "Nothing to examine: the input is empty or holds only whitespace"),
        (gzip.compress(b"x" * 100), "1 of 1 log source(s) are binary",
         "Nothing to examine: the input is binary, not a text log"),
    ],
    ids=["whitespace", "binary"],
)
def test_the_input_gap_says_what_was_wrong_with_the_log(tmp_path, content, message, title):
    path = tmp_path / "job.log"
    path.write_bytes(content)
    obj = investigate(str(path))
    [gap] = obj["gaps"]
    assert (gap["source"], gap["message"]) == ("logs", message)
    assert obj["title"] == title
