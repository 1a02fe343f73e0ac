"""The PostgreSQL store's change feed: recording a write's events in its transaction, reading
them back in ``seq`` order, pruning, and waking long-polling readers of every process.

Ordering. ``roster_record_events`` (``storage.postgres.pg_schema``, migration 3) takes a
transaction-level advisory lock, draws the events' seqs and inserts them, as the last statement
before COMMIT; the lock is released only once the commit is visible. So transactions that record
events commit one at a time, in seq order, whichever process runs them: once a reader sees
seq N, every event below N is visible or never will be (its transaction rolled back), and no
new event can appear below N. The cost: such commits take turns on the WAL flush, as the
embedded store's writes take turns on its journal's fsync; inside a batch (a /Bulk request)
they do not wait for it, and readers make what they show durable first (``make_durable``).

Waking. The function also NOTIFYs ``roster_events``; each process that has a reader waiting
keeps one connection LISTENing (``Listener``), so a commit in any process wakes readers in all
of them. If that connection is lost, waiting readers fall back to polling once a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial

import psycopg
from psycopg.types.json import Jsonb

from storage.errors import CursorExpired, StoreError
from storage.feedpage import select, window_size
from storage.postgres import pg_pool
from storage.postgres.background import BackgroundJob
from storage.postgres.pg_pool import first_line
from storage.postgres.pg_schema import scalar

CHANNEL = "roster_events"
# Seconds a waiting reader sleeps before asking the database itself, should no notification
# come (a lost LISTEN connection); and before a lost one is opened again.
POLL = 1.0

log = logging.getLogger(__name__)


def record(conn: psycopg.Connection, idp: str, events: list[dict]) -> None:
    """Append ``events`` (without ``seq``) in ``conn``'s transaction. Nothing is read back:
    in a held write the statement goes out with the COMMIT, no wait of its own.

    Call it last before the transaction commits: the feed's lock is held from here on. Inside
    ``Store.batch`` the commit does not wait for the WAL flush: a reader makes what it is
    about to show durable first (``make_durable``)."""
    if events:
        conn.execute("SELECT roster_record_events(%s, %s)", [idp, Jsonb(events)])


def make_durable(conn: psycopg.Connection) -> None:
    """Return once every transaction committed so far is durable (``conn`` in autocommit).

    Events must never be shown before they are durable: a crash would take them away, and
    their seqs would be drawn again for other events, behind the cursor of a reader who saw
    them. A held write commits without waiting for the WAL flush (it waits right after,
    out of the feed's lock: ``PostgresStore._begin``), and so does every write of a batch
    (``Store.batch``), whose end waits once; a reader about to show events calls this first
    (``pg_pool.DURABLE``). One round trip; no wait for the disk when the WAL is flushed
    already."""
    conn.execute(pg_pool.DURABLE)


def last_seq(conn: psycopg.Connection) -> int:
    """The newest seq recorded (or pruned)."""
    return scalar(
        conn.execute(
            "SELECT greatest((SELECT max(seq) FROM events),"
            " (SELECT pruned_through FROM event_feed))"
        )
    )


def _with_seq(seq: int, doc: dict) -> dict:
    doc["seq"] = seq
    return doc


def read(
    conn: psycopg.Connection, after: int, limit: int, types=None, idp=None
) -> tuple[list[dict], int, bool]:
    """Return (events, next_after, has_more) after ``after`` (see ``storage.feedpage.select``).

    Raises CursorExpired when events after ``after`` were pruned."""
    size = window_size(limit, types, idp)
    if types is None and idp is None:
        # One statement, one snapshot: the pruning mark and the page agree.
        rows = conn.execute(
            "SELECT f.pruned_through, e.seq, e.doc FROM event_feed f LEFT JOIN LATERAL"
            " (SELECT seq, doc FROM events WHERE seq > %s ORDER BY seq LIMIT %s) e ON true"
            " ORDER BY e.seq",
            [after, size],
        ).fetchall()
        _check(after, rows[0][0])
        window = [_with_seq(seq, doc) for _, seq, doc in rows if seq is not None]
        return select(window, after, limit)
    # Filters are applied to the small columns first; only the page's documents are read.
    rows = conn.execute(
        "SELECT f.pruned_through, e.seq, e.type, e.idp FROM event_feed f LEFT JOIN LATERAL"
        " (SELECT seq, type, idp FROM events WHERE seq > %s ORDER BY seq LIMIT %s) e ON true"
        " ORDER BY e.seq",
        [after, size],
    ).fetchall()
    floor = rows[0][0]
    _check(after, floor)
    window = [
        {"seq": seq, "type": type, "idp": {"id": owner}}
        for _, seq, type, owner in rows
        if seq is not None
    ]
    page, next_after, more = select(window, after, limit, types, idp)
    wanted = [event["seq"] for event in page]
    docs = conn.execute(
        "SELECT seq, doc FROM events WHERE seq = ANY(%s) ORDER BY seq", [wanted]
    ).fetchall()
    if len(docs) < len(wanted):  # pruned between the two statements
        raise CursorExpired(max(floor, wanted[0]))
    return [_with_seq(seq, doc) for seq, doc in docs], next_after, more


def _check(after: int, pruned_through: int) -> None:
    if after < pruned_through:
        raise CursorExpired(pruned_through)


def for_resource(conn: psycopg.Connection, kind: str, idp: str, id: str, limit: int) -> list:
    """The newest ``limit`` events about one resource, newest first."""
    prefix = "user.%" if kind == "User" else "group.%"
    rows = conn.execute(
        "SELECT seq, doc FROM events WHERE resource_id = %s AND idp = %s AND type LIKE %s"
        " ORDER BY seq DESC LIMIT %s",
        [id, idp, prefix, limit],
    ).fetchall()
    return [_with_seq(seq, doc) for seq, doc in rows]


def prune(conn: psycopg.Connection, cutoff: str) -> int:
    """Delete the events up to the newest one that occurred by ``cutoff``, as one prefix of
    the feed (clocks of several processes may disagree a little); return the mark."""
    # The usual answer, from the primary key alone: the oldest event is recent, nothing to do.
    oldest = conn.execute("SELECT occurred_at FROM events ORDER BY seq LIMIT 1").fetchone()
    if oldest is not None and oldest[0] <= cutoff:
        # One statement: the events and the mark go together.
        conn.execute(
            "WITH gone AS (DELETE FROM events WHERE seq <= (SELECT max(seq) FROM events"
            " WHERE occurred_at <= %s) RETURNING seq)"
            " UPDATE event_feed SET pruned_through ="
            " greatest(pruned_through, (SELECT max(seq) FROM gone))"
            " WHERE EXISTS (SELECT 1 FROM gone)",
            [cutoff],
        )
    return scalar(conn.execute("SELECT pruned_through FROM event_feed"))


class Listener:
    """One LISTEN connection per process, started by the first waiting reader: counts the
    notifications of new events, and wakes the readers waiting on ``changed``."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.count = 0
        self.changed = threading.Condition()
        self.listening = threading.Event()
        self.waiting = 0  # readers in ``wait`` (tests watch it)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="roster-listen", daemon=True)
        self._thread.start()

    def bump(self) -> None:
        """Count a new event and wake the waiting readers (a commit of this process calls it
        too, without waiting for its own notification to come back)."""
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def _counted_since(self, mark: int) -> bool:
        """Whether an event was counted since ``count`` was ``mark``."""
        return self.count != mark

    def wait(self, newer: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``newer()`` holds (it asks the database), for up to ``timeout`` seconds.

        It is asked again after each notification, and at least every ``POLL`` seconds: never
        in a busy loop."""
        deadline = time.monotonic() + timeout
        self.listening.wait(min(timeout, POLL))  # a notification sent before is not seen
        with self.changed:
            self.waiting += 1
        try:
            while True:
                mark = self.count
                if newer():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                with self.changed:
                    self.changed.wait_for(partial(self._counted_since, mark), min(left, POLL))
        finally:
            with self.changed:
                self.waiting -= 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, **pg_pool.connect_options(self.dsn)) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self.bump()  # what was committed while not listening is looked at now
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=POLL):
                            self.bump()
            except psycopg.Error as exc:
                self.listening.clear()
                # A lost server explains itself; anything else is worth its traceback.
                outage = isinstance(exc, psycopg.OperationalError)
                log.warning(
                    "listening for change events failed; retrying: %s",
                    first_line(exc),
                    exc_info=not outage,
                )
                self._stop.wait(POLL)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * POLL + 5)


class Pruner:
    """Prunes events past the retention period in the background, at most once per ``every``
    seconds per process, when a write has recorded events (as ``Analyzer`` runs ANALYZE)."""

    def __init__(self, run: Callable[[], int], every: float = 60.0):
        self._run = run
        self._every = every
        self._next = time.monotonic() + every  # not at a process's first write: a minute on
        self._lock = threading.Lock()
        self._job = BackgroundJob(self._prune, "roster-prune")

    def written(self) -> None:
        with self._lock:
            if time.monotonic() < self._next or not self._job.start():
                return
            self._next = time.monotonic() + self._every

    def _prune(self) -> None:
        try:
            self._run()
        except (StoreError, psycopg.OperationalError) as exc:  # the next write tries again
            log.warning("pruning change events failed: %s", first_line(exc))
        except Exception:  # a closed pool, or a bug: with its traceback
            log.warning("pruning change events failed", exc_info=True)

    def wait(self) -> None:
        """Wait for a running pruning to finish."""
        self._job.join()
