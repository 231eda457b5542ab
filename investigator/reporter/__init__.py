"""Renderers: one normalised Investigation, one renderer per output format.

Every renderer receives an investigation that has already been redacted here, so a secret
cannot reach any format.
"""

from __future__ import annotations

from collections.abc import Sequence

from investigator.models import Investigation
from investigator.redact import redact_model
from investigator.reporter.json_report import render_json

FORMATS = ("json", "text", "md", "html")


def render_many(
    invs: Sequence[Investigation], fmt: str, *, color: bool = False, width: int = 100
) -> str:
    """Render one or more investigations (`investigate log a b c`)."""
    safe = [redact_model(i) for i in invs]
    if fmt == "json":
        return render_json(safe, many=True)
    if fmt == "text":
        from investigator.reporter.text import render_text

        return "\n".join(render_text(i, color=color, width=width) for i in safe)
    if fmt == "md":
        from investigator.reporter.markdown import render_markdown

        return "\n\n---\n\n".join(render_markdown(i) for i in safe)
    if fmt == "html":
        from investigator.reporter.html import render_html_many

        return render_html_many(safe)
    raise ValueError(f"unknown format {fmt!r}")


def render(
    inv: Investigation,
    fmt: str,
    *,
    color: bool = False,
    repro_href: str | None = None,
    width: int = 100,
) -> str:
    """Render a single investigation (`investigate execution|job|bundle`).

    `repro_href` is the repro kit's script relative to the HTML file, linked from the report.
    """
    if fmt == "json":
        return render_json([redact_model(inv)], many=False)
    if fmt == "html":
        from investigator.reporter.html import render_html

        return render_html(redact_model(inv), repro_href=repro_href)
    return render_many([inv], fmt, color=color, width=width)
