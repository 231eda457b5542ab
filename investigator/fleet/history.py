"""The one sentence every report format and the SNS message use for a failure's history."""

from __future__ import annotations

from investigator.models import History


def history_line(history: History) -> str:
    times = "once" if history.count == 1 else f"{history.count} times"
    text = f"Seen {times} before, since {history.first_seen:%Y-%m-%d}"
    if history.last_target:
        text += f", last in {history.last_target}"
        if history.last_seen:
            text += f" ({history.last_seen:%Y-%m-%d %H:%M} UTC)"
    return text
