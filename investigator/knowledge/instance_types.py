"""SageMaker ml.* instance types: accelerator, GPU model and count, memory, CPU architecture.

Rules use these facts to say, for example, "this image's CUDA build has no kernels for the
T4 (sm_75) on ml.g4dn.xlarge" or "an arm64 image cannot run on x86_64 ml.m5". Values are
from the Amazon EC2 instance type pages (ml.X is EC2 X); memory in GiB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Arch = Literal["x86_64", "arm64"]
Accelerator = Literal["nvidia", "neuron", "none"]


@dataclass(frozen=True)
class InstanceType:
    name: str  # without the "ml." prefix
    vcpus: int
    memory_gb: float
    cpu_arch: Arch = "x86_64"
    accelerator: Accelerator = "none"
    accelerator_model: str | None = None  # GPU model or Neuron chip
    accelerator_count: int = 0
    accelerator_memory_gb: float | None = None  # per GPU / chip
    compute_capability: float | None = None  # NVIDIA only

    @property
    def gpu_count(self) -> int:
        return self.accelerator_count if self.accelerator == "nvidia" else 0

    def facts(self) -> dict[str, Any]:
        """instance.* facts (see investigator.facts)."""
        f: dict[str, Any] = {
            "instance.cpu_arch": self.cpu_arch,
            "instance.vcpus": self.vcpus,
            "instance.memory_gb": self.memory_gb,
            "instance.accelerator": self.accelerator,
            "instance.gpu_count": self.gpu_count,
            "instance.accelerator_count": self.accelerator_count,
        }
        if self.accelerator_model:
            f["instance.accelerator_model"] = self.accelerator_model
        if self.accelerator == "nvidia":
            f["instance.gpu_model"] = self.accelerator_model
            f["instance.gpu_memory_gb"] = self.accelerator_memory_gb
            f["instance.compute_capability"] = self.compute_capability
        return {k: v for k, v in f.items() if v is not None}


# (model, memory per GPU GiB, compute capability)
_GPUS: dict[str, tuple[str, float, float]] = {
    "p2": ("K80", 12, 3.7),
    "p3": ("V100", 16, 7.0),
    "p3dn": ("V100", 32, 7.0),
    "p4d": ("A100", 40, 8.0),
    "p4de": ("A100", 80, 8.0),
    "p5": ("H100", 80, 9.0),
    "p5e": ("H200", 141, 9.0),
    "p5en": ("H200", 141, 9.0),
    "p6-b200": ("B200", 179, 10.0),
    "g4dn": ("T4", 16, 7.5),
    "g5": ("A10G", 24, 8.6),
    "g6": ("L4", 24, 8.9),
    "g6e": ("L40S", 48, 8.9),
}

# family: [(size, vcpus, memory GiB, GPUs)]
_GPU_SIZES: dict[str, list[tuple[str, int, float, int]]] = {
    "p2": [("xlarge", 4, 61, 1), ("8xlarge", 32, 488, 8), ("16xlarge", 64, 732, 16)],
    "p3": [("2xlarge", 8, 61, 1), ("8xlarge", 32, 244, 4), ("16xlarge", 64, 488, 8)],
    "p3dn": [("24xlarge", 96, 768, 8)],
    "p4d": [("24xlarge", 96, 1152, 8)],
    "p4de": [("24xlarge", 96, 1152, 8)],
    "p5": [("48xlarge", 192, 2048, 8)],
    "p5e": [("48xlarge", 192, 2048, 8)],
    "p5en": [("48xlarge", 192, 2048, 8)],
    "p6-b200": [("48xlarge", 192, 2048, 8)],
    "g4dn": [("xlarge", 4, 16, 1), ("2xlarge", 8, 32, 1), ("4xlarge", 16, 64, 1),
             ("8xlarge", 32, 128, 1), ("12xlarge", 48, 192, 4), ("16xlarge", 64, 256, 1)],
    "g5": [("xlarge", 4, 16, 1), ("2xlarge", 8, 32, 1), ("4xlarge", 16, 64, 1),
           ("8xlarge", 32, 128, 1), ("12xlarge", 48, 192, 4), ("16xlarge", 64, 256, 1),
           ("24xlarge", 96, 384, 4), ("48xlarge", 192, 768, 8)],
    "g6": [("xlarge", 4, 16, 1), ("2xlarge", 8, 32, 1), ("4xlarge", 16, 64, 1),
           ("8xlarge", 32, 128, 1), ("12xlarge", 48, 192, 4), ("16xlarge", 64, 256, 1),
           ("24xlarge", 96, 384, 4), ("48xlarge", 192, 768, 8)],
    "g6e": [("xlarge", 4, 32, 1), ("2xlarge", 8, 64, 1), ("4xlarge", 16, 128, 1),
            ("8xlarge", 32, 256, 1), ("12xlarge", 48, 384, 4), ("16xlarge", 64, 512, 1),
            ("24xlarge", 96, 768, 4), ("48xlarge", 192, 1536, 8)],
}

# family: (chip, memory per chip GiB, [(size, vcpus, memory GiB, chips)])
_NEURON: dict[str, tuple[str, float, list[tuple[str, int, float, int]]]] = {
    "trn1": ("Trainium", 32, [("2xlarge", 8, 32, 1), ("32xlarge", 128, 512, 16)]),
    "trn1n": ("Trainium", 32, [("32xlarge", 128, 512, 16)]),
    "trn2": ("Trainium2", 96, [("48xlarge", 192, 2048, 16)]),
    "inf1": ("Inferentia", 8, [("xlarge", 4, 8, 1), ("2xlarge", 8, 16, 1),
                               ("6xlarge", 24, 48, 4), ("24xlarge", 96, 192, 16)]),
    "inf2": ("Inferentia2", 32, [("xlarge", 4, 16, 1), ("8xlarge", 32, 128, 1),
                                 ("24xlarge", 96, 384, 6), ("48xlarge", 192, 768, 12)]),
}

_VCPUS = {"medium": 1, "large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32,
          "9xlarge": 36, "10xlarge": 40, "12xlarge": 48, "16xlarge": 64, "18xlarge": 72,
          "24xlarge": 96, "32xlarge": 128, "48xlarge": 192}
_SIX = ["large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge",
        "32xlarge"]
_SEVEN_I = [*_SIX[:-1], "48xlarge"]
_GRAVITON = ["medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge",
             "16xlarge"]

# family: (GiB per vCPU, sizes, arch)
_CPU: dict[str, tuple[float, list[str], Arch]] = {
    "m4": (4, ["xlarge", "2xlarge", "4xlarge", "10xlarge", "16xlarge"], "x86_64"),
    "c5": (2, ["large", "xlarge", "2xlarge", "4xlarge", "9xlarge", "18xlarge"], "x86_64"),
    "m5": (4, ["large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge"], "x86_64"),
    "r5": (8, ["large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge"], "x86_64"),
    "c6i": (2, _SIX, "x86_64"),
    "m6i": (4, _SIX, "x86_64"),
    "r6i": (8, _SIX, "x86_64"),
    "c7i": (2, _SEVEN_I, "x86_64"),
    "m7i": (4, _SEVEN_I, "x86_64"),
    "r7i": (8, _SEVEN_I, "x86_64"),
    "c6g": (2, _GRAVITON, "arm64"),
    "m6g": (4, _GRAVITON, "arm64"),
    "r6g": (8, _GRAVITON, "arm64"),
    "c7g": (2, _GRAVITON, "arm64"),
    "m7g": (4, _GRAVITON, "arm64"),
    "r7g": (8, _GRAVITON, "arm64"),
}
# Families whose memory does not follow a fixed GiB-per-vCPU ratio.
_IRREGULAR: list[InstanceType] = [
    InstanceType("c4.large", 2, 3.75), InstanceType("c4.xlarge", 4, 7.5),
    InstanceType("c4.2xlarge", 8, 15), InstanceType("c4.4xlarge", 16, 30),
    InstanceType("c4.8xlarge", 36, 60),
    InstanceType("t3.medium", 2, 4), InstanceType("t3.large", 2, 8),
    InstanceType("t3.xlarge", 4, 16), InstanceType("t3.2xlarge", 8, 32),
]


def _build() -> dict[str, InstanceType]:
    table: dict[str, InstanceType] = {}
    for fam, sizes in _GPU_SIZES.items():
        model, mem, cc = _GPUS[fam]
        for size, vcpus, host_mem, gpus in sizes:
            name = f"{fam}.{size}"
            table[name] = InstanceType(name, vcpus, host_mem, "x86_64", "nvidia", model, gpus,
                                       mem, cc)
    for fam, (chip, mem, sizes) in _NEURON.items():
        for size, vcpus, host_mem, chips in sizes:
            name = f"{fam}.{size}"
            table[name] = InstanceType(name, vcpus, host_mem, "x86_64", "neuron", chip, chips,
                                       mem)
    for fam, (ratio, sizes, arch) in _CPU.items():
        for size in sizes:
            vcpus = _VCPUS[size]
            table[f"{fam}.{size}"] = InstanceType(f"{fam}.{size}", vcpus, vcpus * ratio, arch)
    for it in _IRREGULAR:
        table[it.name] = it
    return table


INSTANCE_TYPES: dict[str, InstanceType] = _build()


def lookup(instance_type: str | None) -> InstanceType | None:
    """ml.g4dn.xlarge (or g4dn.xlarge) → its InstanceType; None when unknown."""
    if not instance_type:
        return None
    name = instance_type.strip().lower().removeprefix("ml.")
    return INSTANCE_TYPES.get(name)


def instance_facts(instance_type: str | None) -> dict[str, Any]:
    it = lookup(instance_type)
    return it.facts() if it else {}


__all__ = ["INSTANCE_TYPES", "InstanceType", "instance_facts", "lookup"]
