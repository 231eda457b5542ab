"""The validated playbook library, cached so a command does not re-parse 100+ YAML files.

Parsing and validating every playbook costs more than classifying a typical log, so the
validated rules are pickled under the user's cache directory, keyed by a hash of what they
were built from: every file under the playbook root (names and bytes), the code that
validates them, and the Python and pydantic versions (pydantic's version file is hashed,
not imported: the rules are plain dataclasses, so reading them back needs neither pydantic
nor YAML). Any edit is a new key, so a stale entry is never read. Entries are written to a
temp file and renamed, so concurrent runs only ever see a whole entry; an unreadable,
corrupt or foreign entry is ignored and rebuilt; an unwritable cache directory only costs
the speed-up.

The cache holds what this program wrote for this user; like the playbooks themselves it is
trusted input (anyone who can write the user's cache directory can already run code as them).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from investigator import __version__
from investigator.usercache import ENV_DISABLE, cache_dir, disabled

_PREFIX = "playbooks-"
_SUFFIX = ".pickle"
_KEEP = 8  # entries kept per cache directory (several checkouts, tests, versions)
# The code whose behaviour decides what a validated rule holds: an edit there is a new key.
_CODE = ("classifier/schema.py", "classifier/loader.py", "classifier/cache.py",
         "classifier/tolerant.py", "facts.py",
         "models.py", "taxonomy.py", "usercache.py")
__all__ = ["ENV_DISABLE", "cache_dir", "cached", "content_key"]


def content_key(root: Path) -> str:
    """A hash of every file under `root` (relative name and bytes) and of the code version."""
    h = hashlib.sha256()
    h.update(f"{__version__}|{sys.version}".encode())
    package = Path(__file__).resolve().parent.parent
    for rel in _CODE:
        _add_file(h, rel, package / rel)
    _add_file(h, "pydantic/version.py", _pydantic_version_file())
    files = []
    for folder, dirs, names in os.walk(root):  # os.walk: a tenth of rglob's cost
        dirs.sort()
        rel = os.path.relpath(folder, root)
        files += [(os.path.normpath(os.path.join(rel, n)), os.path.join(folder, n)) for n in names]
    for name, path in sorted(files):
        _add_file(h, name, path)
    return h.hexdigest()[:32]


def _add_file(h: Any, name: str, path: str | Path) -> None:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        data = b"\0missing"
    h.update(name.encode("utf-8", "surrogateescape") + b"\0")
    h.update(len(data).to_bytes(8, "big") + data)


def _pydantic_version_file() -> str:
    spec = importlib.util.find_spec("pydantic")
    origin = spec.origin if spec else None
    return os.path.join(os.path.dirname(origin), "version.py") if origin else ""


def cached(root: Path, build: Callable[[Path], list[Any]],
           valid: Callable[[Any], bool] = lambda _x: True, kind: str = _PREFIX) -> list[Any]:
    """`build(root)` from the cache when an entry for exactly this content exists.

    `valid` checks each unpickled item (e.g. isinstance Rule), so a foreign entry is ignored.
    A build that raises is never cached: an invalid library fails on every run. `kind` keeps
    apart entries derived from the same playbooks (validated rules, rewritten patterns): it is
    the entry's file-name prefix.
    """
    if disabled():
        return build(root)
    key = content_key(root)
    path = cache_dir() / f"{kind}{key}{_SUFFIX}"
    hit = _read(path, key, valid)
    if hit is not None:
        return hit
    items = build(root)
    _write(path, key, items, kind)
    return items


def _read(path: Path, key: str, valid: Callable[[Any], bool]) -> list[Any] | None:
    try:
        with open(path, "rb") as fh:
            stored_key, items = pickle.load(fh)
    except Exception:  # missing, truncated, corrupt, from another version: rebuild instead
        return None
    if stored_key != key or not isinstance(items, list) or not all(valid(i) for i in items):
        return None
    return items


def _write(path: Path, key: str, items: list[Any], kind: str = _PREFIX) -> None:
    """Write atomically (temp file + rename); silently skip when the cache is not writable."""
    import tempfile  # only on a miss (its import pulls in `random`)

    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((key, items), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        tmp = None
        _prune(path.parent, kind)
    except Exception:  # read-only home, full disk, unpicklable item: run uncached
        if tmp:
            Path(tmp).unlink(missing_ok=True)


def _prune(folder: Path, kind: str = _PREFIX) -> None:
    """Keep the newest few entries; another run may be reading one we delete (it rebuilds)."""
    entries = []
    for p in folder.glob(f"{kind}*{_SUFFIX}"):
        try:
            entries.append((p.stat().st_mtime, p))
        except OSError:
            continue
    for _, p in sorted(entries, reverse=True)[_KEEP:]:
        p.unlink(missing_ok=True)

