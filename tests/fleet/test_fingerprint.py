"""The fingerprint: the same cause on other runs gives the same value; another cause does not."""

from __future__ import annotations

import json
import random

import pytest

from investigator.fleet.fingerprint import fingerprint, fingerprint_of_report, normalise_title
from investigator.reporter import render
from tests.fleet.conftest import DIGEST_B, make_inv

SEEDS = range(25)


def test_same_cause_on_different_runs_has_one_fingerprint():
    invs = [make_inv(random.Random(seed)) for seed in SEEDS]
    assert {i.finding.rule for i in invs} == {"deps-module-not-found"}
    assert len({i.target.name for i in invs}) == len(invs)  # truly different runs
    assert len({i.fingerprint for i in invs}) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"module": "flash_attn"},
        {"digest": DIGEST_B},
        {"instance_type": "ml.p4d.24xlarge"},
        {"failed_state": "Evaluate"},
        {"error": "RuntimeError: CUDA error: no kernel image is available for execution on the device"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_a_different_cause_has_another_fingerprint(change):
    base = {make_inv(random.Random(seed)).fingerprint for seed in SEEDS}
    other = {make_inv(random.Random(seed), **change).fingerprint for seed in SEEDS}
    assert len(base) == 1 and len(other) == 1
    assert base != other


def test_the_pipeline_name_is_not_part_of_the_cause():
    # the same broken image fails in two pipelines: one fleet group, two pipelines in it
    a = make_inv(random.Random(1), pipeline="Nightly")
    b = make_inv(random.Random(2), pipeline="Weekly")
    assert a.fingerprint == b.fingerprint


def test_the_json_report_carries_the_fingerprint_and_recomputes_to_it():
    inv = make_inv(random.Random(3))
    doc = json.loads(render(inv, "json"))
    assert doc["fingerprint"] == inv.fingerprint
    del doc["fingerprint"]  # a report from before the field existed
    assert fingerprint_of_report(doc) == inv.fingerprint


@pytest.mark.parametrize("seed", SEEDS)
def test_run_specific_tokens_never_reach_the_fingerprint(seed):
    rng = random.Random(seed)
    job = f"train-{rng.randrange(10**6)}"
    noisy = (f"Output {job} missing at 2025-0{rng.randrange(1, 9)}-1{rng.randrange(9)}T0"
             f"{rng.randrange(9)}:12:33Z on algo-{rng.randrange(9)} "
             f"ip-10-0-{rng.randrange(250)}-{rng.randrange(250)} pid {rng.randrange(10**5, 10**7)} "
             f"id {rng.getrandbits(128):032x}")
    clean = normalise_title(noisy, [job])
    assert clean == "Output <*> missing at <*> on <*> <*> pid <*> id <*>"
    assert fingerprint("r", noisy, run_names=[job]) == fingerprint(
        "r", "Output XJOB missing at 2024-01-01T00:00:00Z on algo-1 ip-1-2-3-4 pid 12345 id "
        + "0f" * 16, run_names=["XJOB"])


def test_short_version_like_tokens_stay_distinct():
    # libcudart.so.11 vs .12, GLIBC_2.34, fp16: identify the cause, never masked
    for a, b in [("libcudart.so.11", "libcudart.so.12"), ("GLIBC_2.34", "GLIBC_2.28"),
                 ("fp16", "bf16")]:
        assert fingerprint("r", f"missing {a}") != fingerprint("r", f"missing {b}")
