"""A failure's fingerprint: the same cause on another run gives the same value.

It hashes the rule with the few facts that identify the failure: the rule's filled title
(which carries the captured placeholder values a playbook author chose to name the cause:
the module, the library, the symbol, the endpoint...), the image digest, the instance type
and the failed state. What changes from run to run is left out or masked: run ids, job
and execution names, timestamps, dates, hosts, UUIDs, long numbers. Computed from an
Investigation or from its JSON report alike, so reports written before the field existed
group with new ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import re2

if TYPE_CHECKING:
    from investigator.models import Investigation

FINGERPRINT_VERSION = 1
MASK = "<*>"
_MIN_NAME = 4  # shorter "names" are ordinary words; masking them would merge causes

# Run-specific tokens, most specific first. Titles hold text captured from logs: RE2 only.
_VOLATILE = re2.compile(
    "|".join(
        [
            r"arn:[a-z-]+:(?:states|sagemaker):[^\s'\"()]+",  # execution / job ARNs
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            r"\d{4}-\d{2}-\d{2}(?:[T _]\d{2}[:-]?\d{2}(?:[:-]?\d{2})?(?:\.\d+)?)?"
            r"(?:Z|[+-]\d{2}:?\d{2})?",
            r"\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b",
            r"\bip-\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}\S*",
            r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b",
            r"\balgo-\d+\b",
            # hex ids: digits and letters mixed (length checked in _mask_token)
            r"\b[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b",
            r"\b\d{5,}\b",  # epoch seconds, counters, pids
        ]
    )
)
_HEX_ID_MIN = 12
_SPACES = re2.compile(r"\s+")
_DIGEST = re2.compile(r"sha256:[0-9a-f]{64}")


def _mask_token(m: Any) -> str:
    token = m.group(0)
    if token.isalnum() and not token.isdigit() and len(token) < _HEX_ID_MIN:
        return token  # a short hex-looking word ("cafe12", "fp16"): not an id
    return MASK


def normalise_title(title: str, run_names: Iterable[str] = ()) -> str:
    """The title with this run's own names and volatile tokens masked."""
    text = title
    for name in sorted({n for n in run_names if n and len(n) >= _MIN_NAME}, key=len, reverse=True):
        text = text.replace(name, MASK)
    text = _VOLATILE.sub(_mask_token, text)
    return _SPACES.sub(" ", text).strip()


def image_digest(facts: Mapping[str, Any], image: str | None = None) -> str | None:
    """The digest the job ran (never a tag: tags are often dates or run ids)."""
    for value in (facts.get("ecr.image_digest"), image or facts.get("sagemaker.image")):
        if isinstance(value, str):
            m = _DIGEST.search(value)
            if m:
                return m.group(0)
    return None


def _run_names(
    target_name: str | None, facts: Mapping[str, Any], job_name: str | None
) -> list[str]:
    names = [target_name, job_name, facts.get("sagemaker.job_name"), facts.get("sfn.job_name")]
    for arn in (target_name, facts.get("sfn.execution_arn"), facts.get("sfn.nested_execution_arn")):
        if isinstance(arn, str) and ":execution:" in arn:
            names.append(arn.rsplit(":", 1)[-1])  # the execution's own name
    return [n for n in names if isinstance(n, str)]


def fingerprint(
    rule: str,
    title: str,
    *,
    image: str | None = None,
    instance_type: str | None = None,
    failed_state: str | None = None,
    run_names: Iterable[str] = (),
) -> str:
    """16 hex characters of a SHA-256 over the identifying parts, in a fixed order."""
    parts = {
        "v": FINGERPRINT_VERSION,
        "rule": rule,
        "title": normalise_title(title, run_names),
        "image": image,
        "instance_type": instance_type,
        "failed_state": failed_state,
    }
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def fingerprint_of(inv: Investigation) -> str:
    facts = inv.facts
    job = inv.job
    return fingerprint(
        inv.finding.rule,
        inv.finding.title,
        image=image_digest(facts, job.image if job else None),
        instance_type=(job.instance_type if job else None) or facts.get("sagemaker.instance_type"),
        failed_state=inv.failed_state or facts.get("sfn.failed_state"),
        run_names=_run_names(inv.target.name, facts, job.name if job else None),
    )


def fingerprint_of_report(doc: Mapping[str, Any]) -> str:
    """The same value from a JSON report (`investigate ... --format json`)."""
    facts = doc.get("facts") or {}
    job = doc.get("job") or {}
    target = doc.get("target") or {}
    return fingerprint(
        str(doc.get("rule", "")),
        str(doc.get("title", "")),
        image=image_digest(facts, job.get("image")),
        instance_type=job.get("instance_type") or facts.get("sagemaker.instance_type"),
        failed_state=doc.get("failed_state") or facts.get("sfn.failed_state"),
        run_names=_run_names(target.get("name"), facts, job.get("name")),
    )
