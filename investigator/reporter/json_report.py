"""The stable JSON form of an investigation: flat finding fields plus context.

`schema_version` is bumped on any incompatible change; the JSON Schema lives beside the
templates (reporter/schema/investigation.schema.json) and tests validate output against it.
"""

from __future__ import annotations

import json
from typing import Any

from investigator.models import SCHEMA_VERSION, Investigation, to_jsonable
from investigator.reporter.image_ref import pin_command
from investigator.reporter.view import runbook_page


def _evidence(inv: Investigation) -> list[dict[str, Any]]:
    return [
        {
            "source": e.stream or e.source,
            "line": e.line,
            "text": e.text,
            "timestamp": e.timestamp.isoformat() if e.timestamp else None,
            "span": list(e.span) if e.span else None,
            "before": e.before,
            "after": e.after,
        }
        for e in inv.finding.evidence
    ]


def to_dict(inv: Investigation) -> dict[str, Any]:
    f = inv.finding
    dumped = to_jsonable(inv)
    return {
        "schema_version": SCHEMA_VERSION,
        "source": inv.source,
        "category": f.category,
        "rule": f.rule,
        "fingerprint": inv.fingerprint,
        "confidence": f.confidence,
        "confidence_label": f.confidence_label,
        "title": f.title,
        "retryable": f.retryable,
        "explanation": f.explanation,
        "remediation": f.remediation,
        "evidence": _evidence(inv),
        "alternatives": dumped["alternatives"],
        "could_not_rule_out": dumped["inconclusive"],
        "repro": [pin_command(c, inv.facts) for c in f.repro],
        "references": f.references,
        "runbook": runbook_page(f.category, f.rule),
        "target": dumped["target"],
        "failed_state": inv.failed_state,
        "job": dumped["job"],
        "facts": dumped["facts"],
        "timeline": dumped["timeline"],
        "gaps": dumped["gaps"],
        "changes": dumped["changes"],
        "last_good": inv.last_good,
        "api_calls": inv.api_calls,
        "elapsed_s": inv.elapsed_s,
        "history": dumped["history"],
    }


def render_json(invs: list[Investigation], many: bool) -> str:
    data: Any = [to_dict(i) for i in invs] if many else to_dict(invs[0])
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
