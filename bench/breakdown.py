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
VALIDATION = "validation (marshmallow)"
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
    (VALIDATION, "load_resource (scim/core/models.py"),
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


def per_request(parts: Counter, requests: int) -> dict[str, float]:
    """The busy time per request of each part, in ms (py-spy's own cost included)."""
    return {part: count / RATE / requests * 1000 for part, count in parts.most_common()}


def budget(
    spied: dict,
    post_ms: float,
    ceiling_ms: float,
    target_ms: float,
    fsync_ms: float,
    unsynced_ms: float | None = None,
) -> str:
    """Where each 0.1 ms of a sequential POST goes, against the time the targets allow.

    A POST's mean ``post_ms`` is bare Flask's POST (``ceiling_ms``: the client, loopback,
    waitress and Flask doing no work) plus Roster's own time. With ``unsynced_ms`` (the same
    POSTs on a Roster whose fsync does nothing, ``bench/unsynced``) the wait for the disk is
    measured: ``post_ms - unsynced_ms``. A sampler stretches a blocking call, so py-spy's
    shares (``spied``: ``per_request`` parts) split only the rest, ``unsynced_ms -
    ceiling_ms``, between Roster's parts that run Python (the Flask and waitress parts count
    as bare Flask's own, and what Roster's hooks add to them is spread over the rest).
    Without ``unsynced_ms`` the fsync too is split by its share, which overstates it.
    ``target_ms``: the most a POST may take to meet every target; ``fsync_ms``: an append
    and fsync's p50 on this disk, timed alone."""
    measured = unsynced_ms is not None
    own = {
        part: ms
        for part, ms in spied["parts"].items()
        if part not in SHARED and not (measured and "fsync" in part)
    }
    total = sum(own.values()) or 1.0
    work = max((unsynced_ms if measured else post_ms) - ceiling_ms, 0.0)
    rows = [(part, work * ms / total) for part, ms in own.items()]
    rows.append(("bare Flask's POST: client, loopback, waitress, Flask", ceiling_ms))
    waited = max(post_ms - unsynced_ms, 0.0) if measured else 0.0
    if measured:
        rows.append(("waiting for the fsync (measured: the same POSTs with it a no-op)", waited))
    else:
        waited = sum(ms for part, ms in rows if "fsync" in part)
        work -= waited
    how = "with fsync a no-op, by py-spy's shares" if measured else "by py-spy's shares"
    lines = [
        f"where a sequential POST's {post_ms:.2f} ms go, one mark per {STEP} ms (Roster's "
        f"{work:.2f} ms of work over bare Flask split {how}); the targets allow "
        f"{target_ms:.2f} ms: {post_ms - target_ms:+.2f} ms to go"
    ]
    for part, ms in sorted(rows, key=lambda row: -row[1]):
        lines.append(f"   {ms:6.3f} ms  {'#' * round(ms / STEP):<14} {part}")
    validation = dict(rows).get(VALIDATION, 0.0)
    floor = ceiling_ms + waited + validation
    lines.append(
        f"   what the stack itself needs: bare Flask's POST {ceiling_ms:.2f} ms + validation by "
        f"marshmallow {validation:.2f} ms + the wait for the disk {waited:.2f} ms (an fsync "
        f"alone {fsync_ms:.2f} ms p50 on this disk) = {floor:.2f} ms of the {target_ms:.2f} ms "
        f"allowed: {max(target_ms - floor, 0):.2f} ms left for the rest of Roster's work "
        f"(token, store, change feed, rendering, logs), which takes "
        f"{work - validation:.2f} ms here"
    )
    if measured:
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
