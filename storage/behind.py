"""The request log written behind the requests: ``AppendBehind`` hands each entry to a thread
of its own, so that a request never waits for the log's file or its database row.

Entries wait in a bounded queue; when it is full a request waits for room rather than drop
one. A reader (the console's Activity, ``flask log``) first waits until every entry appended
before it asked is written, so it never misses a request answered before it. ``close`` writes
what is queued, then stops the thread: ``python app.py`` closes it on SIGTERM and Ctrl-C. What
a ``kill -9`` cuts off is the queue (entries of the last moments), as a machine crash could
always cut the file's last lines.

Under traffic the writer wakes every ``WAKE_EVERY`` seconds and writes what came meanwhile,
rather than being woken by each request: waking it cost every request a thread switch (about
5 % of a sequential POST in ``bench/``). After a round that brought nothing it sleeps until
the next entry wakes it. What a round brings is written in one go where the log can (the
PostgreSQL log: one INSERT for all of them, ``append_many``).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

from storage.tinydb.requestlog import RequestLog

if TYPE_CHECKING:  # the PostgreSQL log is imported only with PostgreSQL
    from storage.postgres.requestlog import DatabaseRequestLog

# Entries that may wait: a few seconds of the busiest traffic, a few MB at most.
QUEUE = 10_000
# Seconds an entry may wait for the writer under traffic (a reader never waits for it).
WAKE_EVERY = 0.05
# The most entries written in one go (``_write``): one statement's worth.
BATCH = 500


class AppendBehind:
    """A ``RequestLog`` or ``DatabaseRequestLog`` whose ``append`` returns at once."""

    def __init__(self, log: RequestLog | DatabaseRequestLog, size: int = QUEUE):
        self.log = log
        self.size = log.size
        self.in_store = log.in_store
        self._limit = size
        # Entries, then flush markers (an Event) and the stop marker (None), in order. A deque
        # is appended to and popped from without a lock; ``_changed`` is for waiting.
        self._queue: deque = deque()
        self._changed = threading.Condition()
        self._urgent = False  # a reader, close or a full queue wants the writer now
        self._asleep = False  # the writer waits for the next entry, not for the next round
        self._blocked = 0  # requests waiting for room
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    @property
    def failures(self):
        """The log's failures, counted up to every entry appended so far."""
        if threading.current_thread() is not self._thread:
            self.flush()
        return self.log.failures

    def _start(self) -> None:
        # Started by the first entry: a CLI command that logs nothing starts no thread.
        with self._starting:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="roster-requestlog", daemon=True
                )
                self._thread.start()

    def append(self, idp: str, entry: dict) -> None:
        """Queue one request of ``idp`` for the log; waits only while the queue is full."""
        if self._thread is None:
            self._start()
        if len(self._queue) >= self._limit:
            with self._changed:
                self._blocked += 1
                self._urgent = True
                self._changed.notify_all()
                self._changed.wait_for(lambda: len(self._queue) < self._limit)
                self._blocked -= 1
        self._queue.append((idp, entry))
        if self._asleep:  # read after the append: see _wait
            self._wake()

    def _wake(self) -> None:
        with self._changed:
            self._urgent = True
            self._changed.notify_all()

    def _wait(self, idle: bool) -> None:
        """Wait for the next round; once a round brought nothing (``idle``), for the next
        entry instead (an idle server's writer does not wake every round)."""
        with self._changed:
            if not idle:
                self._changed.wait_for(lambda: self._urgent, timeout=WAKE_EVERY)
            else:
                # ``_asleep`` is set before the queue is looked at and read by ``append``
                # after it appends: an entry is either seen here or wakes the writer.
                self._asleep = True
                if not self._queue:
                    self._changed.wait_for(lambda: self._urgent)
                self._asleep = False
            self._urgent = False

    def _run(self) -> None:
        idle = False
        while True:
            self._wait(idle)
            idle = not self._queue
            entries: list = []
            while self._queue:
                item = self._queue.popleft()
                if self._blocked:
                    with self._changed:
                        self._changed.notify_all()  # room for the requests waiting
                if item is not None and not isinstance(item, threading.Event):
                    entries.append(item)
                    if len(entries) < BATCH:
                        continue
                self._write(entries)  # before a marker: it stands after them
                entries = []
                if item is None:
                    return
                if isinstance(item, threading.Event):
                    item.set()  # everything queued before it is written
            self._write(entries)

    def _write(self, entries: list) -> None:
        """Write ``entries``: in one go to a log that takes several at once (the PostgreSQL
        log: one statement for all), else one by one."""
        if len(entries) > 1 and hasattr(self.log, "append_many"):
            try:
                self.log.append_many(entries)  # never raises: failures are counted
            except Exception as exc:  # the thread must outlive anything an entry does
                self.log.failures.record(exc)
            return
        for idp, entry in entries:
            try:
                self.log.append(idp, entry)  # never raises: failures are counted
            except Exception as exc:  # the thread must outlive anything an entry does
                self.log.failures.record(exc)

    def flush(self) -> None:
        """Return once every entry appended before this call is written."""
        if self._thread is None:
            return
        written = threading.Event()
        self._queue.append(written)
        self._wake()
        written.wait()

    def entries(self, idp: str, *, errors_only: bool = False, limit: int | None = None) -> list:
        """Return ``idp``'s entries, newest first, every request answered so far included."""
        self.flush()
        return self.log.entries(idp, errors_only=errors_only, limit=limit)

    def forget(self, idp: str) -> None:
        """Delete ``idp``'s log, after what is queued for it."""
        self.flush()
        self.log.forget(idp)

    def close(self) -> None:
        """Write what is queued, stop the thread, close the log's files."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.append(None)
            self._wake()
            thread.join()
        self._thread = None
        if isinstance(self.log, RequestLog):
            self.log.close()
