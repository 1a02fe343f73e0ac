"""The embedded store's indexes (``storage.tinydb.store``): every lookup a request makes
without scanning, kept up to date by difference.

| index | key | answers |
|---|---|---|
| tenant | (kind, idp) -> {id: data}, in creation order | counts, listing, pages without filter |
| unique | (kind, idp, case-folded userName / displayName) -> id | uniqueness, ``userName eq`` |
| external | (kind, idp, externalId) -> {id: None} | ``externalId eq`` |
| members | (idp, member id) -> {group id: None} | ``groups_of``, ``members.value eq``, deletes |

The store calls ``update`` for each document it replaces, under its view lock; readers call
the lookups under the same lock. Nothing here knows files or locks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from storage.interface import UNIQUE, fold


def member_values(members: object) -> set:
    if not isinstance(members, list):
        return set()
    return {m.get("value") for m in members if isinstance(m, dict)} - {None}


class Indexes:
    """The indexes of the resources of every IdP (documents are ``{"idp": …, "data": …}``)."""

    def __init__(self) -> None:
        self.tenant: dict[tuple[str, str], dict[str, dict]] = {}
        self.unique: dict[tuple[str, str, str], str] = {}
        self.external: dict[tuple[str, str, str], dict[str, None]] = {}
        self.members: dict[tuple[str, object], dict[str, None]] = {}
        # (idp, case-folded member id) -> the member ids not already in that form
        self._unfolded: dict[tuple[str, str], set[str]] = {}

    def update(
        self, kind: str, key: str, old: dict | None, new: dict | None, delta: dict | None = None
    ) -> None:
        """Update the indexes for the change from ``old`` to ``new``, touching only what
        differs: a write to a 100,000-member group re-indexes the members that changed.

        ``delta``: the membership change of a journal delta op, when ``new`` was one."""
        if old is None and new is not None:  # an insert: most of loading
            self._insert(kind, key, new)
            return
        if old is not None and new is not None and old["idp"] != new["idp"]:
            self.update(kind, key, old, None)
            old = None
        idp = cast(dict, new or old)["idp"]  # never both None: _put returns before
        before = old["data"] if old else {}
        after = new["data"] if new else {}
        if new is None:
            _drop(self.tenant, (kind, idp), key)
        else:
            self.tenant.setdefault((kind, idp), {})[key] = after
        unique = UNIQUE[kind]
        was, now = fold(before.get(unique)), fold(after.get(unique))
        if was != now and was is not None and self.unique.get((kind, idp, was)) == key:
            del self.unique[(kind, idp, was)]
        if now is not None:
            self.unique[(kind, idp, now)] = key
        was, now = before.get("externalId"), after.get("externalId")
        if was != now and isinstance(was, str):
            _drop(self.external, (kind, idp, was), key)
        if isinstance(now, str):
            self.external.setdefault((kind, idp, now), {})[key] = None
        if kind != "Group" or before.get("members") is after.get("members"):
            return
        if delta is not None:
            change = delta["members"]
            removed, added = change["remove"], member_values(change["add"])
        else:
            old_members = member_values(before.get("members"))
            new_members = member_values(after.get("members"))
            removed, added = old_members - new_members, new_members - old_members
        for member in removed:
            self._unlink(idp, member, key)
        for member in added:
            self._link(idp, member, key)

    def _insert(self, kind: str, key: str, new: dict) -> None:
        idp, data = new["idp"], new["data"]
        self.tenant.setdefault((kind, idp), {})[key] = data
        unique = data.get(UNIQUE[kind])
        if isinstance(unique, str):
            self.unique[(kind, idp, unique.casefold())] = key
        external = data.get("externalId")
        if isinstance(external, str):
            self.external.setdefault((kind, idp, external), {})[key] = None
        if kind == "Group":
            for member in member_values(data.get("members")):
                self._link(idp, member, key)

    def _link(self, idp: str, member: object, group: str) -> None:
        bucket = self.members.setdefault((idp, member), {})
        if not bucket and isinstance(member, str) and member.casefold() != member:
            self._unfolded.setdefault((idp, member.casefold()), set()).add(member)
        bucket[group] = None

    def _unlink(self, idp: str, member: object, group: str) -> None:
        _drop(self.members, (idp, member), group)
        if (idp, member) not in self.members and isinstance(member, str):
            unfolded = self._unfolded.get((idp, member.casefold()))
            if unfolded is not None:
                unfolded.discard(member)
                if not unfolded:
                    del self._unfolded[(idp, member.casefold())]

    def groups_with(self, idp: str, member: str) -> Iterable[str]:
        """The ids of the groups whose members include exactly ``member``."""
        return self.members.get((idp, member), ())

    def lookup(self, kind: str, idp: str, index: str, value: str) -> Iterable[str]:
        """The ids ``index`` ("unique", "externalId" or "members") holds for ``value``."""
        if index == "unique":
            holder = self.unique.get((kind, idp, value.casefold()))
            return [holder] if holder else []
        if index == "externalId":
            return self.external.get((kind, idp, value), ())
        return self._member_lookup(idp, value)

    def _member_lookup(self, idp: str, value: str) -> list[str]:
        """Groups with a member whose id is ``value`` but for case (``members.value`` is not
        caseExact, RFC 7643 §4.2): the members index is keyed by exact id, and Roster's ids are
        lower case; the few that are not are listed under their folded form."""
        folded = value.casefold()
        found = dict.fromkeys(self.members.get((idp, folded), ()))
        for member in self._unfolded.get((idp, folded), ()):
            found.update(dict.fromkeys(self.members.get((idp, member), ())))
        return list(found)


def _drop(index: dict, ikey: tuple, key: str) -> None:
    """Remove ``key`` from the bucket ``index[ikey]``, and the bucket once it is empty."""
    bucket = index.get(ikey)
    if bucket is not None:
        bucket.pop(key, None)
        if not bucket:
            del index[ikey]
