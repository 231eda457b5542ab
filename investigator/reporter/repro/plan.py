"""Facts -> plan: every value the kit uses, read from collected facts and validated."""

from __future__ import annotations

import json
from typing import Any

import re2

from investigator.models import Evidence, Investigation
from investigator.reporter.image_ref import pin_command
from investigator.reporter.repro.checks import evidence_checks
from investigator.reporter.repro.model import (
    FILL_ME,
    ImageInfo,
    Plan,
    S3Channel,
    comment,
    fact_str,
    fact_str_list,
    unmask,
)

# A docker reference we are willing to put after `docker run` options: no shell or option
# syntax (an image starting with '-' would be read as a flag).
_IMAGE_REF = re2.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,511}$")
_DIGEST = re2.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re2.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_ECR_HOST = re2.compile(
    r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?$"
)
_REGION = re2.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
_ARN_REGION = re2.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-[a-z]+)+-\d):")
_ENV_NAME = re2.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_CHANNEL = re2.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_GPU_FAMILY = re2.compile(r"^ml\.(?:p\d|g\d)[a-z0-9-]*\.")
_NEURON_FAMILY = re2.compile(r"^ml\.(?:trn|inf)\d")


def _image(facts: dict[str, Any], notes: list[str]) -> ImageInfo:
    uri = fact_str(facts, "sagemaker.image")
    if uri is None:
        notes.append("The training image is not known (no SageMaker facts): set REPRO_IMAGE.")
        return ImageInfo()
    if not _IMAGE_REF.match(uri):
        notes.append(f"The image URI is not a plain docker reference, not used: {uri}")
        return ImageInfo()
    name, _, uri_digest = uri.partition("@")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    registry, _, repository = name.partition("/") if "/" in name else ("", "", name)
    ecr = _ECR_HOST.match(registry) if registry else None
    # A digest in the submitted URI is what ran; otherwise trust the collector's resolution.
    digest = uri_digest or fact_str(facts, "ecr.image_digest")
    if digest and not _DIGEST.match(digest):
        notes.append(f"Ignoring a malformed image digest: {digest}")
        digest = None
    info = ImageInfo(
        ref=f"{name}@{digest}" if digest else uri,
        by_digest=bool(digest),
        registry=registry if ecr else None,
        registry_region=ecr.group(2) if ecr else None,
        account=ecr.group(1) if ecr else None,
        repository=fact_str(facts, "ecr.repository") or repository,
        digest=digest,
        tag=tag if tag and _TAG.match(tag) else None,
    )
    if not digest:
        notes.append(
            "WARNING: the image digest is unknown, so this pulls the TAG, which may point at "
            "another image than the one the job ran."
        )
    if digest and facts.get("ecr.tag_moved") is True:
        notes.append("The tag now points at another image than the job ran; the digest is used.")
    return info


def _arch(value: Any) -> str | None:
    arch = {"x86_64": "amd64", "amd64": "amd64", "arm64": "arm64", "aarch64": "arm64"}
    return arch.get(str(value).lower()) if value else None


def _platform(facts: dict[str, Any], notes: list[str]) -> str:
    image_arch = _arch(facts.get("ecr.image_architecture"))
    host_arch = _arch(facts.get("instance.cpu_arch"))
    if image_arch and host_arch and image_arch != host_arch:
        # SageMaker ran the image on the instance's CPU, so the mismatch is the failure to see.
        notes.append(
            f"The image is {image_arch} but the instance is {host_arch}: this runs it as the "
            f"{host_arch} host did, which reproduces the mismatch."
        )
        return f"linux/{host_arch}"
    if not (image_arch or host_arch):
        notes.append("The image architecture is unknown; assuming linux/amd64 (x86_64 hosts).")
    return f"linux/{host_arch or image_arch or 'amd64'}"


def _gpus(facts: dict[str, Any], instance_type: str | None, notes: list[str]) -> bool:
    accel = fact_str(facts, "instance.accelerator")
    count = facts.get("instance.gpu_count")
    if accel == "neuron" or (instance_type and _NEURON_FAMILY.match(instance_type)):
        notes.append("Trainium/Inferentia instance: add --device=/dev/neuron0 (etc.) by hand.")
        return False
    if isinstance(count, int) and not isinstance(count, bool):
        return count > 0
    if accel is not None:
        return accel == "nvidia"
    # No instance knowledge: the ml.p* and ml.g* families carry NVIDIA GPUs (g4ad is AMD).
    if not instance_type or ".g4ad." in instance_type:
        return False
    return _GPU_FAMILY.match(instance_type) is not None


def _channels(facts: dict[str, Any], notes: list[str]) -> tuple[list[str], list[S3Channel]]:
    names = fact_str_list(facts, "sagemaker.input_channels")
    uris = fact_str_list(facts, "sagemaker.input_uris")
    if uris and len(uris) != len(names):
        notes.append("Channel names and URIs differ in number; pairing them in order.")
    valid: list[str] = []
    channels: list[S3Channel] = []
    for i, name in enumerate(names):
        if not _CHANNEL.match(name):
            notes.append(f"Skipping channel with an unsafe name: {name}")
            continue
        valid.append(name)
        uri = uris[i] if i < len(uris) else None
        if uri and uri.startswith("s3://"):
            bucket, _, prefix = uri[5:].partition("/")
            if bucket:
                channels.append(S3Channel(name, uri, bucket, prefix))
                continue
        notes.append(f"Channel {name}: no S3 URI known, its folder stays empty.")
    return valid, channels


def _hyperparameters(facts: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    raw = facts.get("sagemaker.hyperparameters")
    if not isinstance(raw, dict):
        return {}, []
    out: dict[str, str] = {}
    filled: list[str] = []
    for key, value in raw.items():
        text = value if isinstance(value, str) else json.dumps(value)
        out[str(key)] = unmask(text)
        if FILL_ME in out[str(key)]:
            filled.append(f"hyperparameter {key}")
    return out, filled


def _env_names(facts: dict[str, Any], notes: list[str]) -> list[str]:
    env = facts.get("sagemaker.environment")
    if not isinstance(env, dict):
        return []
    names = []
    for name in env:
        if name in ("TRAINING_JOB_NAME", "TRAINING_JOB_ARN"):
            continue
        if _ENV_NAME.match(str(name)):
            names.append(str(name))
        else:
            notes.append(f"Skipping environment name that is not a shell name: {name}")
    return names


def _region(inv: Investigation, facts: dict[str, Any], image: ImageInfo) -> str | None:
    if inv.target.region and _REGION.match(inv.target.region):
        return inv.target.region
    for name in ("sagemaker.job_arn", "sfn.execution_arn", "sfn.state_machine_arn"):
        arn = fact_str(facts, name)
        m = _ARN_REGION.match(arn) if arn else None
        if m:
            return m.group(1)
    return image.registry_region


def _command(plan: Plan) -> None:
    """The argv after the image, as SageMaker builds it (overrides replace ENTRYPOINT/CMD)."""
    if plan.entrypoint:
        plan.command = [*plan.entrypoint[1:], *plan.arguments]
    elif plan.arguments:
        plan.command = list(plan.arguments)
    elif plan.job_kind == "processing":
        plan.command = []
    else:
        plan.command = ["train"]


def _run_flags(plan: Plan, facts: dict[str, Any]) -> None:
    flags: list[list[str]] = [["--hostname", "algo-1"]]
    if plan.job_kind == "processing":
        plan.notes.append("Processing jobs read inputs under /opt/ml/processing/: this kit "
                          "reproduces the image, entrypoint and environment names only.")
    elif plan.job_name:
        flags.append(["-e", f"TRAINING_JOB_NAME={plan.job_name}"])
    if plan.job_arn and plan.job_kind != "processing":
        flags.append(["-e", f"TRAINING_JOB_ARN={plan.job_arn}"])
    flags += [["-e", n] for n in plan.env_names]
    if facts.get("sagemaker.network_isolation") is True:
        flags.append(["--network", "none"])
    plan.run_flags = flags


def build_plan(inv: Investigation, evidence: Evidence | None = None, sample: int = 5) -> Plan:
    facts = {**(evidence.facts if evidence else {}), **inv.facts}
    f = inv.finding
    # The finding's commands are printed to a terminal by `check`: one line, no escapes.
    plan = Plan(source=inv.source, title=f.title, category=f.category, rule=f.rule,
                sample=max(0, int(sample)),
                finding_commands=[comment(pin_command(c, facts)) for c in f.repro])
    plan.job_name = fact_str(facts, "sagemaker.job_name")
    plan.job_arn = fact_str(facts, "sagemaker.job_arn")
    plan.job_kind = "processing" if facts.get("sagemaker.job_kind") == "processing" else "training"
    plan.instance_type = fact_str(facts, "sagemaker.instance_type")
    count = facts.get("sagemaker.instance_count")
    plan.instance_count = count if isinstance(count, int) and count > 0 else 1
    plan.role_arn = fact_str(facts, "sagemaker.role_arn")
    plan.image = _image(facts, plan.notes)
    plan.platform = _platform(facts, plan.notes) if plan.image.ref else "linux/amd64"
    plan.region = _region(inv, facts, plan.image)
    plan.gpus = _gpus(facts, plan.instance_type, plan.notes)
    plan.env_names = _env_names(facts, plan.notes)
    plan.channel_names, plan.channels = _channels(facts, plan.notes)
    plan.hyperparameters, plan.filled = _hyperparameters(facts)
    plan.entrypoint = [unmask(a) for a in fact_str_list(facts, "sagemaker.entrypoint")]
    plan.arguments = [unmask(a) for a in fact_str_list(facts, "sagemaker.arguments")]
    if any(FILL_ME in a for a in (*plan.entrypoint, *plan.arguments)):
        plan.filled.append("container entrypoint/arguments (edit repro.sh)")
    if plan.instance_count > 1:
        plan.notes.append(
            f"The job ran on {plan.instance_count} instances; this reproduces host algo-1 only."
        )
    _run_flags(plan, facts)
    _command(plan)
    plan.checks = evidence_checks(inv, evidence, plan)
    return plan
