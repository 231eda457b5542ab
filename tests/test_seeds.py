"""The seed incidents (examples/): right category, and a remediation that would have fixed it."""

from __future__ import annotations

from pathlib import Path

import pytest

from investigator.classifier import default_library
from investigator.logfiles import investigate_log

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# file → (category, words of which each group needs one in the remediation, lower-cased)
SEEDS = {
    "apex-build-skipped.log": ("deps", [("apex",), ("cuda_ext", "cuda extension", "--cuda_ext")]),
    "flash-attn-abi-mismatch.log": ("deps", [("wheel",), ("torch",), ("cxx11abi", "abi")]),
    "stale-image-cannot-import.log": ("deps", [("rebuild",), ("push",)]),
    "libcusparselt-missing.log": ("cuda", [("torch",), ("index", "wheel")]),
    "no-nvidia-driver.log": ("cuda", [("--gpus", "gpu instance", "gpu")]),
    "venv-missing-stdlib.log": ("deps", [("venv", "virtual environment"), ("copies", "standard library", "stdlib")]),
    "crlf-entrypoint.log": ("entrypoint", [("crlf", "line ending", "dos2unix", "\\r")]),
    "tensorflow-cpu-fallback.log": ("cuda", [("tensorflow",), ("gpu build", "and-cuda", "system-site-packages")]),
    "pil-imaging-import.log": ("deps", [("pillow", "pil")]),
    "healthy-with-warnings.log": ("none", []),
}


@pytest.fixture(scope="module")
def library():
    return default_library()


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_is_diagnosed_with_a_fix(name, library):
    category, needs = SEEDS[name]
    inv = investigate_log(str(EXAMPLES / name), library)
    f = inv.finding
    assert f.category == category, f"{name}: got {f.category}/{f.rule}"
    remediation = " ".join(f.remediation).lower()
    for group in needs:
        assert any(w in remediation for w in group), f"{name}: remediation lacks {group}: {remediation}"
    if category != "none":
        assert f.evidence, "a diagnosis cites its evidence"
        assert f.confidence >= 0.6


def test_every_sample_log_is_covered():
    assert {p.name for p in EXAMPLES.glob("*.log")} == set(SEEDS)
