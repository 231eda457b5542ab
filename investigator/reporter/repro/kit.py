"""The kit on disk: config files, the rendered scripts, written atomically."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from investigator.models import Evidence, Investigation
from investigator.outputs import write_atomic
from investigator.redact import redact_model
from investigator.reporter.repro.model import (
    FILL_ME,
    Plan,
    comment,
)
from investigator.reporter.repro.plan import build_plan

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


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
