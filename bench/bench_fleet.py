"""`make bench-fleet`: `investigate fleet` over a 100,000-record index (target: < 10 s).

Writes a synthetic index under bench/out/fleet-index/ in the S3 layout
(index/date=YYYY-MM-DD/*.jsonl, as `aws s3 sync s3://<bucket>/index` leaves it, but one
file per day rather than per failure), with a long-tailed mix of 300 causes over 90 days,
then runs the real CLI in a child process, best of 3:
  1. the whole command (start-up, read, parse, pandas grouping, JSON rendering);
and in this process, best of 3:
  2. the pandas grouping alone (investigator.fleet.group.group_records).
Prints the load average: the machine is shared.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out" / "fleet-index"
RECORDS = int(os.environ.get("BENCH_FLEET_RECORDS", "100000"))
RUNS = 3
TARGET_S = 10.0


def build_index() -> Path:
    from investigator.fleet.records import IndexRecord, iso_z

    marker = OUT / f".records-{RECORDS}"
    if marker.exists():
        return OUT
    rng = random.Random(14)
    start = datetime(2025, 4, 1, tzinfo=UTC)
    cats = ["deps", "cuda", "paths", "resources", "timeout", "network", "capacity", "code"]
    causes = [(f"{rng.getrandbits(64):016x}", rng.choice(cats), f"rule-{i % 90}")
              for i in range(300)]
    by_day: dict[str, list[str]] = {}
    for k in range(RECORDS):
        fp, cat, rule = causes[min(int(rng.paretovariate(1.1)) - 1, len(causes) - 1)]
        when = start + timedelta(seconds=rng.randrange(90 * 86400))
        pipeline = rng.choice(["Nightly", "Weekly", "Adhoc", "Eval", None])
        rec = IndexRecord(
            fingerprint=fp, category=cat, rule=rule, title=f"{rule}: a failure title",
            confidence=0.9, retryable=rng.random() < 0.2,
            target=f"arn:aws:states:us-east-1:123456789012:execution:{pipeline}:run-{k}",
            target_kind="execution", pipeline=pipeline, job=f"train-{k}",
            failed_state="Train", failed_at=iso_z(when),
            report=f"s3://reports/reports/{when:%Y/%m/%d}/{pipeline}.run-{k}.html",
            instance_type="ml.g5.xlarge", image_digest="sha256:" + fp * 4,
        )
        by_day.setdefault(rec.day, []).append(rec.to_json_line())
    for day, lines in by_day.items():
        folder = OUT / "index" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "part-0.jsonl").write_text("".join(lines), encoding="utf-8")
    marker.touch()
    return OUT


def best_cli(index: Path) -> float:
    cmd = [sys.executable, "-m", "investigator", "fleet", str(index), "--format", "json",
           "--output", str(OUT.parent / "fleet.json")]
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        times.append(time.perf_counter() - t0)
    return min(times)


def best_group(index: Path) -> tuple[float, int]:
    from investigator.fleet.group import group_records
    from investigator.fleet.sources import read_folder
    from investigator.fleet.view import Filters

    records = read_folder(index).records
    assert len(records) == RECORDS, len(records)
    times, groups = [], []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        groups = group_records(records, Filters())
        times.append(time.perf_counter() - t0)
    return min(times), len(groups)


def main() -> None:
    t0 = time.perf_counter()
    index = build_index()
    built = time.perf_counter() - t0
    cli = best_cli(index)
    group, n_groups = best_group(index)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"fleet bench: {RECORDS:,} index records, {n_groups} fingerprints "
          f"(index built/cached in {built:.1f} s); best of {RUNS} "
          f"(load average {load} on {os.cpu_count()} CPUs)")
    print(f"  investigate fleet <index> --format json (whole command) {cli:6.2f} s")
    print(f"  pandas grouping alone                                   {group:6.2f} s")
    verdict = "OK" if cli < TARGET_S else "OVER"
    print(f"  target < {TARGET_S:.0f} s for the whole command: {verdict}")
    if cli >= TARGET_S:
        sys.exit(1)


if __name__ == "__main__":
    main()
