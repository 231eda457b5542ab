"""A moto server on 127.0.0.1 holding the demo incidents.

    python -m investigator.demo.server --port 0 --scenarios all

seeds the chosen scenarios, prints one line per scenario and then
`AWS_ENDPOINT_URL=http://127.0.0.1:PORT` (the line to wait for), and serves until killed.
The process's moto backends are the ones seeded: the server runs in-process
(moto.server.ThreadedMotoServer), so no state crosses a process boundary.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.server import ThreadedMotoServer

from investigator.demo import moto_ext
from investigator.demo.scenarios import Scenario, seed, select
from investigator.demo.seed import REGION

HOST = "127.0.0.1"


class _BlobRoute:
    """WSGI wrapper: GET <BLOB_PATH>... serves a seeded ECR blob; everything else is moto."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(moto_ext.BLOB_PATH):
            return self.app(environ, start_response)
        blob = moto_ext.find_blob(path)
        if blob is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"blob not found"]
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(blob)))])
        return [blob]


def _probe(port: int) -> None:
    """Raise OSError if HOST:port is taken. werkzeug would exit inside moto's server thread
    instead, leaving ThreadedMotoServer.start() waiting forever for its ready event."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((HOST, port))


class DemoServer:
    """ThreadedMotoServer on 127.0.0.1 (port 0 = any free port) plus the blob route."""

    def __init__(self, port: int = 0) -> None:
        self._moto = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
        self._port = port
        self.endpoint = ""

    def start(self) -> str:
        moto_ext.install()
        if self._port:
            _probe(self._port)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # ThreadedMotoServer builds its WSGI app inside its thread; wrap the werkzeug server's
        # app afterwards rather than copying moto's private start-up code.
        wsgi = self._moto._server
        assert wsgi is not None
        wsgi.app = _BlobRoute(wsgi.app)  # type: ignore[attr-defined]
        moto_ext.BLOB_BASE_URL = self.endpoint
        return self.endpoint

    def stop(self) -> None:
        moto_ext.BLOB_BASE_URL = None
        self._moto.stop()


def start(scenarios: Iterable[Scenario], port: int = 0) -> DemoServer:
    """Seed the scenarios into this process's moto backends and serve them."""
    server = DemoServer(port)
    server.start()
    seed(scenarios)
    return server


def client_env(endpoint: str) -> dict[str, str]:
    """Environment for an AWS client (CLI, boto3) to talk to the demo server only.

    Dummy credentials and empty config files keep a developer's real profile, SSO session or
    instance role out of it; moto maps any access key to its default account. NO_PROXY keeps
    a corporate HTTP(S)_PROXY from intercepting 127.0.0.1.
    """
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def export_lines(endpoint: str) -> list[str]:
    """`export K=V` lines a user pastes into another shell to talk to this server only."""
    return [f"export {k}={shlex.quote(v)}" for k, v in client_env(endpoint).items()]


def ready_message(endpoint: str, chosen: list[Scenario], investigate: str) -> list[str]:
    """What to paste next: the environment (dummy credentials included), then a command."""
    out = ["", "Ready. In another shell, paste these lines (dummy credentials: they only work "
           "against this server):", ""]
    out += ["  " + line for line in export_lines(endpoint)]
    if chosen:
        s = chosen[0]
        out += ["", "then investigate an incident, for example:", "",
                f"  {investigate} {s.kind} {shlex.quote(s.target)} --format text"]
    return [*out, "", "Stop the server with Ctrl-C.", ""]


def investigate_command() -> str:
    """`investigate` as the user can run it: the venv's script when it is not on PATH."""
    import os
    import shutil

    here = os.path.join(os.path.dirname(sys.executable), "investigate")
    if shutil.which("investigate") == here or not os.path.exists(here):
        return "investigate"
    rel = os.path.relpath(here)
    return rel if not rel.startswith("..") else here


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m investigator.demo.server",
                                description="Serve the demo incidents from a local moto server.")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    p.add_argument("--scenarios", default="all",
                   help="'all' or comma-separated scenario names")
    p.add_argument("--verbose", action="store_true", help="log every request on stderr")
    return p.parse_args(argv)


def quiet_access_log(verbose: bool = False) -> None:
    """werkzeug logs one line per request on stderr; the demo's output is the reports."""
    logging.getLogger("werkzeug").setLevel(logging.INFO if verbose else logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    quiet_access_log(args.verbose)
    try:
        chosen = select(args.scenarios)
    except KeyError as exc:
        print(f"investigator.demo.server: error: {exc.args[0]}", file=sys.stderr)
        return 2
    try:
        server = start(chosen, args.port)
    except OSError as exc:
        print(f"investigator.demo.server: error: cannot listen on {HOST}:{args.port}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    for s in chosen:
        print(f"  {s.name:22} {s.kind:9} {s.target}  (expect {s.expected})")
    print("\n".join(ready_message(server.endpoint, list(chosen), investigate_command())))
    print(f"AWS_ENDPOINT_URL={server.endpoint}", flush=True)  # the line scripts wait for
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):  # a timed wait lets the signal handler run promptly
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
