"""A real Roster process under waitress, for tests that must cross a real socket."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY = "Roster is serving on"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTER_")}
    env.update({"ROSTER_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **extra})
    return env


def flask_cli(
    data_dir: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess:
    """Run ``flask --app app …`` as an admin would (``stdin``: what the admin types)."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=environment(data_dir, **env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def wait_for(condition, seconds: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not so after {seconds} s")
        time.sleep(0.01)


def loopback_sockets(port: int) -> tuple[int, int]:
    """Return (connections waiting to be accepted, connections established) on the server side
    of 127.0.0.1:``port``, as Linux reports them in /proc/net/tcp.

    A listening socket's rx_queue there is its accept queue: 0 once the server has accepted
    every connection the kernel completed.
    """
    # Addresses are printed as the kernel's 32-bit word, in this machine's byte order.
    word = int.from_bytes(socket.inet_aton("127.0.0.1"), sys.byteorder)
    local = f"{word:08X}:{port:04X}"
    waiting = established = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if fields[1] != local:
                continue
            if fields[3] == "0A":  # LISTEN
                waiting = int(fields[4].split(":")[1], 16)
            elif fields[3] == "01":  # ESTABLISHED
                established += 1
    return waiting, established


def provision(data_dir: Path, name: str, kind: str = "generic") -> tuple[str, str]:
    """Create an IdP and its token with the CLI, as an admin would; return (id, token)."""
    created = flask_cli(data_dir, "idp", "create", "--name", name, "--kind", kind)
    assert created.returncode == 0, created.stderr
    idp = created.stdout.strip()
    generated = flask_cli(data_dir, "token", "generate", idp, "--json")
    assert generated.returncode == 0, generated.stderr
    return idp, json.loads(generated.stdout)["token"]


class LiveServer:
    """``python app.py`` on a free loopback port; ready once it says it is serving."""

    def __init__(
        self, data_dir: Path, *args: str, port: int | None = None, env: dict | None = None
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(self.port), *args],
            cwd=ROOT,
            env=environment(data_dir, **(env or {})),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        for line in self.process.stdout:  # blocks until the server logs readiness or exits
            self.output.append(line)
            if READY in line:
                break
        else:
            raise RuntimeError("server exited before serving:\n" + "".join(self.output))
        # Keep reading the log: a full pipe would block the server's next write, and with it
        # the request being served.
        self._drain = threading.Thread(target=self.output.extend, args=(self.process.stdout,))
        self._drain.daemon = True
        self._drain.start()

    def request(self, method: str, path: str, token: str | None = None, body=None, headers=None):
        """Return (status, headers, parsed JSON body or None)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/scim+json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                status, headers = response.status, response.headers
        except urllib.error.HTTPError as error:
            raw, status, headers = error.read(), error.code, error.headers
        return status, headers, json.loads(raw) if raw else None

    def http(self, method: str, path: str, headers: dict | None = None, body: bytes = b""):
        """Send one request on a new connection; return (status, headers, body bytes).

        Redirects are not followed and cookies are not kept: the caller sees exactly what the
        server answered. ``headers`` may replace ``Host``.
        """
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body or None, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def stop(self) -> int:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        finally:
            self._drain.join(timeout=30)
            self.process.stdout.close()
        return self.process.returncode

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)
        self._drain.join(timeout=30)
        self.process.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.stop()
