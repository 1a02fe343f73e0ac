"""The embedded backend: the whole store in memory, made durable by a TinyDB snapshot plus an
append-only journal (see ``storage.tinydb.files``), with indexes for every hot lookup.

Why not TinyDB's table API on every request? It rewrites the whole file per write and scans
every document per query, so both grow with the store. Here a write costs one fsynced journal
line, whatever the size of the store (and a membership change, whatever the size of the
group); the snapshot (a plain TinyDB file people can read and back up) is rewritten only when
the journal has grown, in the background.

Concurrency (waitress runs several threads) uses two locks:

- ``_lock`` serialises writers. Every write goes through ``_commit`` while holding it, so
  uniqueness checks, version checks and the write are one step.
- ``_view`` is held only while a committed write is applied to the in-memory tables and
  indexes (microseconds), and by readers while they take references to several documents.
  Readers therefore see each write whole, and never wait for a writer's fsync.

Stored documents are never mutated in place (a write replaces them), so a reader holding a
reference always sees a whole document; callers get copies.

Change events (``scim.core.events``) are ops of the journal line of the write that caused
them, and live in memory in ``storage.tinydb.feed.Feed``.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, cast

from scim.core import events as changes
from storage.clone import clone, clone_resource
from storage.errors import Conflict, NotFound, StoreUnavailable, VersionMismatch
from storage.feedpage import select, window_size
from storage.interface import (
    AUDIT_TABLE,
    RECORD_TABLES,
    RESOURCE_KINDS,
    UNIQUE,
    Screen,
    Store,
    audit_matches,
    fold,
)
from storage.query import indexed_lookup, run_query
from storage.stamps import cutoff, new_version, now, stamp
from storage.tinydb import files, journal
from storage.tinydb import folder as folders
from storage.tinydb.feed import EVENTS, STATE, Feed
from storage.tinydb.indexes import Indexes

log = logging.getLogger(__name__)

# Compact the journal into a new snapshot once it holds this many bytes.
COMPACT_AFTER_BYTES = 64 * 1024 * 1024
# Journal a Group write as a membership change once the group has this many members.
DELTA_MEMBERS = 64
# Once loaded, a store with more documents than this is frozen out of the cyclic collector.
FREEZE_AFTER = 10_000
# The most audit entries kept (they live in memory like everything else); the oldest go first.
AUDIT_LIMIT = 100_000
# How often (seconds) a write looks for events older than the retention period to prune.
PRUNE_EVERY = 60.0

Op = tuple[str, str, dict | None]  # (table, key, document or None to delete)


def _stamped(event: dict) -> dict:
    """The stamp of an event stamped earlier, to stamp it again with its seq."""
    return {k: event[k] for k in ("id", "occurred_at", "idp", "source")}


class TinyStore:
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
        self._compacting: threading.Thread | None = None
        self._compact_error: Exception | None = None
        self._compactions = self._compaction_failures = 0
        self._folder_lock = files.FolderLock(self.folder)
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

    def _upgrade(self) -> None:
        """Bring a folder of format 1 (no manifest, no checksums) to the current format: a
        checksummed snapshot of everything, then the manifest. Once, at the first start."""
        with self._lock:
            self._start_compaction()
            worker = self._compacting
        if worker is None:
            raise StoreUnavailable(f"cannot upgrade the data folder {self.folder}: see the log")
        worker.join()
        if self._compact_error is not None:
            raise StoreUnavailable(
                f"cannot upgrade the data folder {self.folder}: {self._compact_error}"
            )
        files.write_manifest(self.folder)
        log.info("upgraded the data folder %s to format %d", self.folder, files.FORMAT)

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
        ``released``: events stamped earlier (held ones), recorded after ``drafts``."""
        ops = ops or [self._op(*write) for write in writes]
        feed = self._events(drafts, idp, source, at or now())
        feed += self._released(released, self._feed.next_seq() + len(feed))
        if feed:
            feed += self._prune_ops()
        self._journal.append(ops + feed, sync=not getattr(self._batching, "depth", 0))
        with self._view:
            for (table, key, doc), op in zip(writes, ops, strict=True):
                self._put(table, key, doc, op[3] if len(op) > 3 else None)
            for table, key, doc in feed:
                self._put(table, key, doc)
            # An fsync makes every record before it durable, a batch's too: show their events.
            published = not self._journal.unsynced and self._feed.publish()
        if published:
            self._feed.notify()
        if self._journal.size >= self._compact_after:
            self._start_compaction()

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

    def _end_batch(self) -> None:
        with self._lock:
            self._journal.sync()
            with self._view:
                published = self._feed.publish()
            if self._journal.size >= self._compact_after:
                self._start_compaction()
        if published:
            self._feed.notify()

    # --- the change feed: events written with the change ---------------------------------------

    def _drafts(self, kind: str, before: dict | None, after: dict | None, idp: str) -> list:
        """The events of one resource write (``scim.core.events``), with what the store knows."""
        if not self._record_events:
            return []
        own = after if after is not None else before
        assert own is not None  # a write has a before or an after, never neither
        # A deletion's version after the change is a new one (see ``changes.drafts``).
        version = new_version() if after is None else None
        groups = self._groups_with(idp, own["id"]) if kind == "User" and before else []
        return changes.drafts(kind, before, after, idp, groups=groups, version=version)

    def _groups_with(self, idp: str, member: str) -> list[dict]:
        """The stored Groups with ``member`` (read-only: for an event's data)."""
        rows = self._tables["Group"]
        return [rows[gid]["data"] for gid in self._indexes.groups_with(idp, member)]

    def _events(
        self, drafts: Sequence[dict], idp: str | None, source: dict | None, at: str
    ) -> list:
        """The journal ops of ``drafts``, each stamped with the next seq (under ``_lock``)."""
        if not drafts:
            return []
        assert idp is not None  # every write that records events is one IdP's
        ref = changes.idp_ref(idp, self._tables["idps"].get(idp))
        first = self._feed.next_seq()
        stamped = [
            changes.stamp(
                draft, id=str(uuid.uuid4()), seq=first + n, occurred_at=at, idp=ref, source=source
            )
            for n, draft in enumerate(drafts)
        ]
        return [[EVENTS, str(event["seq"]), event] for event in stamped]

    def _released(self, events: Sequence[dict], first: int) -> list:
        """The journal ops of events stamped earlier, numbered from ``first`` on."""
        return [
            [EVENTS, str(first + n), changes.stamp(event, seq=first + n, **_stamped(event))]
            for n, event in enumerate(events)
        ]

    def _screened(self, screen, kind: str, before, after, drafts: list) -> tuple[list, list]:
        """Run a write's ``screen`` (see ``storage.interface``): return the events to record
        and the record writes to make with it."""
        if screen is None:
            return drafts, []
        drafts, records = screen(kind, before, after, drafts)
        return drafts, [(table, key, clone(doc) if doc is not None else None)
                        for table, key, doc in records]  # fmt: skip

    def _prune_ops(self) -> list:
        """The op that prunes events past the retention period, once a minute at most: it
        rides on a write's journal line, so pruning costs no fsync of its own."""
        if time.monotonic() < self._next_prune:
            return []
        self._next_prune = time.monotonic() + PRUNE_EVERY
        through = self._feed.expired_through(cutoff(self._retention))
        return [[STATE, "state", {"pruned_through": through}]] if through else []

    def _check_unique(self, kind: str, idp: str, data: dict, own_id: str | None) -> None:
        attribute = UNIQUE[kind]
        folded = fold(data.get(attribute))
        holder = self._indexes.unique.get((kind, idp, folded)) if folded is not None else None
        if holder is not None and holder != own_id:
            # RFC 7644 §3.3: a duplicate is 409 with scimType uniqueness.
            raise Conflict(attribute, data[attribute])

    # --- resources ---------------------------------------------------------------------------

    def _owned(self, kind: str, idp: str, id: str) -> dict | None:
        doc = self._tables[kind].get(id)
        return doc if doc is not None and doc["idp"] == idp else None

    def get(self, kind: str, idp: str, id: str) -> dict | None:
        doc = self._owned(kind, idp, id)
        return clone_resource(doc["data"]) if doc else None

    def get_each(self, kind: str, idp: str, ids: Iterable[str]) -> dict[str, dict]:
        with self._view:
            found = [(id, self._owned(kind, idp, id)) for id in ids]
        return {id: clone_resource(doc["data"]) for id, doc in found if doc is not None}

    def create(
        self,
        kind: str,
        idp: str,
        resource: dict,
        *,
        prepare: Callable[[dict], dict] | None = None,
        source: dict | None = None,
        screen: Screen | None = None,
        id: str | None = None,
    ) -> dict:
        data = clone(resource)
        with self._lock:
            if prepare is not None:
                data = dict(prepare(data))  # the contract hands the result over: no copy
            self._check_unique(kind, idp, data, None)
            if id is not None and any(id in self._tables[k] for k in RESOURCE_KINDS):
                raise Conflict("id", id)
            data["id"] = id or str(uuid.uuid4())
            stamp(kind, data)
            new = {"idp": idp, "data": data}
            drafts = self._drafts(kind, None, data, idp)
            drafts, records = self._screened(screen, kind, None, data, drafts)
            at = data["meta"]["lastModified"]
            writes = [(kind, data["id"], new), *records]
            self._commit(writes, drafts, idp=idp, source=source, at=at)
        return data  # read-only: stored documents are never modified, only replaced

    def update(
        self,
        kind: str,
        idp: str,
        id: str,
        change: Callable[[dict], dict],
        *,
        if_version: str | None = None,
        source: dict | None = None,
        screen: Screen | None = None,
    ) -> dict:
        with self._lock:
            doc = self._owned(kind, idp, id)
            if doc is None:
                raise NotFound(id)
            current = doc["data"]
            if if_version is not None and if_version != current["meta"]["version"]:
                raise VersionMismatch(id)
            # ``change`` reads the stored document itself and hands over what it returns (see
            # the contract): copying a 10,000-member group twice per write cost more than the
            # rest of the write. The shallow copy keeps ``current`` intact if ``change``
            # returned it unchanged.
            data = dict(change(current))
            data["id"] = id
            if changes.unchanged(current, data):
                # Nothing to write (Okta re-sends whole users, Entra known members): no event,
                # and the version stays, so the client's ETag stays valid.
                return current
            self._check_unique(kind, idp, data, id)
            stamp(kind, data, created=current["meta"]["created"])
            new = {"idp": idp, "data": data}
            op = self._op(kind, id, new)
            drafts = self._member_drafts(current, data, idp, op) if kind == "Group" else None
            if drafts is None:
                drafts = self._drafts(kind, current, data, idp)
            drafts, records = self._screened(screen, kind, current, data, drafts)
            at = data["meta"]["lastModified"]
            writes, ops = [(kind, id, new), *records], [op, *(self._op(*r) for r in records)]
            self._commit(writes, drafts, idp=idp, source=source, at=at, ops=ops)
        return data

    def _member_drafts(self, before: dict, after: dict, idp: str, op: list) -> list | None:
        """A Group write's events, with the member ids its journal delta already names (a
        membership PATCH on 10,000 members looks at none of them again); None without one."""
        if not self._record_events:
            return []
        if len(op) <= 3:
            return None
        delta = op[3]["members"]
        removed = list(dict.fromkeys(delta["remove"]))
        gone = set(removed)
        added = [m["value"] for m in delta["add"] if m.get("value") not in gone]
        return changes.drafts("Group", before, after, idp, added=added, removed=removed)

    def delete(
        self,
        kind: str,
        idp: str,
        id: str,
        *,
        if_version: str | None = None,
        source: dict | None = None,
        screen: Screen | None = None,
    ) -> None:
        with self._lock:
            doc = self._owned(kind, idp, id)
            if doc is None:
                raise NotFound(id)
            if if_version is not None and if_version != doc["data"]["meta"]["version"]:
                raise VersionMismatch(id)
            removals = self._membership_removals(idp, [id])
            drafts = self._drafts(kind, doc["data"], None, idp)
            if drafts:
                rows = self._tables["Group"]
                # Its groups lose it before the deletion is recorded: user.deleted is the last
                # word about it. (A removal rewrites its group: ``new`` is never None.)
                drafts[-1:-1] = [
                    draft
                    for _, gid, new in removals
                    for draft in changes.removal_drafts(
                        rows[gid]["data"], cast(dict, new)["data"], idp, id
                    )
                ]
            drafts, records = self._screened(screen, kind, doc["data"], None, drafts)
            writes = [(kind, id, None), *removals, *records]
            self._commit(writes, drafts, idp=idp, source=source)

    def _membership_removals(self, idp: str, member_ids: Iterable[str]) -> list[Op]:
        """Return the writes that take ``member_ids`` out of every group of ``idp``."""
        gone = set(member_ids)
        group_ids = {g for m in gone for g in self._indexes.groups_with(idp, m)} - gone
        writes: list[Op] = []
        for gid in group_ids:
            old = self._tables["Group"][gid]["data"]
            # A new document that shares the untouched members with the old one: stored
            # documents are never mutated, so sharing is safe and spares a copy of the group.
            data = {**old, "members": [m for m in old["members"] if m["value"] not in gone]}
            if not data["members"]:
                del data["members"]
            stamp("Group", data, created=old["meta"]["created"])
            writes.append(("Group", gid, {"idp": idp, "data": data}))
        return writes

    def count(self, kind: str, idp: str) -> int:
        return len(self._indexes.tenant.get((kind, idp), ()))

    def groups_of(self, idp: str, member_id: str) -> list[dict]:
        return self.groups_of_each(idp, [member_id])[member_id]

    def groups_of_each(self, idp: str, member_ids: list[str]) -> dict[str, list[dict]]:
        with self._view:
            rows = self._tables["Group"]
            found = {
                member: [rows[gid]["data"] for gid in self._indexes.groups_with(idp, member)]
                for member in member_ids
            }
        return {
            member: [clone({k: v for k, v in doc.items() if k != "members"}) for doc in docs]
            for member, docs in found.items()
        }

    def existing_ids(self, idp: str, ids: Iterable[str]) -> dict[str, str]:
        found = {}
        for id in ids:
            for kind in RESOURCE_KINDS:
                if self._owned(kind, idp, id) is not None:
                    found[id] = kind
        return found

    def query(
        self,
        kind: str,
        idp: str,
        *,
        filter=None,
        sort_by: str | None = None,
        descending: bool = False,
        start_index: int = 1,
        count: int | None = None,
    ) -> tuple[int, list[dict]]:
        lookup = indexed_lookup(kind, filter)
        with self._view:  # references only, taken in C: the lock is held for microseconds
            rows = self._indexes.tenant.get((kind, idp), {})
            if lookup is None and filter is None and not sort_by:
                # A plain page (RFC 7644 §3.4.2.4) in creation order: slice, do not scan.
                begin = max(start_index, 1) - 1
                end = None if count is None else begin + max(count, 0)
                total, page = len(rows), list(itertools.islice(rows.values(), begin, end))
            elif lookup is None:
                total, page, candidates = 0, None, list(rows.values())
            else:
                total, page, candidates = 0, None, self._lookup(kind, idp, *lookup)
        if page is not None:
            return total, [clone_resource(doc) for doc in page]
        # Filters the indexes cannot answer are evaluated here, outside every lock.
        return run_query(kind, candidates, filter, sort_by, descending, start_index, count)

    def _lookup(self, kind: str, idp: str, index: str, value: str) -> list[dict]:
        """Return the documents an index holds for ``value``. Caller holds ``_view``."""
        rows = self._tables[kind]
        if index == "id":
            doc = self._owned(kind, idp, value)
            ids: Iterable[str] = [value] if doc else []
        else:
            ids = self._indexes.lookup(kind, idp, index, value)
        return [rows[i]["data"] for i in ids]

    # --- records -----------------------------------------------------------------------------

    def last_seq(self) -> int:
        return self._feed.durable

    def events(
        self, after: int, limit: int, *, types: frozenset | None = None, idp: str | None = None
    ) -> tuple[list[dict], int, bool]:
        size = window_size(limit, types, idp)
        with self._view:  # references, taken in C
            window = self._feed.window(after, size)
        return select(window, after, limit, types, idp)

    def wait_for_event(self, after: int, timeout: float) -> bool:
        return self._feed.wait(after, timeout)

    def events_for(self, kind: str, idp: str, id: str, limit: int = 20) -> list[dict]:
        wanted = "user" if kind == "User" else "group"
        with self._view:
            found = self._feed.for_resource(id, limit)
        return [e for e in found if e["idp"]["id"] == idp and e["resource"]["type"] == wanted]

    def prune_events(self) -> int:
        with self._lock:
            through = self._feed.expired_through(cutoff(self._retention))
            if through:
                mark = {"pruned_through": through}
                self._journal.append([[STATE, "state", mark]])
                with self._view:
                    self._put(STATE, "state", mark)
            return self._feed.pruned_through

    def get_record(self, table: str, key: str) -> dict | None:
        record = self._tables[table].get(key)
        return clone(record) if record is not None else None

    def put_record(self, table: str, key: str, record: dict) -> None:
        with self._lock:
            self._commit([(table, key, clone(record))])

    def put_records(self, table: str, records: dict[str, dict]) -> None:
        if records:
            with self._lock:
                self._commit([(table, key, clone(r)) for key, r in records.items()])

    def update_record(self, table: str, key: str, change: Callable[[dict], dict]) -> dict | None:
        with self._lock:
            current = self._tables[table].get(key)
            if current is None:
                return None
            record = clone(change(clone(current)))
            self._commit([(table, key, record)])
        return clone(record)

    def delete_record(self, table: str, key: str) -> bool:
        with self._lock:
            if key not in self._tables[table]:
                return False
            self._commit([(table, key, None)])
            return True

    def records(self, table: str, where: Callable[[dict], bool] | None = None) -> list[dict]:
        with self._view:
            rows = list(self._tables[table].values())
        return [clone(r) for r in rows if where is None or where(r)]

    def commit(self, idp: str, work: Callable[[], tuple[list, list]]) -> None:
        with self._lock:
            writes, events = work()
            writes = [(t, k, clone(d) if d is not None else None) for t, k, d in writes]
            if writes or events:
                self._commit(writes, idp=idp, released=events)

    def delete_idp(self, idp: str, *, source: dict | None = None) -> None:
        with self._lock:
            writes: list[Op] = []
            drafts: list[dict] = []
            for kind in RESOURCE_KINDS:
                for id, data in self._indexes.tenant.get((kind, idp), {}).items():
                    writes.append((kind, id, None))
                    drafts += self._drafts(kind, data, None, idp)
            for table in RECORD_TABLES:  # its tokens, holds…: every record naming it
                rows = self._tables[table]
                writes += [(table, k, None) for k, r in rows.items() if r.get("idp") == idp]
            if idp in self._tables["idps"]:
                writes.append(("idps", idp, None))
            if writes:
                self._commit(writes, drafts, idp=idp, source=source)

    # --- the audit trail -----------------------------------------------------------------------

    def append_audit(self, entry: dict) -> None:
        record = clone(entry)
        with self._lock:
            rows = self._tables[AUDIT_TABLE]
            writes: list[Op] = [(AUDIT_TABLE, record["id"], record)]
            over = len(rows) + 1 - AUDIT_LIMIT
            if over > 0:  # the oldest first: rows keep the order they were appended in
                writes += [(AUDIT_TABLE, key, None) for key in itertools.islice(rows, over)]
                log.warning("audit trail: over %d entries, the oldest dropped", AUDIT_LIMIT)
            self._commit(writes)

    def prune_audit(self, before: str) -> int:
        with self._lock:
            rows = self._tables[AUDIT_TABLE]
            old = list(itertools.takewhile(lambda key: rows[key]["time"] < before, rows))
            if old:
                self._commit([(AUDIT_TABLE, key, None) for key in old])
        return len(old)

    def audit_entries(
        self,
        *,
        since: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        object: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[int, list[dict]]:
        with self._view:
            rows = list(self._tables[AUDIT_TABLE].values())
        found = [e for e in reversed(rows) if audit_matches(e, since, actor, action, object)]
        end = None if limit is None else offset + limit
        return len(found), [clone(e) for e in found[offset:end]]

    # --- operations ----------------------------------------------------------------------------

    def health(self) -> str | None:
        if self._journal.broken:
            return "the journal refuses writes since one failed (restart Roster once fixed)"
        if self._folder_lock.lost() is not None:
            # No path in a probe's answer (monitoring.probes): only what the operator acts on.
            if not self.folder.exists():
                return "the data folder is missing"
            return "the data folder was moved or replaced"
        # A real write, as a read-only remount or a full disk refuses it (access() would not
        # notice a full disk). Per thread, so that probes running together never collide.
        probe = self.folder / f".ready-{threading.get_ident()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"ready\n")
            finally:
                os.close(fd)
                probe.unlink(missing_ok=True)
        except OSError as exc:
            return f"the data folder cannot be written ({exc.strerror})"
        return None

    def stats(self) -> dict[str, float]:
        return {
            "journal_bytes": self._journal.size,
            "compactions": self._compactions,
            "compaction_failures": self._compaction_failures,
        }

    # --- snapshots ---------------------------------------------------------------------------

    def _freeze(self) -> files.Tables:
        """Return a consistent shallow copy of every table (documents are never mutated),
        the change feed's included."""
        with self._view:
            frozen = {name: dict(rows) for name, rows in self._tables.items()}
            events, state = list(self._feed.events), self._feed.state()
        frozen[EVENTS] = self._feed.table(events)
        if state:
            frozen[STATE] = state
        return frozen

    def _start_compaction(self) -> None:
        """Switch to a new journal segment and write a snapshot of everything before it in
        the background. Caller holds ``_lock``, so no write falls between the two."""
        if self._compacting is not None and self._compacting.is_alive():
            return
        if self._journal.broken:
            return  # the folder cannot be trusted any more: leave it as it is
        if self._journal.unsynced:
            return  # a batch's records are not durable yet: switch once it has synced them
        upto, number = self._journal.seq, self._journal.number
        try:
            following = journal.Journal(self.folder, upto + 1, number, self._folder_lock)
        except OSError as exc:
            # The current segment keeps taking writes; the next write tries again.
            log.error("compaction postponed: cannot open the next journal segment: %s", exc)
            return
        frozen = self._freeze()
        self._journal.close()
        self._journal = following
        self._compacting = threading.Thread(
            target=self._compact,
            args=(frozen, upto, number),
            name="roster-compaction",
            daemon=True,
        )
        self._compacting.start()

    def _compact(self, frozen: files.Tables, upto: int, number: int) -> None:
        """Write ``frozen`` as the snapshot, then drop the journal segments it contains."""
        self._compact_error = None
        try:
            lost = self._folder_lock.lost()
            if lost:  # never write a snapshot into the folder of whoever took the path
                raise StoreUnavailable(lost)
            files.write_snapshot(self.folder, frozen, upto + 1, next_record=number)
            for seq in files.segments(self.folder):
                if seq <= upto:
                    files.segment_path(self.folder, seq).unlink(missing_ok=True)
        except (OSError, StoreUnavailable) as exc:
            # The journal still holds every write: nothing is lost, the next compaction retries.
            self._compact_error = exc
            self._compaction_failures += 1
            log.error("compaction failed: %s", exc)
            return
        self._compactions += 1
        log.info("compaction finished: a new snapshot holds the journal up to segment %d", upto)

    def compact(self) -> None:
        """Compact now and wait for it (used at shutdown and by tests)."""
        with self._lock:
            self._start_compaction()
            worker = self._compacting
        if worker is not None:
            worker.join()

    def backup(self, destination: str) -> None:
        dest = Path(destination)
        dest.parent.mkdir(parents=True, exist_ok=True)
        frozen = self._freeze()
        files.write_snapshot(dest.parent, frozen, 0, name=dest.name)  # records start at 0

    def close(self) -> None:
        with self._lock:
            if self._compacting is not None:
                self._compacting.join()
            self._journal.close()
            self._folder_lock.release()


if TYPE_CHECKING:  # mypy holds the class to the contract; nothing runs here
    _: type[Store] = TinyStore
