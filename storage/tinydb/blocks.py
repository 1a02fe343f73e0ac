"""When a write of the embedded store becomes durable and visible (a part of
``storage.tinydb.store.TinyStore``, see ``storage.tinydb.base``).

A write is journaled and applied under the writer lock (``TinyStore._commit``); then, outside
it, its thread waits for the group fsync that covers its record (``storage.tinydb.durable``)
before its events are shown and it is acknowledged (``_settle``). A failed fsync takes back
every write not durable (``_take_back``). ``batch()`` defers that wait to the end of a block
(one fsync for a /Bulk request); ``atomic()`` holds a block's writes back
(``storage.tinydb.staging``) and journals them as one record, and the block's own reads see
them (``_rows``, ``_row``). Kept apart from the write path itself because it is about when,
not what: the order of its lock acquisitions is the store's (``_lock`` then ``_view``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from storage.errors import StoreUnavailable
from storage.tinydb.base import Base
from storage.tinydb.staging import Staged


class Blocks(Base):
    """Settling writes, and the ``batch()`` and ``atomic()`` blocks."""

    def _settle(self) -> None:
        """Wait until this thread's last write is durable, then show its events (and every
        one before them: they are in earlier records). On a failed fsync, take back every
        write not durable (``storage.tinydb.durable``) and raise."""
        waiting = getattr(self._local, "waiting", None)
        if waiting is None:
            return
        self._local.waiting = None
        journal, target, seq = waiting
        try:
            self._group.wait(journal, target)
        except StoreUnavailable:
            with self._lock:
                self._take_back(journal.synced)
            raise
        with self._view:
            published = self._feed.publish(seq)
        if published:
            self._feed.notify()
        if self._journal.size >= self._compact_after:
            with self._lock:
                self._start_compaction()

    def _take_back(self, synced: int) -> None:
        """Undo in memory the writes whose records are not durable (numbered ``synced`` or
        later). Caller holds ``_lock``."""
        with self._view:
            for undo in self._pending.take(synced):
                for table, key, old in reversed(undo):
                    self._put(table, key, old)
            self._feed.discard_after(self._feed.durable)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make this thread's writes inside the block durable together (``Store.batch``)."""
        # One fsync for every write of the block: the journal is appended as usual, and
        # synced when the block ends (also when it raises: what was applied must be durable
        # before anything is answered). Its events reach readers only after that fsync (or
        # an earlier one of another thread's write): see ``storage.tinydb.feed``.
        self._batching.depth = getattr(self._batching, "depth", 0) + 1
        try:
            yield
        finally:
            self._batching.depth -= 1
            if not self._batching.depth:
                self._end_batch()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Make this thread's writes inside the block one journal record (``Store.atomic``)."""
        if getattr(self._atomic, "staged", None) is not None:  # part of the outer block
            yield
            return
        staged = self._atomic.staged = Staged()
        try:
            yield
            self._atomic.staged = None
            if staged.locked:  # it wrote: one journal record, as one write
                self._commit(staged.writes(), **(staged.events or {}))
        finally:
            self._atomic.staged = None
            if staged.locked:
                self._lock.release()

    def _rows(self, table: str) -> dict:
        """The table as this thread sees it: with its atomic block's writes, if in one."""
        staged = getattr(self._atomic, "staged", None)
        rows = self._tables[table]
        return staged.rows(table, rows) if staged is not None else rows

    def _row(self, table: str, key: str) -> dict | None:
        """The record under ``key`` as this thread sees it (see ``_rows``)."""
        staged = getattr(self._atomic, "staged", None)
        rows = self._tables[table]
        return staged.get(table, key, rows) if staged is not None else rows.get(key)

    def _end_batch(self) -> None:
        with self._lock:  # every record appended so far: the block's, and any before them
            self._local.waiting = (self._journal, self._journal.number, self._feed.last)
        self._settle()

    def _sync(self) -> bool:
        """Make every record appended so far durable (an open batch's of any thread too) and
        show their events; return whether any were shown. Caller holds ``_lock``."""
        try:
            self._group.wait(self._journal, self._journal.number)
        except StoreUnavailable:
            self._take_back(self._journal.synced)
            raise
        with self._view:
            return self._feed.publish()
