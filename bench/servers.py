"""Start the servers the benchmark drives, as real processes on loopback."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(data_dir: Path | None, extra: dict | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTER_")}
    env.update(PYTHONUNBUFFERED="1", **(extra or {}))
    if data_dir is not None:
        env["ROSTER_DATA_DIR"] = str(data_dir)
    return env


class Server:
    """A server subprocess whose output goes to a log file (a pipe nobody reads would fill)."""

    def __init__(
        self, argv: list[str], log: Path, data_dir: Path | None = None, env: dict | None = None
    ):
        self.port = free_port()
        self.log_path = log
        with open(log, "ab") as output:  # the child keeps its own descriptor
            self.started = time.perf_counter()
            self.process = subprocess.Popen(
                [sys.executable, *argv, "--port", str(self.port)],
                cwd=ROOT,
                env=_environment(data_dir, env),
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, path: str, headers: dict | None = None, timeout: float = 300) -> float:
        """Poll ``path`` until it answers 200; return seconds since the process started."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", path, headers=headers or {})
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return time.perf_counter() - self.started
                raise RuntimeError(f"{path} answered {status}; see {self.log_path}")
            except OSError:
                time.sleep(0.005)  # not listening yet: polling is what a start-up timer does
        raise RuntimeError(f"server not ready after {timeout}s; see {self.log_path}")

    def peak_rss_mb(self) -> float:
        """The process's peak resident set size (VmHWM), in MiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc status")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_roster(
    data_dir: Path,
    idp: str,
    token: str,
    log: Path,
    dsn: str | None = None,
    env: dict | None = None,
) -> tuple[Server, float]:
    """Start ``python app.py`` on ``data_dir`` (or the PostgreSQL database ``dsn``); return it
    and its start-up time: process start to the first successful authenticated request.
    ``env``: more environment variables (``bench/unsynced``)."""
    extra = {**({"ROSTER_DATABASE_URL": dsn} if dsn else {}), **(env or {})}
    server = Server(["app.py"], log, data_dir, extra or None)
    try:
        seconds = server.wait_ready(
            f"/scim/v2/{idp}/ServiceProviderConfig", {"Authorization": f"Bearer {token}"}
        )
    except BaseException:
        server.stop()
        raise
    return server, seconds


def start_peer(log: Path, token: str) -> Server:
    """Start scim2-server under waitress (``bench/peer.py``); its SCIM base is ``/v2``."""
    server = Server([str(ROOT / "bench" / "peer.py"), "--token", token], log)
    try:
        server.wait_ready("/v2/ServiceProviderConfig", {"Authorization": f"Bearer {token}"})
    except BaseException:
        server.stop()
        raise
    return server


def start_hello(log: Path) -> Server:
    server = Server([str(ROOT / "bench" / "hello.py")], log)
    try:
        server.wait_ready("/hello")
    except BaseException:
        server.stop()
        raise
    return server
