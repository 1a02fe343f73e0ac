"""Where a request's time goes inside the server: py-spy samples the server's threads while a
phase runs, and each sample of a busy waitress worker is charged to the first part of Roster
its stack is in (the store's fsync, the rest of the store, the request log, validation…), or
to waitress and Flask when it is in none.

    with Sampler(server.process.pid) as sampler:
        ...drive requests...
    print(table(charge(sampler.stacks()), requests))

py-spy is a development dependency; it needs ptrace rights over the server (the same user).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

RATE = 1000  # samples a second
# (part, a frame that puts a sample in it), first match wins: order from the innermost parts.
PARTS = (
    ("journal write + fsync", "append (storage/tinydb/journal.py"),
    ("store: the rest of the write", "create (storage/tinydb/store.py"),
    ("store: PostgreSQL write", "create (storage/postgres/store.py"),
    ("request log", "_record (scim/requestlog.py"),
    ("token check", "authenticate (scim/auth.py"),
    ("validation (marshmallow)", "load_resource (scim/core/models.py"),
    ("JSON body parsing", "read_json (scim/http.py"),
    ("password hashing", "seal (scim/users.py"),
    ("rendering the answer", "_single (scim/resources.py"),
    ("Flask: routing, hooks, contexts", "wsgi_app (flask/app.py"),
    ("Roster's WSGI middleware", "__call__ (app.py"),
    ("waitress: parsing and writing", "service (waitress/channel.py"),
)


class Sampler:
    """py-spy recording the process ``pid`` for as long as the block runs."""

    def __init__(self, pid: int):
        self.pid = pid
        self.folder = Path(tempfile.mkdtemp(prefix="roster-spy-"))
        self.output = self.folder / "stacks.txt"
        self.process: subprocess.Popen | None = None
        self.seconds = 0.0

    @staticmethod
    def command() -> str | None:
        """py-spy beside this Python (in its venv), else on the PATH, else None."""
        beside = Path(sys.executable).parent / "py-spy"
        return str(beside) if beside.exists() else shutil.which("py-spy")

    @classmethod
    def available(cls) -> bool:
        return cls.command() is not None

    def __enter__(self) -> Sampler:
        argv = [self.command(), "record", "-p", str(self.pid), "-r", str(RATE), "-f", "raw"]
        argv += ["--threads", "-o", str(self.output)]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # py-spy attaches before the first request: a start-up delay, not sync
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
        self.process.send_signal(2)  # SIGINT: py-spy writes what it has and exits
        self.process.wait(timeout=120)

    def stacks(self) -> list[tuple[list[str], int]]:
        """The samples taken: (frames, outermost first; count)."""
        out = []
        if self.output.exists():
            for line in self.output.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                out.append((stack.split(";"), int(count)))
        shutil.rmtree(self.folder, ignore_errors=True)
        return out


def charge(stacks: list[tuple[list[str], int]]) -> Counter:
    """Samples of busy waitress workers, by part (an idle worker waits in ``handler_thread``
    without being in a channel's ``service``)."""
    parts: Counter = Counter()
    for frames, count in stacks:
        if not any("service (waitress/channel.py" in f for f in frames):
            continue
        part = next((p for p, frame in PARTS if any(frame in f for f in frames)), "other")
        parts[part] += count
    return parts


def table(parts: Counter, requests: int, mean_ms: float) -> str:
    """The busy time per request, by part, in ms (py-spy's own cost is in every figure)."""
    busy = sum(parts.values())
    per_request = busy / RATE / requests * 1000
    lines = [
        f"where a request's {mean_ms:.2f} ms go (py-spy at {RATE} Hz, {requests:,} requests; "
        f"server busy {per_request:.2f} ms a request, the rest is the client, loopback and "
        "waiting for a thread):"
    ]
    for part, count in parts.most_common():
        ms = count / RATE / requests * 1000
        lines.append(f"   {ms:6.3f} ms  {count / busy:5.1%}  {part}")
    return "\n".join(lines)
