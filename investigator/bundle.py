"""Evidence bundles: save what was collected, replay the diagnosis offline."""

from __future__ import annotations

import json
from pathlib import Path

from investigator.classifier import classify
from investigator.errors import InputError
from investigator.models import SCHEMA_VERSION, Evidence, Investigation, to_json, validate
from investigator.outputs import write_atomic
from investigator.redact import redact_model


def save_bundle(evidence: Evidence, path: str | Path) -> Path:
    safe = redact_model(evidence)
    return write_atomic(path, to_json(safe, indent=2) + "\n")


def load_bundle(path: str | Path) -> Evidence:
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read bundle {path}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict) or data.get("kind") != "evidence":
        raise InputError(f"{path} is not an evidence bundle (kind must be 'evidence')")
    version = str(data.get("schema_version", ""))
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise InputError(
            f"{path} has schema_version {version or '(none)'}; "
            f"this investigator reads {SCHEMA_VERSION}"
        )
    from pydantic import ValidationError  # only here: reading outside data back

    try:
        return validate(Evidence, data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise InputError(f"{path}: invalid bundle at {loc}: {first['msg']}") from None


def investigate_bundle(path: str | Path) -> tuple[Evidence, Investigation]:
    evidence = load_bundle(path)
    return evidence, classify(evidence)
