"""The HTML incident report: one self-contained file an on-call engineer can trust.

No network: CSS, SVG and the small copy-button script are inline, and a Content-Security-
Policy pins them by hash, so even a rendering bug could not run injected script. Jinja2
autoescapes everything; values arrive redacted (reporter/__init__) and neutralised (reporter/view).
Everything is readable without JavaScript; the script only wires the copy buttons.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shlex
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, StrictUndefined
from jinja2.bccache import Bucket
from markupsafe import Markup

from investigator import __version__, usercache
from investigator.models import SCHEMA_VERSION, Investigation
from investigator.reporter import metrics_plot, timeline
from investigator.reporter.view import Block, View, build, code_spans


class _TemplateCache(FileSystemBytecodeCache):
    """Compiled templates kept across runs (compiling them is most of an HTML render's time).

    Entries are keyed by the template's source and the Python version; a corrupt entry is
    recompiled and an unwritable folder only costs the compile.
    """

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(Exception):
            super().dump_bytecode(bucket)  # temp file + rename


def _template_cache() -> _TemplateCache | None:
    if usercache.disabled():
        return None
    folder = usercache.cache_dir() / "templates"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return _TemplateCache(str(folder))


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("investigator.reporter", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=_template_cache(),
    )
    env.filters["code_spans"] = code_spans
    return env


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


@lru_cache(maxsize=1)
def _assets() -> dict[str, str]:
    """The inline CSS and script, and a CSP that allows exactly those two and nothing else."""
    style = _env().get_template("report_style.j2").render().strip()
    script = _env().get_template("report_script.j2").render().strip()
    csp = (
        "default-src 'none'; "
        f"style-src '{_sha256(style)}'; script-src '{_sha256(script)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    return {"style": style, "script": script, "csp": csp}


def _evidence_view(b: Block) -> dict[str, Any]:
    lines = []
    for line in b.lines:
        hit = None
        if line.cited:
            lo, hi = line.span or (len(line.text), len(line.text))
            hit = {"pre": line.text[:lo], "mark": line.text[lo:hi], "post": line.text[hi:]}
        lines.append({"num": line.num, "text": line.text, "hit": hit})
    return {
        "where": b.where,
        "origin": b.origin,
        "cited": b.cited,
        "time": timeline.fmt_time(b.time),
        "lines": lines,
    }


def _timeline_view(tl: timeline.Timeline, prefix: str, inv: Investigation) -> dict[str, Any]:
    rows = [
        {
            "start": timeline.fmt_time(i.start),
            "end": timeline.fmt_time(i.end),
            "duration": timeline.human_duration(i.duration_s),
            "lane": i.lane,
            "event": i.label,
            "failed": i.failed,
        }
        for i in tl.items
    ]
    return {
        "svg": timeline.render_svg(tl, f"{prefix}tl-title"),
        "metrics_svg": metrics_plot.render_svg(inv, f"{prefix}mx-title"),
        "rows": rows,
        "hidden_rows": max(0, len(tl.items) - timeline.MAX_ROWS),
    }


def _generate_kit_command(inv: Investigation) -> str | None:
    """The command that writes a repro kit for this target, for when none was written."""
    t = inv.target
    # A kit recreates a SageMaker job; a bare log or a run that did not fail has none to recreate.
    if inv.finding.category != "none" and t.kind in ("execution", "job"):
        return f"investigate {t.kind} {shlex.quote(t.name)} --repro repro"
    return None


def _safe_href(url: str) -> str | None:
    # Playbook references are validated https URLs; anything else is shown as text only.
    return url if url.startswith("https://") else None


def _runbook_href(target: str | None) -> str | None:
    # Only a base URL makes a link: the default docs/runbook path is relative to the repository,
    # not to wherever this report is opened, so it is shown as a path.
    return _safe_href(target) if target else None


def _relative_href(path: str | None) -> str | None:
    # The kit link is a relative file path; a scheme (javascript:, http:) is never a link.
    return path if path and ":" not in path.split("/", 1)[0] else None


def view(inv: Investigation, prefix: str, repro_href: str | None = None) -> dict[str, Any]:
    """Everything the template shows for one investigation: the shared view, laid out for
    HTML (element ids, the SVG timeline, safe links)."""
    return _page_view(build(inv), prefix, repro_href)


def _page_view(v: View, prefix: str, repro_href: str | None) -> dict[str, Any]:
    f = v.finding
    return {
        "id": prefix,
        "inv": v.inv,
        "f": f,
        "family": v.family,
        "family_label": v.family_label,
        "label": v.label,
        "first_step": v.first_step,
        "remediation": v.remediation,
        "unread": v.unread,
        "open_sources": v.open_sources,
        "changes_folded": v.changes_folded,
        "runbook": v.runbook,
        "runbook_href": _runbook_href(v.runbook),
        "retry": v.retry,
        "retry_text": v.retry_text,
        "confidence": v.confidence,
        "when": v.when,
        "fail_state": v.fail_state,
        "history": v.history,
        "evidence": [_evidence_view(b) for b in v.evidence],
        "timeline": _timeline_view(v.timeline, prefix, v.inv),
        "unsettled": {"rules": v.unsettled_rules, "gaps": v.gaps},
        "changes": v.changes,
        "facts": v.facts,
        "repro": [{"id": f"{prefix}cmd{n}", "cmd": c} for n, c in enumerate(v.repro, 1)],
        "repro_href": _relative_href(repro_href),
        "kit_cmd": None if repro_href else _generate_kit_command(v.inv),
        "references": [{"url": u, "href": _safe_href(u)} for u in f.references],
    }


def _page(views: list[dict[str, Any]], many: bool) -> str:
    return _env().get_template("report.html.j2").render(
        views=views,
        many=many,
        assets=_assets(),
        version=__version__,
        schema_version=SCHEMA_VERSION,
        style=Markup(_assets()["style"]),
        script=Markup(_assets()["script"]),
    )


def render_html(inv: Investigation, *, repro_href: str | None = None) -> str:
    """One investigation as a complete page.

    `repro_href` is the kit's repro.sh relative to the report (e.g. "repro/repro.sh") when the
    CLI wrote one with --repro; without it the page shows the command that writes one.
    """
    return _page([view(inv, "r1-", repro_href)], many=False)


def render_html_many(invs: Sequence[Investigation]) -> str:
    """Several investigations (`investigate log a b c`): a summary table, then one section each."""
    views = [view(inv, f"r{n}-") for n, inv in enumerate(invs, 1)]
    return _page(views, many=len(views) != 1)
