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

from bench.parts import TOTAL, VALIDATION

RATE = 1000  # samples a second
# (part, a frame that puts a sample in it), first match wins: order from the innermost parts.
PARTS = (
    ("fsync (group commit, disk)", "_fsync_now (storage/tinydb/journal.py"),
    ("journal write", "append (storage/tinydb/journal.py"),
    ("store: the rest of the write", "create (storage/tinydb/resources.py"),
    ("store: PostgreSQL write", "create (storage/postgres/pg_writes.py"),
    ("request log", "_record (scim/requestlog.py"),
    ("token check", "authenticate (scim/auth.py"),
    ("request id", "start (monitoring/requestid.py"),
    ("process log line", "log_request (monitoring/logs.py"),
    ("validation (marshmallow)", "load_resource (scim/core/models.py"),
    ("JSON body parsing", "read_json (scim/http.py"),
    ("password hashing", "seal (scim/users.py"),
    ("rendering the answer", "_single (scim/resources.py"),
    ("Flask: routing, hooks, contexts", "wsgi_app (flask/app.py"),
    ("Roster's WSGI middleware", "__call__ (app.py"),
    ("waitress: parsing and writing", "service (waitress/channel.py"),
)
# Parts a bare Flask endpoint under waitress has too (its share of the ceiling's time).
SHARED = ("Flask: routing, hooks, contexts", "waitress: parsing and writing")
STEP = 0.1  # ms: one mark in the budget's bars


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


REST = "the rest: Flask's hooks and contexts, middleware, a larger answer to send and read"


def budget(
    parts: dict[str, float],
    post_ms: float,
    ceiling_ms: float,
    target_ms: float,
    fsync_ms: float,
    unsynced_ms: float,
) -> str:
    """Where each 0.1 ms of a sequential POST goes, against the time the targets allow.

    A POST's mean ``post_ms`` is bare Flask's POST (``ceiling_ms``: the client, loopback,
    waitress and Flask doing no work), the wait for the disk (``post_ms - unsynced_ms``:
    ``unsynced_ms`` is the same POSTs on a Roster whose fsync does nothing), and Roster's
    work, ``unsynced_ms - ceiling_ms``. ``parts`` (``bench/parts.py``: ms per POST, timed in
    that server) split the work; what they leave is ``REST``. ``target_ms``: the most a POST
    may take to meet every target; ``fsync_ms``: an append and fsync's p50, timed alone."""
    parts = {label: ms for label, ms in parts.items() if label != TOTAL}
    work = max(unsynced_ms - ceiling_ms, 0.0)
    waited = max(post_ms - unsynced_ms, 0.0)
    rows = [
        *parts.items(),
        (REST, work - sum(parts.values())),
        ("bare Flask's POST: client, loopback, waitress, Flask", ceiling_ms),
        ("waiting for the fsync (measured: the same POSTs with it a no-op)", waited),
    ]
    lines = [
        f"where a sequential POST's {post_ms:.2f} ms go, one mark per {STEP} ms (Roster's "
        f"{work:.2f} ms of work over bare Flask timed part by part in the server, fsync a "
        f"no-op); the targets allow {target_ms:.2f} ms: {post_ms - target_ms:+.2f} ms to go"
    ]
    for part, ms in sorted(rows, key=lambda row: -row[1]):
        lines.append(f"   {ms:6.3f} ms  {'#' * max(round(ms / STEP), 0):<14} {part}")
    validation = parts.get(VALIDATION, 0.0)
    floor = ceiling_ms + waited + validation
    lines.append(
        f"   what the stack itself needs: bare Flask's POST {ceiling_ms:.2f} ms + validation by "
        f"marshmallow {validation:.2f} ms + the wait for the disk {waited:.2f} ms (an fsync "
        f"alone {fsync_ms:.2f} ms p50 on this disk) = {floor:.2f} ms of the {target_ms:.2f} ms "
        f"allowed: {max(target_ms - floor, 0):.2f} ms left for the rest of Roster's work "
        f"(token, store, change feed, rendering, logs), which takes "
        f"{work - validation:.2f} ms here"
    )
    verdict = "over" if unsynced_ms > target_ms else "within"
    lines.append(
        f"   with no fsync at all a POST takes {unsynced_ms:.2f} ms, {verdict} the "
        f"{target_ms:.2f} ms the targets allow: "
        + (
            "the gap is Python work, not the disk"
            if verdict == "over"
            else "the disk's wait decides whether they pass"
        )
    )
    return "\n".join(lines)
