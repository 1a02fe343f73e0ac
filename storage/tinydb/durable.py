"""Group commit for the embedded store (``storage.tinydb.store``): the fsyncs of concurrent
writers made one.

A writer appends its journal record and applies it in memory under the store's writer lock,
as always, but waits for the fsync after releasing the lock. While one thread (the leader)
fsyncs, the others append their records behind it and queue on ``GroupSync``; the next
leader's fsync then makes all of theirs durable at once. Every write is still durable before
it is answered: a writer returns only once an fsync that began after its append succeeded.

Readers may see a write in the moment between its append and its fsync (as they see a
``Store.batch`` write before the batch ends); change events stay hidden until the record
holding them is durable (``storage.tinydb.feed``). If that fsync fails, every write not yet
durable is answered with an error and taken back out of memory (``Pending``), so the store
shows what the journal can be trusted to hold, and the journal refuses writes until a
restart (``storage.tinydb.journal.Journal``).
"""

from __future__ import annotations

import threading
from collections import deque

from storage.tinydb.journal import Journal

# (table, key, the document before the write or None): how to take one write back.
Undo = list[tuple[str, str, dict | None]]


class Pending:
    """The writes applied in memory whose journal records may not be durable yet, each with
    the record number that must be synced (``Journal.synced``) for it to be durable."""

    def __init__(self) -> None:
        self._writes: deque[tuple[int, Undo]] = deque()

    def add(self, target: int, undo: Undo) -> None:
        """Remember a write (under the store's writer lock, in record order)."""
        self._writes.append((target, undo))

    def settled(self, synced: int) -> None:
        """Forget the writes that are durable now."""
        writes = self._writes
        while writes and writes[0][0] <= synced:
            writes.popleft()

    def take(self, synced: int) -> list[Undo]:
        """Hand over, newest first, the writes that are not durable (to take back after a
        failed fsync), and forget them all."""
        writes = [undo for target, undo in self._writes if target > synced]
        self._writes.clear()
        return writes[::-1]


class GroupSync:
    """Makes journal records durable, one fsync for every writer waiting at the time."""

    def __init__(self, pending: Pending) -> None:
        self._leader = threading.Lock()
        self._pending = pending

    def wait(self, journal: Journal, target: int) -> None:
        """Return once every record of ``journal`` numbered below ``target`` is durable;
        raise ``StoreUnavailable`` if the fsync that should make them so fails."""
        while journal.synced < target:
            with self._leader:
                # Behind a leader whose fsync began after this writer appended: done.
                if journal.synced >= target:
                    return
                journal.sync()  # everything appended so far, other writers' records too
                self._pending.settled(journal.synced)
