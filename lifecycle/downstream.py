"""The store as the applications see it: what the IdP did, except where a change is held,
discarded or a deleted user kept (``lifecycle.screen``'s ``downstream`` entries).

``view(store)`` wraps a store for the application API. Its reads answer as the store would if
the held changes had never been made: a held or diverged user is its ``downstream`` copy (also
when the IdP deleted it, and then again a member of the groups it was in), a kept user is there,
inactive, until it is purged. Everything else is the store's own answer. Entries are few (a
hold's users), so each read lays them over the store's answer in Python.
"""

from __future__ import annotations

from collections.abc import Iterable

from lifecycle import membership
from scim.core.evaluate import matches
from scim.core.filter import Expr
from scim.core.schemas import RESOURCE_TYPES
from storage.clone import clone
from storage.interface import Store
from storage.query import run_query


def view(store: Store) -> DownstreamView | Store:
    """Return ``store`` as the applications see it (the store itself when nothing differs)."""
    entries = store.records("downstream")
    if not entries:
        return store
    return DownstreamView(store, entries, store.records(membership.TABLE))


class DownstreamView:
    """The reads of ``storage.interface.Store`` the application API makes, with the
    ``downstream`` entries laid over them; every other attribute is the store's."""

    def __init__(self, store: Store, entries: list[dict], groups: list[dict]):
        self._store = store
        self._users: dict[str, dict[str, dict]] = {}  # idp -> user id -> entry
        for entry in entries:
            self._users.setdefault(entry["idp"], {})[entry["id"]] = entry
        self._seen = {group["id"]: group["meta"] for group in groups}  # group id -> meta

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    # --- what the entries say -----------------------------------------------------------------

    def _user(self, entry: dict) -> dict:
        return clone(entry["data"]["scim"])

    def _as_seen(self, group: dict, restored: list[dict]) -> dict:
        """``group`` with the members the applications still see in it, at the version they
        last saw (``lifecycle.membership``)."""
        present = {m.get("value") for m in group.get("members") or ()}
        missing = [m for m in restored if m["value"] not in present]
        meta = self._seen.get(group["id"], group.get("meta"))
        return {**group, "members": [*(group.get("members") or []), *missing], "meta": meta}

    def _overlay(self, kind: str, idp: str) -> dict[str, dict]:
        """Id -> the document the applications see, for the resources that differ."""
        if kind == "User":
            return {uid: self._user(e) for uid, e in self._users.get(idp, {}).items()}
        restored = membership.restored(list(self._users.get(idp, {}).values()))
        groups = self._store.get_each("Group", idp, list(restored))
        return {gid: self._as_seen(doc, restored[gid]) for gid, doc in groups.items()}

    # --- the reads ------------------------------------------------------------------------------

    def get(self, kind: str, idp: str, id: str) -> dict | None:
        return self.get_each(kind, idp, [id]).get(id)

    def get_each(self, kind: str, idp: str, ids: list[str]) -> dict[str, dict]:
        over = self._overlay(kind, idp)
        found = self._store.get_each(kind, idp, [i for i in ids if i not in over])
        found.update({i: over[i] for i in ids if i in over})
        return found

    def query(
        self,
        kind: str,
        idp: str,
        *,
        filter: Expr | None = None,
        sort_by: str | None = None,
        descending: bool = False,
        start_index: int = 1,
        count: int | None = None,
    ) -> tuple[int, list[dict]]:
        over = self._overlay(kind, idp)
        if not over:
            return self._store.query(
                kind, idp, filter=filter, sort_by=sort_by, descending=descending,
                start_index=start_index, count=count,
            )  # fmt: skip
        # Enough of the store's matches to fill the page once the overlaid ones are dropped.
        fetch = None if count is None else max(start_index, 1) - 1 + count + len(over)
        total, page = self._store.query(
            kind, idp, filter=filter, sort_by=sort_by, descending=descending, count=fetch
        )
        rtype = RESOURCE_TYPES[kind]
        wanted = [doc for doc in over.values() if filter is None or matches(filter, doc, rtype)]
        current = self._store.get_each(kind, idp, list(over))
        shadowed = sum(1 for d in current.values() if filter is None or matches(filter, d, rtype))
        candidates = [doc for doc in page if doc["id"] not in over] + wanted
        _, page = run_query(kind, candidates, None, sort_by, descending, start_index, count)
        return total - shadowed + len(wanted), page

    def count(self, kind: str, idp: str) -> int:
        gone = sum(1 for e in self._users.get(idp, {}).values() if e.get("gone"))
        return self._store.count(kind, idp) + (gone if kind == "User" else 0)

    def groups_of(self, idp: str, member_id: str) -> list[dict]:
        return self.groups_of_each(idp, [member_id])[member_id]

    def groups_of_each(self, idp: str, member_ids: list[str]) -> dict[str, list[dict]]:
        # Memberships are never held: a user the store still holds is in its groups there; one
        # it deleted, in those its entry keeps (none, for a kept user) that the store still
        # has, as it has them. Group deletions and renames are never held either: the feed
        # told ``group.deleted`` of one deleted since, so the applications no longer have it.
        entries = self._users.get(idp, {})
        gone = {m for m in member_ids if m in entries and entries[m].get("gone")}
        found = self._store.groups_of_each(idp, [m for m in member_ids if m not in gone])
        kept = {m: [g["id"] for g in entries[m]["data"]["groups"]] for m in gone}
        wanted = sorted({gid for ids in kept.values() for gid in ids})
        current = self._store.get_each("Group", idp, wanted) if wanted else {}
        for member, ids in kept.items():
            found[member] = [_without_members(current[g]) for g in ids if g in current]
        return found

    def existing_ids(self, idp: str, ids: Iterable[str]) -> dict[str, str]:
        wanted = list(ids)
        found = self._store.existing_ids(idp, wanted)
        entries = self._users.get(idp, {})
        found.update({i: "User" for i in wanted if i in entries})
        return found


def _without_members(group: dict) -> dict:
    """A group as ``Store.groups_of`` returns it."""
    return {k: v for k, v in group.items() if k != "members"}
