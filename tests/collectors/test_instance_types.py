"""Instance knowledge: the facts rules rely on for GPU, accelerator and CPU architecture."""

from __future__ import annotations

import pytest

from investigator.facts import FACTS
from investigator.knowledge.instance_types import INSTANCE_TYPES, instance_facts, lookup

REQUIRED_FAMILIES = ["p2", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "g4dn", "g5", "g6", "g6e",
                     "trn1", "inf2", "c5", "m5", "c6i", "m6i", "c7g", "m7g"]


@pytest.mark.parametrize(
    "name,gpu,count,mem,cc",
    [
        ("ml.g4dn.xlarge", "T4", 1, 16, 7.5),
        ("ml.g4dn.12xlarge", "T4", 4, 16, 7.5),
        ("ml.g5.48xlarge", "A10G", 8, 24, 8.6),
        ("ml.p3.2xlarge", "V100", 1, 16, 7.0),
        ("ml.p3dn.24xlarge", "V100", 8, 32, 7.0),
        ("ml.p4d.24xlarge", "A100", 8, 40, 8.0),
        ("ml.p4de.24xlarge", "A100", 8, 80, 8.0),
        ("ml.p5.48xlarge", "H100", 8, 80, 9.0),
        ("ml.g6e.2xlarge", "L40S", 1, 48, 8.9),
        ("ml.p2.xlarge", "K80", 1, 12, 3.7),
    ],
)
def test_nvidia_instances(name: str, gpu: str, count: int, mem: float, cc: float) -> None:
    f = instance_facts(name)
    assert f["instance.accelerator"] == "nvidia"
    assert (f["instance.gpu_model"], f["instance.gpu_count"]) == (gpu, count)
    assert (f["instance.gpu_memory_gb"], f["instance.compute_capability"]) == (mem, cc)
    assert f["instance.cpu_arch"] == "x86_64"


@pytest.mark.parametrize("name", ["ml.c7g.xlarge", "ml.m7g.2xlarge", "ml.r7g.large"])
def test_graviton_is_arm64_without_gpu(name: str) -> None:
    f = instance_facts(name)
    assert (f["instance.cpu_arch"], f["instance.accelerator"], f["instance.gpu_count"]) == (
        "arm64", "none", 0)
    assert "instance.gpu_model" not in f


def test_neuron_instances_have_no_cuda_gpu() -> None:
    f = instance_facts("ml.trn1.32xlarge")
    assert f["instance.accelerator"] == "neuron"
    assert f["instance.gpu_count"] == 0 and "instance.compute_capability" not in f
    assert (f["instance.accelerator_model"], f["instance.accelerator_count"]) == ("Trainium", 16)
    assert instance_facts("ml.inf2.xlarge")["instance.accelerator_model"] == "Inferentia2"


def test_cpu_sizes() -> None:
    assert instance_facts("ml.m5.xlarge") == {
        "instance.cpu_arch": "x86_64", "instance.vcpus": 4, "instance.memory_gb": 16,
        "instance.accelerator": "none", "instance.gpu_count": 0,
        "instance.accelerator_count": 0}
    assert lookup("ml.c5.18xlarge").vcpus == 72  # type: ignore[union-attr]
    assert lookup("c6i.32xlarge").memory_gb == 256  # type: ignore[union-attr]


def test_unknown_instance_type_gives_no_facts() -> None:
    assert instance_facts("ml.z99.huge") == {}
    assert instance_facts(None) == {}


def test_every_required_family_is_present() -> None:
    families = {name.split(".")[0] for name in INSTANCE_TYPES}
    assert set(REQUIRED_FAMILIES) <= families


def test_every_fact_is_registered_and_typed() -> None:
    for it in INSTANCE_TYPES.values():
        for key, value in it.facts().items():
            assert key in FACTS, key
            assert isinstance(value, FACTS[key].type), (it.name, key, value)
        if it.accelerator == "nvidia":
            assert it.gpu_count >= 1 and it.compute_capability and it.accelerator_memory_gb
        assert it.vcpus >= 1 and it.memory_gb >= 2
