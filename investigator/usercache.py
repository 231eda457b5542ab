"""Where investigator keeps what it can rebuild: validated playbooks, compiled report templates.

$XDG_CACHE_HOME/investigator, or ~/.cache/investigator (the XDG default). Everything in it is
derived from files in the package, keyed so a change is a new entry, and optional: a missing
or unwritable cache only costs speed. `INVESTIGATOR_NO_CACHE=1` turns it off.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_DISABLE = "INVESTIGATOR_NO_CACHE"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "investigator"


def disabled() -> bool:
    return bool(os.environ.get(ENV_DISABLE))
