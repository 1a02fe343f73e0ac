"""Users and Groups in the embedded store (a part of ``storage.tinydb.store.TinyStore``, see
``storage.tinydb.base``): reads through the indexes, queries, and the resource writes (create,
update, delete, and ``delete_idp``, which removes a tenant), each checked and made under the
writer lock (``_writing``) and ending in the one write path (``_commit``).

Reading one document takes no lock (a dict lookup is atomic and documents are replaced, never
mutated); reading several takes references under ``_view``, and copies them outside it.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable
from typing import cast

from scim.core import events as changes
from storage.clone import clone, clone_resource
from storage.errors import Conflict, NotFound, VersionMismatch
from storage.interface import RECORD_TABLES, RESOURCE_KINDS, UNIQUE, Screen, fold
from storage.query import indexed_lookup, run_query
from storage.stamps import stamp
from storage.tinydb.base import Base, Op


class Resources(Base):
    """The SCIM resources (``Store.get`` … ``Store.delete_idp``)."""

    def _check_unique(self, kind: str, idp: str, data: dict, own_id: str | None) -> None:
        attribute = UNIQUE[kind]
        folded = fold(data.get(attribute))
        holder = self._indexes.unique.get((kind, idp, folded)) if folded is not None else None
        if holder is not None and holder != own_id:
            # RFC 7644 §3.3: a duplicate is 409 with scimType uniqueness.
            raise Conflict(attribute, data[attribute])

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
        with self._writing():
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
        with self._writing():
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
        with self._writing():
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

    # --- a whole tenant ------------------------------------------------------------------------

    def delete_idp(self, idp: str, *, source: dict | None = None) -> None:
        with self._writing():
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
