"""The automatic path: EventBridge events and a scheduled sweep → stored report → SNS.

events.py  typed events (what to investigate, or why an event is ignored)
store.py   S3 report store and the conditional-write claim (one report per failure)
sweep.py   the scheduled catch-up over failed executions, with an SSM checkpoint
notify.py  the concise SNS message
runner.py  claim → investigate → store → notify, used by investigator/lambda_handler.py
"""

from __future__ import annotations

from investigator.automation.events import Failure, Ignored, SweepRequest, parse_event
from investigator.automation.runner import ConfigError, Outcome, Reporter, Services, Settings

__all__ = [
    "ConfigError",
    "Failure",
    "Ignored",
    "Outcome",
    "Reporter",
    "Services",
    "Settings",
    "SweepRequest",
    "parse_event",
]
