"""Where index records come from: a folder of JSON reports, or the S3 index.

A folder is searched recursively for what the tool writes: `investigate ... --format json`
reports (one object, or an array from `investigate log a b c`), the Lambda's stored
`<name>.json` (its `<name>.bundle.json` evidence is skipped), and index `.jsonl` files (a
copy of the S3 index). Anything else is counted as skipped, never fatal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from investigator.errors import InputError
from investigator.fleet.records import IndexRecord, from_report, is_report

MAX_FILE_BYTES = 64 * 1024 * 1024
S3_READERS = 16  # concurrent GETs: the index is one small object per failure
MAX_DAYS_LISTED = 3660


@dataclass
class Loaded:
    records: list[IndexRecord] = field(default_factory=list)
    skipped: int = 0


def _report_link(path: Path) -> str:
    html = path.with_suffix(".html")
    return str(html if html.is_file() else path)


def _records_in_json(path: Path, loaded: Loaded) -> None:
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        loaded.skipped += 1
        return
    docs = doc if isinstance(doc, list) else [doc]
    written_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    link = _report_link(path)
    for item in docs:
        if isinstance(item, dict) and item.get("kind") == "evidence":
            continue  # the Lambda's bundle beside its report: not a second failure
        if not is_report(item):
            loaded.skipped += 1
            continue
        try:
            loaded.records.append(from_report(item, report=link, written_at=written_at))
        except (TypeError, ValueError, KeyError):
            loaded.skipped += 1


def parse_lines(text: str, loaded: Loaded) -> None:
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            loaded.records.append(IndexRecord.from_mapping(json.loads(line)))
        except (ValueError, TypeError, AttributeError):
            loaded.skipped += 1


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.suffix in (".json", ".jsonl") and path.is_file() and not path.name.startswith("."):
            yield path


def read_folder(root: str | Path) -> Loaded:
    root = Path(root)
    if not root.exists():
        raise InputError(f"{root}: no such folder")
    loaded = Loaded()
    for path in [root] if root.is_file() else _files(root):
        if path.stat().st_size > MAX_FILE_BYTES:
            loaded.skipped += 1
        elif path.suffix == ".jsonl":
            try:
                parse_lines(path.read_text(encoding="utf-8"), loaded)
            except (OSError, UnicodeDecodeError):
                loaded.skipped += 1
        else:
            _records_in_json(path, loaded)
    return loaded


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket[/prefix] → (bucket, the index prefix: <prefix>/index/, or the prefix itself
    when it already ends in index)."""
    rest = uri[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise InputError(f"{uri}: expected s3://bucket[/prefix]")
    prefix = prefix.strip("/")
    if prefix.rsplit("/", 1)[-1] != "index":
        prefix = f"{prefix}/index" if prefix else "index"
    return bucket, prefix + "/"


def _day_prefixes(index_prefix: str, since: datetime | None, now: datetime) -> list[str]:
    if since is None:
        return [index_prefix]
    first = since.astimezone(UTC).date()
    days = min((now.astimezone(UTC).date() - first).days, MAX_DAYS_LISTED)
    return [f"{index_prefix}date={first + timedelta(days=i)}/" for i in range(days + 1)]


def read_s3(
    s3: Any, uri: str, *, since: datetime | None = None, now: datetime | None = None
) -> Loaded:
    """Every index record under the URI (only the date partitions --since needs)."""
    from investigator.aws import target_error

    bucket, index_prefix = parse_s3_uri(uri)
    now = now or datetime.now(UTC)
    try:
        keys = [
            obj["Key"]
            for prefix in _day_prefixes(index_prefix, since, now)
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
            if obj["Key"].endswith((".jsonl", ".json"))
        ]

        def fetch(key: str) -> str:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", "replace")

        with ThreadPoolExecutor(max_workers=S3_READERS) as pool:
            bodies = list(pool.map(fetch, keys))
    except Exception as exc:  # botocore errors: one line, exit 3
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError | BotoCoreError):
            raise target_error(exc, f"s3://{bucket}/{index_prefix}",
                               str(s3.meta.region_name), "s3:ListBucket and s3:GetObject") from None
        raise
    loaded = Loaded()
    for body in bodies:
        parse_lines(body, loaded)
    return loaded
