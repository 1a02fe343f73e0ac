"""The embedded backend: the whole store in memory, made durable by a TinyDB snapshot plus an
append-only journal (see ``storage.files``), with indexes for every hot lookup.

Why not TinyDB's table API on every request? It rewrites the whole file per write and scans
every document per query, so both grow with the store. Here a write costs one fsynced journal
line, whatever the size; the snapshot (a plain TinyDB file people can read and back up) is
rewritten only when the journal has grown, in the background.

Concurrency (waitress runs several threads): every write goes through ``_commit`` under one
re-entrant lock, so uniqueness checks, version checks and the write are one step. Stored
documents are never mutated in place (a write replaces them), so readers may look without the
lock and always see a whole document; callers get deep copies.
"""

from __future__ import annotations

import copy
import itertools
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from storage import files
from storage.errors import Conflict, NotFound, StoreUnavailable, VersionMismatch
from storage.interface import RECORD_TABLES, RESOURCE_KINDS

log = logging.getLogger(__name__)

# Compact the journal into a new snapshot once it holds this many bytes.
COMPACT_AFTER_BYTES = 64 * 1024 * 1024

# Per kind: the attribute whose case-folded value is unique within an IdP.
UNIQUE = {"User": "userName", "Group": "displayName"}


def now() -> str:
    """Return the current time as RFC 3339 UTC with milliseconds (RFC 7643 §2.3.5)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fold(value: object) -> str | None:
    return value.casefold() if isinstance(value, str) else None


class TinyStore:
    """A ``storage.interface.Store`` kept in a data folder."""

    def __init__(self, folder: str | Path, *, compact_after: int = COMPACT_AFTER_BYTES):
        self.folder = Path(folder)
        self._compact_after = compact_after
        self._lock = threading.RLock()
        self._compacting: threading.Thread | None = None
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
        self._tables: files.Tables = {name: {} for name in (*RESOURCE_KINDS, *RECORD_TABLES)}
        self._tenant: dict[tuple[str, str], dict[str, None]] = {}
        self._unique: dict[tuple[str, str, str], str] = {}
        self._external: dict[tuple[str, str, str], dict[str, None]] = {}
        self._members: dict[tuple[str, str], dict[str, None]] = {}
        snapshot, first = files.read_snapshot(self.folder)
        for table, rows in snapshot.items():
            for key, doc in rows.items():
                self._apply(table, key, doc)
        present = [seq for seq in files.segments(self.folder) if seq >= first]
        for seq in present:
            for ops in files.read_segment(files.segment_path(self.folder, seq)):
                for table, key, doc in ops:
                    self._apply(table, key, doc)
        self._journal = files.Journal(self.folder, max(present, default=first - 1) + 1)
        self._next_version = itertools.count(1)

    def _index(self, table: str, key: str, doc: dict, add: bool, order: bool = True) -> None:
        if table not in RESOURCE_KINDS:
            return
        idp, data = doc["idp"], doc["data"]

        def put(index: dict, ikey: tuple) -> None:
            bucket = index.setdefault(ikey, {})
            if add:
                bucket[key] = None
            else:
                bucket.pop(key, None)
                if not bucket:
                    del index[ikey]

        if order:
            put(self._tenant, (table, idp))
        unique = _fold(data.get(UNIQUE[table]))
        if unique is not None:
            if add:
                self._unique[(table, idp, unique)] = key
            else:
                self._unique.pop((table, idp, unique), None)
        if isinstance(data.get("externalId"), str):
            put(self._external, (table, idp, data["externalId"]))
        if table == "Group":
            for member in data.get("members", ()):
                put(self._members, (idp, member["value"]))

    def _apply(self, table: str, key: str, doc: dict | None) -> None:
        rows = self._tables.setdefault(table, {})
        old = rows.pop(key, None) if doc is None else rows.get(key)
        # A replaced document keeps its place in the tenant's creation order, so that paging
        # without sortBy stays stable while resources change (RFC 7644 §3.4.2.4).
        keep_place = (
            table in RESOURCE_KINDS
            and old is not None
            and doc is not None
            and old["idp"] == doc["idp"]
        )
        if old is not None:
            self._index(table, key, old, add=False, order=not keep_place)
        if doc is not None:
            rows[key] = doc
            self._index(table, key, doc, add=True, order=not keep_place)

    # --- the one write path ------------------------------------------------------------------

    def _commit(self, ops: list[tuple[str, str, dict | None]]) -> None:
        """Make ``ops`` durable in the journal, then visible in memory. Caller holds the lock."""
        self._journal.append([list(op) for op in ops])
        for table, key, doc in ops:
            self._apply(table, key, doc)
        if self._journal.size >= self._compact_after:
            self._start_compaction()

    def _check_unique(self, kind: str, idp: str, data: dict, own_id: str | None) -> None:
        attribute = UNIQUE[kind]
        folded = _fold(data.get(attribute))
        holder = self._unique.get((kind, idp, folded)) if folded is not None else None
        if holder is not None and holder != own_id:
            # RFC 7644 §3.3: a duplicate is 409 with scimType uniqueness.
            raise Conflict(attribute, data[attribute])

    def _stamp(self, kind: str, data: dict, created: str | None = None) -> dict:
        stamp = now()
        data["meta"] = {
            "resourceType": kind,
            "created": created or stamp,
            "lastModified": stamp,
            # RFC 7644 §3.14: a weak entity tag that changes on every write.
            "version": f'W/"{uuid.uuid4().hex[:16]}"',
        }
        return data

    # --- resources ---------------------------------------------------------------------------

    def _owned(self, kind: str, idp: str, id: str) -> dict | None:
        doc = self._tables[kind].get(id)
        return doc if doc is not None and doc["idp"] == idp else None

    def get(self, kind: str, idp: str, id: str) -> dict | None:
        doc = self._owned(kind, idp, id)
        return copy.deepcopy(doc["data"]) if doc else None

    def create(
        self,
        kind: str,
        idp: str,
        resource: dict,
        *,
        prepare: Callable[[dict], dict] | None = None,
    ) -> dict:
        data = copy.deepcopy(resource)
        with self._lock:
            if prepare is not None:
                data = copy.deepcopy(prepare(data))
            self._check_unique(kind, idp, data, None)
            data["id"] = str(uuid.uuid4())
            self._stamp(kind, data)
            self._commit([(kind, data["id"], {"idp": idp, "data": data})])
        return copy.deepcopy(data)

    def update(
        self,
        kind: str,
        idp: str,
        id: str,
        change: Callable[[dict], dict],
        *,
        if_version: str | None = None,
    ) -> dict:
        with self._lock:
            doc = self._owned(kind, idp, id)
            if doc is None:
                raise NotFound(id)
            current = doc["data"]
            if if_version is not None and if_version != current["meta"]["version"]:
                raise VersionMismatch(id)
            data = copy.deepcopy(change(copy.deepcopy(current)))
            data["id"] = id
            self._check_unique(kind, idp, data, id)
            self._stamp(kind, data, created=current["meta"]["created"])
            self._commit([(kind, id, {"idp": idp, "data": data})])
        return copy.deepcopy(data)

    def delete(self, kind: str, idp: str, id: str, *, if_version: str | None = None) -> None:
        with self._lock:
            doc = self._owned(kind, idp, id)
            if doc is None:
                raise NotFound(id)
            if if_version is not None and if_version != doc["data"]["meta"]["version"]:
                raise VersionMismatch(id)
            ops: list[tuple[str, str, dict | None]] = [(kind, id, None)]
            ops += self._membership_removals(idp, [id])
            self._commit(ops)

    def _membership_removals(self, idp: str, member_ids: Iterable[str]) -> list:
        """Return the writes that take ``member_ids`` out of every group of ``idp``."""
        gone = set(member_ids)
        group_ids = {g for m in gone for g in self._members.get((idp, m), ())} - gone
        ops = []
        for gid in group_ids:
            data = copy.deepcopy(self._tables["Group"][gid]["data"])
            data["members"] = [m for m in data.get("members", []) if m["value"] not in gone]
            if not data["members"]:
                del data["members"]
            self._stamp("Group", data, created=data["meta"]["created"])
            ops.append(("Group", gid, {"idp": idp, "data": data}))
        return ops

    def count(self, kind: str, idp: str) -> int:
        return len(self._tenant.get((kind, idp), ()))

    def groups_of(self, idp: str, member_id: str) -> list[dict]:
        with self._lock:
            ids = list(self._members.get((idp, member_id), ()))
            docs = [self._tables["Group"][gid]["data"] for gid in ids]
        return copy.deepcopy(docs)

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
        from storage.query import run_query  # protocol evaluation lives outside the backend

        with self._lock:
            candidates = self._candidates(kind, idp, filter)
        return run_query(kind, candidates, filter, sort_by, descending, start_index, count)

    def _candidates(self, kind: str, idp: str, filter) -> list[dict]:
        """Return the documents a filter can match, narrowed by an index where one applies."""
        from storage.query import indexed_lookup

        rows = self._tables[kind]
        lookup = indexed_lookup(kind, filter)
        if lookup is None:
            return [rows[i]["data"] for i in self._tenant.get((kind, idp), ())]
        index, value = lookup
        if index == "id":
            doc = self._owned(kind, idp, value)
            return [doc["data"]] if doc else []
        if index == "unique":
            holder = self._unique.get((kind, idp, value.casefold()))
            return [rows[holder]["data"]] if holder else []
        if index == "externalId":
            return [rows[i]["data"] for i in self._external.get((kind, idp, value), ())]
        return [rows[i]["data"] for i in self._members.get((idp, value), ())]

    # --- records -----------------------------------------------------------------------------

    def get_record(self, table: str, key: str) -> dict | None:
        record = self._tables[table].get(key)
        return copy.deepcopy(record) if record is not None else None

    def put_record(self, table: str, key: str, record: dict) -> None:
        with self._lock:
            self._commit([(table, key, copy.deepcopy(record))])

    def update_record(self, table: str, key: str, change: Callable[[dict], dict]) -> dict | None:
        with self._lock:
            current = self._tables[table].get(key)
            if current is None:
                return None
            record = copy.deepcopy(change(copy.deepcopy(current)))
            self._commit([(table, key, record)])
        return copy.deepcopy(record)

    def delete_record(self, table: str, key: str) -> bool:
        with self._lock:
            if key not in self._tables[table]:
                return False
            self._commit([(table, key, None)])
            return True

    def records(self, table: str, where: Callable[[dict], bool] | None = None) -> list[dict]:
        with self._lock:
            rows = list(self._tables[table].values())
        return [copy.deepcopy(r) for r in rows if where is None or where(r)]

    def delete_idp(self, idp: str) -> None:
        with self._lock:
            ops: list[tuple[str, str, dict | None]] = []
            for kind in RESOURCE_KINDS:
                ops += [(kind, id, None) for id in self._tenant.get((kind, idp), ())]
            tokens = self._tables["tokens"]
            ops += [("tokens", k, None) for k, t in tokens.items() if t.get("idp") == idp]
            if idp in self._tables["idps"]:
                ops.append(("idps", idp, None))
            if ops:
                self._commit(ops)

    # --- snapshots ---------------------------------------------------------------------------

    def _freeze(self) -> files.Tables:
        """Return a consistent shallow copy of every table (documents are never mutated)."""
        with self._lock:
            return {name: dict(rows) for name, rows in self._tables.items()}

    def _start_compaction(self) -> None:
        if self._compacting is not None and self._compacting.is_alive():
            return
        frozen, upto = self._freeze(), self._journal.seq
        self._journal.close()
        self._journal = files.Journal(self.folder, upto + 1)
        self._compacting = threading.Thread(
            target=self._compact, args=(frozen, upto), name="roster-compaction", daemon=True
        )
        self._compacting.start()

    def _compact(self, frozen: files.Tables, upto: int) -> None:
        """Write ``frozen`` as the snapshot, then drop the journal segments it contains."""
        try:
            files.write_snapshot(self.folder, frozen, upto + 1)
            for seq in files.segments(self.folder):
                if seq <= upto:
                    files.segment_path(self.folder, seq).unlink(missing_ok=True)
        except OSError:
            # The journal still holds every write: nothing is lost, the next compaction retries.
            log.exception("compaction failed")

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
        files.write_snapshot(dest.parent, frozen, 0, name=dest.name)

    def close(self) -> None:
        with self._lock:
            if self._compacting is not None:
                self._compacting.join()
            self._journal.close()
            self._folder_lock.release()
