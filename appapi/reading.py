"""How the application API reads the store: pages in id order across identity providers, and
lookups by id. Plain functions over the store; no web.

Lists are ordered by ``id``: ids are unique across IdPs and never change, so the last id of a
page is a cursor that stays valid whatever is written meanwhile. The bound is a SCIM filter
(``id gt "…"``) joined to the list's own, which PostgreSQL answers in SQL (``storage.postgres.sql``,
exactly, ``id`` being a column) and the embedded store by its key-set path
(``storage.query``); ``sort_by="id"`` orders both the same way, by code point (``id`` is
caseExact, RFC 7643 §3.1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scim.core.evaluate import matches
from scim.core.filter import And, AttrPath, Compare, Expr
from scim.core.schemas import RESOURCE_TYPES
from storage.interface import Store

ORDER = "id"
# Group members a filter is tried on one by one, at most; past it, the IdP's matches are read.
FETCH_AT_MOST = 2000


@dataclass
class Page:
    """A page of ``(idp, resource)`` in id order, and whether more follow it."""

    items: list[tuple[str, dict]]
    has_more: bool


def both(*exprs: Expr | None) -> Expr | None:
    """Return the conjunction of the filters given (None when there is none)."""
    found = [e for e in exprs if e is not None]
    if not found:
        return None
    joined = found[0]
    for expr in found[1:]:
        joined = And(joined, expr)
    return joined


def equals(attribute: str, value: str) -> Compare:
    """Return ``attribute eq "value"`` (``attribute`` may be ``parent.sub``)."""
    attr, _, sub = attribute.partition(".")
    return Compare(AttrPath(None, attr, sub or None), "eq", value)


def _after(key: str | None) -> Expr | None:
    return Compare(AttrPath(None, ORDER), "gt", key) if key is not None else None


def _cut(items: list[tuple[str, dict]], limit: int) -> Page:
    items.sort(key=lambda item: item[1]["id"])
    return Page(items[:limit], len(items) > limit)


def page(
    store: Store, kind: str, idps: Iterable[str], filter: Expr | None, after: str | None, limit: int
) -> Page:
    """Return the first ``limit`` resources of ``kind`` of ``idps`` that match ``filter`` and
    whose id follows ``after``."""
    expr = both(filter, _after(after))
    found = []
    for idp in idps:
        # One more than the page, to know whether another follows.
        _, docs = store.query(kind, idp, filter=expr, sort_by=ORDER, count=limit + 1)
        found += [(idp, doc) for doc in docs]
    return _cut(found, limit)


def locate(store: Store, kind: str, idps: Iterable[str], id: str) -> tuple[str, dict] | None:
    """Return ``(idp, resource)`` for the resource of ``kind`` with this id, or None."""
    for idp in idps:
        found = store.get(kind, idp, id)
        if found is not None:
            return idp, found
    return None


def member_ids(group: dict, kind: str | None = None) -> list[str]:
    """Return the ids of a group's members (of ``kind`` only, if given), in id order."""
    found = {
        m["value"]
        for m in group.get("members") or ()
        if isinstance(m.get("value"), str) and (kind is None or m.get("type", "User") == kind)
    }
    return sorted(found)


def users_in(
    store: Store, idp: str, group: dict, filter: Expr | None, after: str | None, limit: int
) -> Page:
    """Return a page of the Users that are members of ``group`` and match ``filter``.

    Members are read by id, a page's worth at a time (``Store.get_each``), so a page costs
    what it shows, not the whole IdP; unless a filter must be tried on more than
    ``FETCH_AT_MOST`` members, when one pass over the IdP's matches (what the filter costs
    without the group) is cheaper."""
    ids = [id for id in member_ids(group, "User") if after is None or id > after]
    if filter is not None and len(ids) > FETCH_AT_MOST:
        wanted = set(ids)
        _, docs = store.query("User", idp, filter=both(filter, _after(after)), sort_by=ORDER)
        return _cut([(idp, doc) for doc in docs if doc["id"] in wanted], limit)
    rtype = RESOURCE_TYPES["User"]
    found: list[tuple[str, dict]] = []
    step = limit + 1
    for begin in range(0, len(ids), step):
        chunk = ids[begin : begin + step]
        users = store.get_each("User", idp, chunk)
        found += [
            (idp, users[id])
            for id in chunk
            if id in users and (filter is None or matches(filter, users[id], rtype))
        ]
        if len(found) > limit:
            break
    return _cut(found, limit)


def groups_with(
    store: Store, idps: Iterable[str], member: str, after: str | None, limit: int
) -> Page:
    """Return a page of the Groups that ``member`` belongs to directly.

    ``members.value eq`` alone, so that both stores answer it from their members index; the
    groups of one member are few, and the cursor is applied to them here."""
    found = []
    for idp in idps:
        _, docs = store.query("Group", idp, filter=equals("members.value", member), sort_by=ORDER)
        found += [(idp, doc) for doc in docs if after is None or doc["id"] > after]
    return _cut(found, limit)
