"""`make bench` (log part): investigate log vs GNU grep -E -f on a 200 MB training log.

Generates a realistic multi-GPU training log that ends in a failure (cached under
bench/out/), picks at least 40 of the playbooks' own patterns that GNU ERE can express, and
measures wall time, throughput and peak RSS of each tool as a separate child process
(os.wait4 gives that child's own rusage). Also checks bounded memory on a pathological
file: a single 20 MB line.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SIZE_MB = int(os.environ.get("BENCH_LOG_MB", "200"))
MIN_PATTERNS = 40
INVESTIGATE = [sys.executable, "-m", "investigator", "log", "--format", "json"]


def _lines(rng: random.Random):
    """A training run's chatter: progress, metrics, warnings and benign 'errors'."""
    yield "2025-06-25 18:12:01,004 sagemaker-training-toolkit INFO     Imported framework sagemaker_pytorch_container.training"
    yield "ERROR: pip's dependency resolver does not currently take into account all the packages that are installed. This behaviour is the source of the following dependency conflicts."
    yield "/opt/conda/lib/python3.10/site-packages/torch/utils/data/dataloader.py:557: UserWarning: This DataLoader will create 8 worker processes in total."
    step = 0
    while True:
        step += 1
        host = rng.randint(1, 4)
        loss = 2.5 / (1 + step / 5000) + rng.random() * 0.05
        yield (
            f"[1,{host - 1}]<stdout>:2025-06-25T18:{(step // 600) % 60:02d}:{step % 60:02d}Z "
            f"algo-{host} | epoch {step // 20000} step {step} loss={loss:.4f} "
            f"lr={3e-4 * rng.random():.3e} grad_norm={rng.random() * 4:.3f} tokens/s={rng.randint(9000, 12000)}"
        )
        r = rng.random()
        if r < 0.02:
            yield f"algo-{host}:312:340 [0] NCCL INFO Channel {rng.randint(0, 31):02d}/0 : 0[0] -> 1[1] via P2P/IPC/read"
        elif r < 0.025:
            yield "[W reducer.cpp:1300] Warning: find_unused_parameters=True was specified in DDP constructor, but did not find any unused parameters in the forward pass."
        elif r < 0.03:
            yield f"{step:>10}it [{step // 3600:02d}:{step % 60:02d}, 4.21it/s] Saving checkpoint to /opt/ml/checkpoints/step-{step}"


FAILURE = """\
[1,2]<stderr>:Traceback (most recent call last):
[1,2]<stderr>:  File "/opt/ml/code/train.py", line 412, in <module>
[1,2]<stderr>:    main()
[1,2]<stderr>:  File "/opt/ml/code/train.py", line 388, in main
[1,2]<stderr>:    loss.backward()
[1,2]<stderr>:torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 2 has a total capacity of 22.19 GiB of which 1.06 GiB is free. Process 5310 has 21.12 GiB memory in use.
[1,0]<stderr>:[rank0]:[E ProcessGroupNCCL.cpp:616] [Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=88412, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=1800000) ran for 1800094 milliseconds before timing out.
2025-06-25 19:02:44,118 sagemaker-training-toolkit ERROR    Reporting training FAILURE
2025-06-25 19:02:44,119 sagemaker-training-toolkit ERROR    ExecuteUserScriptError:
ExitCode 1
"""


def generate(path: Path, size_mb: int) -> Path:
    if path.exists() and path.stat().st_size >= size_mb << 20:
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    target = size_mb << 20
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        written = 0
        batch: list[str] = []
        for line in _lines(rng):
            batch.append(line)
            if len(batch) == 10_000:
                block = "\n".join(batch) + "\n"
                fh.write(block)
                written += len(block)
                batch.clear()
                if written >= target:
                    break
        fh.write(FAILURE)
    tmp.replace(path)
    return path


def long_line_file(path: Path, mb: int = 20) -> Path:
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            fh.write(b"x" * (mb << 20))
            fh.write(
                b" RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
            )
    return path


def _to_ere(rx: str) -> str | None:
    """RE2 → GNU ERE for simple patterns; None when ERE cannot say the same thing."""
    if "(?i)" in rx or "(?m)" in rx or "(?s)" in rx:
        return None
    out = rx.replace("(?:", "(")
    while "(?P<" in out:
        start = out.index("(?P<")
        end = out.index(">", start)
        out = out[:start] + "(" + out[end + 1 :]
    for a, b in (("\\d", "[0-9]"), ("\\s", "[[:space:]]"), ("\\w", "[[:alnum:]_]")):
        out = out.replace(a, b)
    if "\\" in out.replace("\\.", "").replace("\\b", "").replace("\\(", "").replace(
        "\\)", ""
    ).replace("\\[", "").replace("\\]", ""):
        return None  # some other escape ERE reads differently
    return out


def grep_patterns() -> list[str]:
    from investigator.classifier.loader import load_rules

    seen: list[str] = []
    for rule in load_rules():
        for p in (*rule.patterns.any, *rule.patterns.all):
            ere = _to_ere(p.regex)
            if ere and ere not in seen:
                ok = subprocess.run(["grep", "-E", "-e", ere, "/dev/null"], capture_output=True)
                if ok.returncode == 1:  # valid pattern, no match
                    seen.append(ere)
    return seen


RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def best_of(cmd: list[str], stdout_path: Path) -> tuple[float, float, int, float]:
    """Fastest wall time of RUNS runs (less noise from other work), the largest peak RSS,
    the exit status and the least CPU time (user + system: steadier than wall time when
    other work shares the machine)."""
    runs = [measure(cmd, stdout_path) for _ in range(RUNS)]
    return (
        min(r[0] for r in runs),
        max(r[1] for r in runs),
        runs[-1][2],
        min(r[3] for r in runs),
    )


def measure(cmd: list[str], stdout_path: Path) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS MiB of the child alone, its exit status and CPU seconds."""
    with stdout_path.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode, usage.ru_utime + usage.ru_stime


def main() -> int:
    if not shutil.which("grep"):
        print("bench: GNU grep not found", file=sys.stderr)
        return 1
    log = generate(OUT / f"train-{SIZE_MB}mb.log", SIZE_MB)
    size_mb = log.stat().st_size / (1 << 20)
    patterns = grep_patterns()
    if len(patterns) < MIN_PATTERNS:
        print(f"bench: only {len(patterns)} ERE-expressible patterns (< {MIN_PATTERNS})")
        return 1
    pfile = OUT / "patterns.ere"
    pfile.write_text("\n".join(patterns) + "\n")

    # Warm the page cache so both tools read from memory.
    with log.open("rb") as fh:
        while fh.read(16 << 20):
            pass
    g_wall, g_rss, _, g_cpu = best_of(
        ["grep", "-E", "-c", "-f", str(pfile), str(log)], OUT / "grep.out"
    )
    i_wall, i_rss, rc, i_cpu = best_of([*INVESTIGATE, str(log)], OUT / "investigate.json")
    verdict = _verdict(OUT / "investigate.json")
    # Start-up: the same commands on a one-line log (both figures above include it).
    one = OUT / "one-line.log"
    one.write_text("ModuleNotFoundError: No module named 'einops'\n")
    gs_wall, _, _, _ = best_of(["grep", "-E", "-c", "-f", str(pfile), str(one)], OUT / "grep1.out")
    is_wall, _, _, _ = best_of([*INVESTIGATE, str(one)], OUT / "investigate1.json")
    ll = long_line_file(OUT / "one-20mb-line.log")
    l_wall, l_rss, _, l_cpu = best_of([*INVESTIGATE, str(ll)], OUT / "longline.json")

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nlog benchmark: {log.name} ({size_mb:.0f} MB), {len(patterns)} grep patterns, "
          f"best of {RUNS} (load average {load} on {os.cpu_count()} CPUs)")
    print(f"{'tool':<34}{'wall s':>9}{'MB/s':>9}{'cpu s':>8}{'peak RSS MB':>13}{'start-up s':>12}")
    print(
        f"{'grep -E -c -f (' + str(len(patterns)) + ' patterns)':<34}{g_wall:>9.2f}{size_mb / g_wall:>9.0f}{g_cpu:>8.2f}{g_rss:>13.0f}{gs_wall:>12.3f}"
    )
    print(f"{'investigate log':<34}{i_wall:>9.2f}{size_mb / i_wall:>9.0f}{i_cpu:>8.2f}{i_rss:>13.0f}"
          f"{is_wall:>12.3f}")
    print(
        f"{'investigate log (one 20 MB line)':<34}{l_wall:>9.2f}{20 / l_wall:>9.0f}{l_cpu:>8.2f}{l_rss:>13.0f}"
    )
    print(f"ratio investigate/grep wall time, start-up included: {i_wall / g_wall:.2f}x "
          "(target <= 1.5x)")
    print(f"start-up (one-line log): investigate {is_wall:.3f} s (target <= 0.25 s), "
          f"grep {gs_wall:.3f} s")
    print(f"peak RSS: {i_rss:.0f} MB (target <= 256 MB); verdict: {verdict}; exit {rc}")
    return 0


def _verdict(path: Path) -> str:
    import json

    try:
        data = json.loads(path.read_text())[0]
        return f"{data['category']}/{data['rule']}"
    except (ValueError, KeyError, IndexError):
        return "(no output)"


if __name__ == "__main__":
    sys.exit(main())
