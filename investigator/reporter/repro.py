"""Repro kit: scripts that rerun the failed job locally exactly as SageMaker ran it.

`write_repro_kit` turns an Investigation (and, when available, its Evidence) into a folder:

- `repro.sh`: recreates the SageMaker container contract (`/opt/ml/input/config/*.json`,
  `/opt/ml/input/data/<channel>` with a bounded sample of each S3 channel, `/opt/ml/model`,
  `/opt/ml/output`), logs in to ECR, pulls the image by digest and runs it with the same
  platform, GPUs, entrypoint override and environment names. `./repro.sh check` runs the
  read-only `aws` commands that re-check each piece of evidence.
- `repro_local.py`: the same job through the SageMaker Python SDK's local mode.
- `config/*.json`: the container's config files, written here by Python (never echoed through
  a shell) and copied by `repro.sh`.

Every value comes from collected facts, so it is untrusted: values reach the shell only
through `shlex.quote`, and Python only through `repr`. Comments get a flattened copy.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import re2
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from investigator.models import Evidence, EvidenceLine, Investigation
from investigator.outputs import write_atomic
from investigator.redact import MASK, redact_model

# What a redacted secret becomes in the kit: the user must put the real value back.
FILL_ME = "__REDACTED_FILL_ME__"
MAX_COMMENT = 300

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_CONTROL = re2.compile(r"[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]+")
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

_LOG_GROUPS = {
    "training": "/aws/sagemaker/TrainingJobs",
    "processing": "/aws/sagemaker/ProcessingJobs",
}


@dataclass(frozen=True)
class S3Channel:
    name: str
    uri: str
    bucket: str
    prefix: str


@dataclass(frozen=True)
class Check:
    """One read-only command that re-checks a piece of evidence."""

    what: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class ImageInfo:
    ref: str | None = None  # what to pull and run
    by_digest: bool = False
    registry: str | None = None  # ECR registry to log in to
    registry_region: str | None = None
    account: str | None = None
    repository: str | None = None
    digest: str | None = None
    tag: str | None = None


@dataclass
class Plan:
    """Everything the templates need, already validated and normalised."""

    source: str
    title: str
    category: str
    rule: str
    sample: int
    job_name: str | None = None
    job_arn: str | None = None
    job_kind: str = "training"
    region: str | None = None
    image: ImageInfo = field(default_factory=ImageInfo)
    platform: str = "linux/amd64"
    gpus: bool = False
    env_names: list[str] = field(default_factory=list)
    run_flags: list[list[str]] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    channel_names: list[str] = field(default_factory=list)
    channels: list[S3Channel] = field(default_factory=list)
    hyperparameters: dict[str, str] = field(default_factory=dict)
    filled: list[str] = field(default_factory=list)
    instance_type: str | None = None
    instance_count: int = 1
    role_arn: str | None = None
    checks: list[Check] = field(default_factory=list)
    finding_commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- small typed readers


def _str(facts: dict[str, Any], name: str) -> str | None:
    value = facts.get(name)
    return value if isinstance(value, str) and value else None


def _str_list(facts: dict[str, Any], name: str) -> list[str]:
    value = facts.get(name)
    if not isinstance(value, list | tuple):
        return []
    return [v if isinstance(v, str) else json.dumps(v) for v in value]


def _unmask(text: str) -> str:
    """A redacted secret becomes a marker the user must replace (and the script warns about)."""
    return text.replace(MASK, FILL_ME)


def comment(text: Any) -> str:
    """Flatten text to one line without control characters (a `#` comment, a terminal line)."""
    flat = _CONTROL.sub(" ", str(text))
    return flat if len(flat) <= MAX_COMMENT else flat[: MAX_COMMENT - 1] + "…"


# ---------------------------------------------------------------- facts -> plan


def _image(facts: dict[str, Any], notes: list[str]) -> ImageInfo:
    uri = _str(facts, "sagemaker.image")
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
    digest = uri_digest or _str(facts, "ecr.image_digest")
    if digest and not _DIGEST.match(digest):
        notes.append(f"Ignoring a malformed image digest: {digest}")
        digest = None
    info = ImageInfo(
        ref=f"{name}@{digest}" if digest else uri,
        by_digest=bool(digest),
        registry=registry if ecr else None,
        registry_region=ecr.group(2) if ecr else None,
        account=ecr.group(1) if ecr else None,
        repository=_str(facts, "ecr.repository") or repository,
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
    accel = _str(facts, "instance.accelerator")
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
    names = _str_list(facts, "sagemaker.input_channels")
    uris = _str_list(facts, "sagemaker.input_uris")
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
        out[str(key)] = _unmask(text)
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
        arn = _str(facts, name)
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


# ---------------------------------------------------------------- evidence re-checks


def _region_args(region: str | None) -> tuple[str, ...]:
    return (f"--region={region}",) if region else ()


def _log_group(stream: str, evidence: Evidence | None, kind: str) -> str:
    for s in evidence.logs if evidence else []:
        if s.name == stream and s.group:
            return s.group
    return _LOG_GROUPS.get(kind, _LOG_GROUPS["training"])


def _log_check(line: EvidenceLine, plan: Plan, evidence: Evidence | None) -> Check | None:
    if line.source != "logs" or not line.stream:
        return None
    group = _log_group(line.stream, evidence, plan.job_kind)
    argv = ["aws", "logs", "get-log-events", f"--log-group-name={group}",
            f"--log-stream-name={line.stream}"]
    if line.timestamp is not None:
        ts = line.timestamp if line.timestamp.tzinfo else line.timestamp.replace(tzinfo=UTC)
        ms = int(ts.timestamp() * 1000)
        argv += [f"--start-time={ms - 60_000}", f"--end-time={ms + 60_000}", "--start-from-head"]
    else:
        argv += ["--limit=200", "--no-start-from-head"]
    return Check(f"log stream {line.stream} around line {line.line}",
                 (*argv, *_region_args(plan.region)))


def _local_log_check(line: EvidenceLine, path: str) -> Check | None:
    if line.source != "logs" or path in ("-", "<stdin>"):
        return None
    text = line.text
    if line.span:
        text = text[line.span[0] : line.span[1]] or text
    text = text.split("\n", 1)[0]
    if not text.strip():
        return None
    return Check(f"cited line {line.line} in {path}", ("grep", "-n", "-F", "-e", text, "--", path))


def _job_checks(plan: Plan) -> list[Check]:
    if not plan.job_name:
        return []
    kind = "processing" if plan.job_kind == "processing" else "training"
    return [Check(f"SageMaker {kind} job (status, FailureReason, image, config)",
                  ("aws", "sagemaker", f"describe-{kind}-job",
                   f"--{kind}-job-name={plan.job_name}", *_region_args(plan.region)))]


def _image_check(plan: Plan) -> list[Check]:
    img = plan.image
    if not (img.account and img.repository and (img.digest or img.tag)):
        return []
    ident = f"imageDigest={img.digest}" if img.digest else f"imageTag={img.tag}"
    return [Check("ECR image (digest, push time, status)",
                  ("aws", "ecr", "describe-images", f"--registry-id={img.account}",
                   f"--repository-name={img.repository}", f"--image-ids={ident}",
                   *_region_args(img.registry_region or plan.region)))]


def _sfn_checks(facts: dict[str, Any], plan: Plan) -> list[Check]:
    out: list[Check] = []
    for name in ("sfn.execution_arn", "sfn.nested_execution_arn"):
        arn = _str(facts, name)
        if not arn:
            continue
        region = _region_args(plan.region)
        out.append(Check(f"Step Functions execution {arn}",
                         ("aws", "stepfunctions", "describe-execution",
                          f"--execution-arn={arn}", *region)))
        out.append(Check("its last history events (the failure first)",
                         ("aws", "stepfunctions", "get-execution-history",
                          f"--execution-arn={arn}", "--reverse-order", "--max-items=50",
                          *region)))
    return out


def _access_checks(plan: Plan) -> list[Check]:
    """For data/identity findings: is the channel there, and what does the role allow?"""
    if plan.category not in ("paths", "permissions"):
        return []
    out = [Check(f"channel {c.name} lists objects",
                 ("aws", "s3api", "list-objects-v2", f"--bucket={c.bucket}",
                  f"--prefix={c.prefix}", "--max-items=5", *_region_args(plan.region)))
           for c in plan.channels]
    if plan.category == "permissions" and plan.role_arn and "/" in plan.role_arn:
        role = plan.role_arn.rsplit("/", 1)[1]
        out.append(Check("execution role", ("aws", "iam", "get-role", f"--role-name={role}")))
    return out


def _checks(inv: Investigation, evidence: Evidence | None, plan: Plan) -> list[Check]:
    facts = inv.facts
    checks = [*_job_checks(plan)]
    seen: set[tuple[str, ...]] = set()
    for line in inv.finding.evidence:
        if inv.target.kind == "log":
            check = _local_log_check(line, inv.source)
        else:
            check = _log_check(line, plan, evidence)
        if check and check.argv not in seen:
            seen.add(check.argv)
            checks.append(check)
    checks += _image_check(plan) + _sfn_checks(facts, plan) + _access_checks(plan)
    return [Check(comment(c.what), c.argv) for c in checks]


# ---------------------------------------------------------------- plan and files


def build_plan(inv: Investigation, evidence: Evidence | None = None, sample: int = 5) -> Plan:
    facts = {**(evidence.facts if evidence else {}), **inv.facts}
    f = inv.finding
    # The finding's commands are printed to a terminal by `check`: one line, no escapes.
    plan = Plan(source=inv.source, title=f.title, category=f.category, rule=f.rule,
                sample=max(0, int(sample)), finding_commands=[comment(c) for c in f.repro])
    plan.job_name = _str(facts, "sagemaker.job_name")
    plan.job_arn = _str(facts, "sagemaker.job_arn")
    plan.job_kind = "processing" if facts.get("sagemaker.job_kind") == "processing" else "training"
    plan.instance_type = _str(facts, "sagemaker.instance_type")
    count = facts.get("sagemaker.instance_count")
    plan.instance_count = count if isinstance(count, int) and count > 0 else 1
    plan.role_arn = _str(facts, "sagemaker.role_arn")
    plan.image = _image(facts, plan.notes)
    plan.platform = _platform(facts, plan.notes) if plan.image.ref else "linux/amd64"
    plan.region = _region(inv, facts, plan.image)
    plan.gpus = _gpus(facts, plan.instance_type, plan.notes)
    plan.env_names = _env_names(facts, plan.notes)
    plan.channel_names, plan.channels = _channels(facts, plan.notes)
    plan.hyperparameters, plan.filled = _hyperparameters(facts)
    plan.entrypoint = [_unmask(a) for a in _str_list(facts, "sagemaker.entrypoint")]
    plan.arguments = [_unmask(a) for a in _str_list(facts, "sagemaker.arguments")]
    if any(FILL_ME in a for a in (*plan.entrypoint, *plan.arguments)):
        plan.filled.append("container entrypoint/arguments (edit repro.sh)")
    if plan.instance_count > 1:
        plan.notes.append(
            f"The job ran on {plan.instance_count} instances; this reproduces host algo-1 only."
        )
    _run_flags(plan, facts)
    _command(plan)
    plan.checks = _checks(inv, evidence, plan)
    return plan


def _config_files(plan: Plan) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "current_host": "algo-1",
        "hosts": ["algo-1"],
        "network_interface_name": "eth0",
    }
    if plan.instance_type:
        resource["current_instance_type"] = plan.instance_type
        resource["current_group_name"] = "homogeneousCluster"
        resource["instance_groups"] = [{"instance_group_name": "homogeneousCluster",
                                        "instance_type": plan.instance_type,
                                        "hosts": ["algo-1"]}]
    channels = {
        name: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
               "RecordWrapperType": "None"}
        for name in plan.channel_names
    }
    return {
        "hyperparameters.json": plan.hyperparameters,
        "resourceconfig.json": resource,
        "inputdataconfig.json": channels,
    }


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(_TEMPLATES)),
        autoescape=False,  # shell and Python: values go through the q / py filters instead
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = lambda v: shlex.quote(str(v))
    env.filters["qargs"] = lambda vs: " ".join(shlex.quote(str(v)) for v in vs)
    env.filters["py"] = repr
    env.filters["comment"] = comment
    return env


def render_scripts(plan: Plan) -> dict[str, str]:
    env = _templates()
    return {
        "repro.sh": env.get_template("repro.sh.j2").render(p=plan, fill_me=FILL_ME),
        "repro_local.py": env.get_template("repro_local.py.j2").render(p=plan, fill_me=FILL_ME),
    }


def write_repro_kit(
    inv: Investigation, out_dir: str | Path, *, evidence: Evidence | None = None, sample: int = 5
) -> Path:
    """Write the kit into `out_dir` (created if needed) and return that folder."""
    # Secrets never reach the kit, even if the caller passed unredacted models.
    inv = redact_model(inv)
    evidence = redact_model(evidence) if evidence is not None else None
    plan = build_plan(inv, evidence, sample)
    out = Path(out_dir)
    for name, data in _config_files(plan).items():
        text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        write_atomic(out / "config" / name, text)
    for name, text in render_scripts(plan).items():
        write_atomic(out / name, text, mode=0o755)
    return out
