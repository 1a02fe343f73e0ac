"""The embedded backend: the whole store in memory, made durable by a TinyDB snapshot plus an
append-only journal (see ``storage.tinydb.files``), with indexes for every hot lookup.

Why not TinyDB's table API on every request? It rewrites the whole file per write and scans
every document per query, so both grow with the store. Here a write costs one fsynced journal
line, whatever the size of the store (and a membership change, whatever the size of the
group); the snapshot (a plain TinyDB file people can read and back up) is rewritten only when
the journal has grown, in the background.

Concurrency (waitress runs several threads) uses two locks:

- ``_lock`` serialises writers. Every write goes through ``_commit`` while holding it, so
  uniqueness checks, version checks and the write are one step. The write's fsync is waited
  for after the lock is released (``_writing``), one fsync for every writer waiting then
  (group commit, ``storage.tinydb.durable``).
- ``_view`` is held only while a committed write is applied to the in-memory tables and
  indexes (microseconds), and by readers while they take references to several documents.
  Readers therefore see each write whole, and never wait for a writer's fsync.

Stored documents are never mutated in place (a write replaces them), so a reader holding a
reference always sees a whole document; callers get copies.

Change events (``scim.core.events``) are ops of the journal line of the write that caused
them, and live in memory in ``storage.tinydb.feed.Feed``.

This module holds what every write shares: loading, the one write path (``_commit``) and the
writer lock (``_writing``). ``TinyStore`` is composed of one part per concern, each in a
module of its own, all working on the state declared in ``storage.tinydb.base``:

- ``resources``: Users and Groups (reads, queries, create, update, delete, ``delete_idp``);
- ``records``: the record tables (IdPs, tokens, holds, webhooks and their deliveries);
- ``trail``: the audit trail;
- ``events``: the change feed's side of a write (events drafted and stamped), its reads and
  its pruning;
- ``blocks``: when a write becomes durable and visible: settling after the group fsync,
  ``batch()`` and ``atomic()``;
- ``operations``: compaction, backup, health, stats and closing.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from storage.errors import StoreUnavailable
from storage.interface import (
    AUDIT_TABLE,
    RECORD_TABLES,
    RESOURCE_KINDS,
    Store,
)
from storage.stamps import cutoff, now
from storage.tinydb import files, journal
from storage.tinydb import folder as folders
from storage.tinydb.backlog import DELIVERIES, Backlog
from storage.tinydb.base import Base, Op
from storage.tinydb.blocks import Blocks
from storage.tinydb.durable import GroupSync, Pending, Undo
from storage.tinydb.events import Events
from storage.tinydb.feed import EVENTS, STATE, Feed
from storage.tinydb.indexes import Indexes
from storage.tinydb.operations import Operations
from storage.tinydb.ready import Readiness
from storage.tinydb.records import Records
from storage.tinydb.resources import Resources
from storage.tinydb.trail import Trail

log = logging.getLogger(__name__)

# Compact the journal into a new snapshot once it holds this many bytes.
COMPACT_AFTER_BYTES = 64 * 1024 * 1024
# Journal a Group write as a membership change once the group has this many members.
DELTA_MEMBERS = 64
# Once loaded, a store with more documents than this is frozen out of the cyclic collector.
FREEZE_AFTER = 10_000
# The most audit entries kept (they live in memory like everything else); the oldest go first.
AUDIT_LIMIT = 100_000


class TinyStore(Resources, Records, Trail, Events, Blocks, Operations, Base):
    """A ``storage.interface.Store`` kept in a data folder."""

    def __init__(
        self,
        folder: str | Path,
        *,
        compact_after: int = COMPACT_AFTER_BYTES,
        retention_days: float = 30,
        record_events: bool = True,
    ):
        self.folder = Path(folder)
        self._compact_after = compact_after
        self._retention = timedelta(days=retention_days)
        # Off only for the benchmark, which measures what recording events costs.
        self._record_events = record_events
        self._next_prune = 0.0
        self._lock = threading.RLock()
        self._view = threading.Lock()
        self._batching = threading.local()  # depth of batch() blocks, per thread
        self._atomic = threading.local()  # the writes of this thread's atomic() block
        # Per thread: depth of _writing() blocks, and the record the last write must wait for.
        self._local = threading.local()
        self._pending = Pending()
        self._group = GroupSync(self._pending)
        self._compacting: threading.Thread | None = None
        self._compact_error: Exception | None = None
        self._compactions = self._compaction_failures = 0
        self._folder_lock = files.FolderLock(self.folder)
        self._readiness = Readiness(self.folder, self._folder_lock)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"cannot create the data folder {self.folder}: {exc}") from exc
        self._folder_lock.acquire()
        try:
            self._load()
        except BaseException:
            self._folder_lock.release()
            raise

    # --- loading and indexes -----------------------------------------------------------------

    def _load(self) -> None:
        tables = (*RESOURCE_KINDS, *RECORD_TABLES, AUDIT_TABLE)
        self._tables: files.Tables = {name: {} for name in tables}
        self._indexes = Indexes()
        self._backlog = Backlog()
        self._feed = Feed()
        # Loading allocates millions of objects without a single reference cycle: the cyclic
        # garbage collector would run hundreds of times for nothing (a third of the start-up).
        collecting = gc.isenabled()
        gc.disable()
        try:
            found = folders.replay(self.folder, self._load_snapshot, self._apply)
        finally:
            if collecting:
                gc.enable()
        for torn in found.torn:
            log.warning("dropped %s (a crash interrupted its write)", torn.describe())
        if sum(len(rows) for rows in self._tables.values()) > FREEZE_AFTER:
            # Every full collection walks every tracked object: half a second at 100,000
            # users, a pause for whichever requests are running. Documents are trees (freed
            # by reference counting when replaced), so move what is loaded out of its way.
            gc.freeze()
        if found.new:
            folders.create(self.folder, {})
        else:
            # What was replayed reaches readers, so it must be durable: a batch of the process
            # before may have left records written but not fsynced.
            folders.sync_segments(self.folder)
        with self._view:
            self._feed.publish()
        self._journal: journal.Journal = journal.Journal(
            self.folder, found.next_segment, found.next_record, self._folder_lock
        )
        if found.manifest is None and not found.new:
            try:
                self._upgrade()
            except BaseException:
                self._journal.close()
                raise

    def _load_snapshot(self, tables: files.Tables) -> None:
        for table, rows in tables.items():
            for key, doc in rows.items():
                self._put(table, key, doc)

    def _apply(self, ops: list) -> None:
        """Apply one journaled transaction while loading (whole, or not at all)."""
        files.missing_base(self._tables, ops)
        for op in ops:
            if len(op) == 3:  # a whole document, or a deletion
                self._put(*op)
            else:  # a membership change: applied to the group as it stands
                old = self._tables[op[0]].get(op[1])
                self._put(op[0], op[1], files.resolve(op, old), op[3])

    def _put(self, table: str, key: str, doc: dict | None, delta: dict | None = None) -> None:
        """Make ``doc`` the document under ``key`` (None deletes) and update the indexes.

        ``delta``: the membership change of a delta op, when ``doc`` was written as one."""
        if table in (EVENTS, STATE):  # the change feed's ops: on load as on commit
            self._feed.put(table, key, doc)
            return
        rows = self._tables.setdefault(table, {})
        old = rows.get(key)
        if doc is None:
            if old is None:
                return
            del rows[key]
        else:
            rows[key] = doc
        if table in RESOURCE_KINDS:
            self._indexes.update(table, key, old, doc, delta)
        elif table == DELIVERIES:
            self._backlog.update(key, old, doc)

    # --- the one write path ------------------------------------------------------------------

    def _op(self, table: str, key: str, doc: dict | None) -> list:
        """The journal op of one write: a membership delta for a large Group when it can be."""
        if table == "Group":
            old = self._tables[table].get(key)
            delta = files.delta_op(table, key, old, doc, DELTA_MEMBERS)
            if delta is not None:
                return delta
        return [table, key, doc]

    def _commit(
        self,
        writes: list[Op],
        drafts: Sequence[dict] = (),
        *,
        idp: str | None = None,
        source: dict | None = None,
        at: str | None = None,
        ops: list[list] | None = None,
        released: Sequence[dict] = (),
    ) -> None:
        """Make ``writes`` and the events of ``drafts`` durable in one journal line, then
        visible together. Caller holds ``_lock``; ``ops``: the writes' ops, if already made;
        ``released``: events stamped earlier (held ones), recorded after ``drafts``.
        Inside ``atomic()`` the write is held back for the block's one journal record."""
        staged = getattr(self._atomic, "staged", None)
        if staged is not None:
            if not staged.locked:
                # From its first write to its end, the block holds the writer lock (the caller
                # holds it now): no other write comes between what it read and its record.
                # Before it (a password hashed, say) other writers go on.
                self._lock.acquire()
                staged.locked = True
            staged.add(writes, drafts, released, idp=idp, source=source, at=at)
            return
        ops = ops or [self._op(*write) for write in writes]
        feed = self._events(drafts, idp, source, at or now())
        feed += self._released(released, self._feed.next_seq() + len(feed))
        if feed:
            feed += self._prune_ops()
        # Outside a _writing() block or a batch, the fsync is made here, under the lock.
        inline = not getattr(self._local, "depth", 0) and not getattr(self._batching, "depth", 0)
        journal = self._journal
        journal.append(ops + feed, sync=inline)
        if not inline:  # applied before it is durable: kept to take back if its fsync fails
            self._pending.add(journal.number, self._undo(writes))
        with self._view:
            for (table, key, doc), op in zip(writes, ops, strict=True):
                self._put(table, key, doc, op[3] if len(op) > 3 else None)
            for table, key, doc in feed:
                self._put(table, key, doc)
            # An fsync makes every record before it durable, a batch's too: show their events.
            published = inline and self._feed.publish()
        if published:
            self._feed.notify()
        if not inline:
            self._local.waiting = (journal, journal.number, self._feed.last)
            return
        self._pending.settled(journal.synced)
        if self._journal.size >= self._compact_after:
            self._start_compaction()

    def _undo(self, writes: list[Op]) -> Undo:
        return [(table, key, self._tables[table].get(key)) for table, key, _ in writes]

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the writer lock for a write, then wait outside it until the write is durable
        (group commit: writers arriving during one fsync share the next)."""
        local = self._local
        local.depth = getattr(local, "depth", 0) + 1
        try:
            with self._lock:
                yield
        finally:
            local.depth -= 1
        if not local.depth and not getattr(self._batching, "depth", 0):
            self._settle()

    # --- settings read at each use (tests patch them on this module) --------------------------

    def _cutoff(self) -> str:
        """The change feed's retention cut-off, now (``storage.stamps.cutoff``)."""
        return cutoff(self._retention)

    def _audit_limit(self) -> int:
        """The most audit entries kept (``AUDIT_LIMIT``)."""
        return AUDIT_LIMIT


if TYPE_CHECKING:  # mypy holds the class to the contract; nothing runs here
    _: type[Store] = TinyStore
