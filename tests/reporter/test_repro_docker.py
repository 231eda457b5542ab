"""The repro kit against a real docker daemon: the container runs, its exit code comes back.

The fixture starts a private `dockerd` (Debian's docker.io, installed by
scripts/system-deps.sh) on its own socket and folders: vfs storage, no iptables, no bridge, so
it needs no network and touches no other daemon. The image is built from Debian's
busybox-static plus an entry script that checks the SageMaker training contract the kit
recreates (`/opt/ml/input/config/*.json`, the channel folders, the `train` argument, the host
name and job name). Where no daemon can start, the tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from investigator.reporter.repro import write_repro_kit
from tests.reporter.test_repro import investigation, sm_facts

IMAGE = "sm-contract:test"
BUSYBOX = Path("/bin/busybox")
# SageMaker runs `docker run IMAGE train`: with an ENTRYPOINT, `train` is its argument.
ENTRY = r"""#!/bin/sh
fail() { echo "SAGEMAKER CONTRACT BROKEN: $*" >&2; exit 90; }
[ "$1" = train ] || fail "argument is '$1', not train"
for f in hyperparameters resourceconfig inputdataconfig; do
  [ -s "/opt/ml/input/config/$f.json" ] || fail "no /opt/ml/input/config/$f.json"
done
grep -q '"current_host": "algo-1"' /opt/ml/input/config/resourceconfig.json || fail resourceconfig
for c in train val; do
  [ -d "/opt/ml/input/data/$c" ] || fail "no channel folder $c"
  grep -q "\"$c\"" /opt/ml/input/config/inputdataconfig.json || fail "channel $c not configured"
done
[ "$(hostname)" = algo-1 ] || fail "hostname is $(hostname)"
[ "$TRAINING_JOB_NAME" = train-7 ] || fail "TRAINING_JOB_NAME is '$TRAINING_JOB_NAME'"
[ -d /opt/ml/model ] && [ -d /opt/ml/output/data ] || fail "no model/output folders"
echo "contract ok" > /opt/ml/output/data/contract
code=$(sed -n 's/.*"exit_code": "\([0-9]*\)".*/\1/p' /opt/ml/input/config/hyperparameters.json)
exit "${code:-0}"
"""


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "dockerd needs root"
    if not shutil.which("dockerd") or not shutil.which("docker"):
        return "docker not installed (Debian package docker.io; run `make system-deps`)"
    if not BUSYBOX.exists():
        return "no static busybox for the test image (Debian package busybox-static)"
    return None


@pytest.fixture(scope="module")
def docker_env(tmp_path_factory) -> Iterator[dict[str, str]]:
    reason = _skip_reason()
    if reason:
        pytest.skip(f"no docker daemon for the repro kit: {reason}")
    root = tmp_path_factory.mktemp("dockerd")
    sock = root / "docker.sock"
    log = (root / "dockerd.log").open("w")
    daemon = subprocess.Popen(
        ["dockerd", "--storage-driver=vfs", "--iptables=false", "--bridge=none",
         "--ip-forward=false", "--ip-masq=false", f"--host=unix://{sock}",
         f"--data-root={root / 'data'}", f"--exec-root={root / 'exec'}",
         f"--pidfile={root / 'docker.pid'}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}"}
    try:
        _wait_ready(env, daemon, root / "dockerd.log")
        _import_image(root, env)
        yield env
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)  # dockerd and the containerd it started
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
        log.close()


def _wait_ready(env: dict[str, str], daemon: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            break
        probe = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                               env=env, capture_output=True, text=True)
        if probe.returncode == 0:
            return
        time.sleep(0.5)
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
    pytest.skip(f"no docker daemon for the repro kit: dockerd did not start: {tail[0][:200]}")


def _import_image(root: Path, env: dict[str, str]) -> None:
    """A two-file image: busybox (every applet linked) and the contract-checking entry."""
    fs = root / "rootfs"
    (fs / "bin").mkdir(parents=True)
    (fs / "tmp").mkdir()
    shutil.copy2(BUSYBOX, fs / "bin" / "busybox")
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True).stdout
    for name in applets.split():
        if name != "busybox":
            (fs / "bin" / name).symlink_to("busybox")
    (fs / "bin" / "entry").write_text(ENTRY)
    (fs / "bin" / "entry").chmod(0o755)
    tar = root / "rootfs.tar"
    with tarfile.open(tar, "w") as t:
        t.add(fs, arcname=".")
    subprocess.run(["docker", "import", "--change", 'ENTRYPOINT ["/bin/entry"]', str(tar), IMAGE],
                   env=env, check=True, capture_output=True)


def _kit(tmp_path: Path, exit_code: str) -> Path:
    facts = sm_facts(**{"sagemaker.hyperparameters": {"exit_code": exit_code},
                        "sagemaker.input_uris": [], "sagemaker.environment": None})
    return write_repro_kit(investigation(facts), tmp_path / "kit", sample=0)


def _run(kit: Path, env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in env.items() if not k.startswith("REPRO_")}
    return subprocess.run(["bash", str(kit / "repro.sh"), "run"], capture_output=True, text=True,
                          env={**env, "REPRO_IMAGE": IMAGE, **extra}, timeout=180)


def test_a_gpu_job_on_a_host_without_a_gpu_runtime_stops_with_one_clear_line(docker_env, tmp_path):
    proc = _run(_kit(tmp_path, "0"), docker_env)
    assert proc.returncode == 2
    # docker's own message reached the user, then one line saying what it means and what to do
    assert 'could not select device driver "" with capabilities: [[gpu]]' in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("repro.sh: run: docker on this host has no GPU runtime"), last
    assert "REPRO_GPUS=none ./repro.sh run" in last
    assert not (tmp_path / "kit" / "work" / "ml" / "output" / "data" / "contract").exists()


def test_without_gpus_the_container_runs_the_contract_and_its_exit_code_comes_back(
        docker_env, tmp_path):
    kit = _kit(tmp_path, "7")
    proc = _run(kit, docker_env, REPRO_GPUS="none")
    assert "CONTRACT BROKEN" not in proc.stderr, proc.stderr  # the entry script found everything
    assert (kit / "work" / "ml" / "output" / "data" / "contract").read_text() == "contract ok\n"
    assert proc.returncode == 7, proc.stderr
    assert "GPU code paths will differ" in proc.stderr
    assert "repro.sh: run: the container exited with code 7" in proc.stderr
