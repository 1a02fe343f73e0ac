"""Filtering, ordering and paging over candidate documents, shared by backends that evaluate
filters in Python. Runs without the store's lock: documents are never mutated in place."""

from __future__ import annotations

from scim.core.evaluate import matches
from scim.core.filter import AttrPath, Compare, Expr, ValuePath
from scim.core.projection import sort_resources
from scim.core.schemas import RESOURCE_TYPES
from storage.clone import clone

# Attributes with an index, per kind: (attribute name folded, index name).
_INDEXED = {
    "User": {"id": "id", "username": "unique", "externalid": "externalId"},
    "Group": {"id": "id", "displayname": "unique", "externalid": "externalId"},
}


def _core_path(kind: str, path: AttrPath) -> bool:
    return path.urn is None or path.urn.lower() == RESOURCE_TYPES[kind].schema.id.lower()


def indexed_lookup(kind: str, filter: Expr | None) -> tuple[str, str] | None:
    """Return (index, value) when ``filter`` is an equality an index answers, else None.

    The index only narrows: callers still evaluate the whole filter on what it returns.
    """
    if isinstance(filter, Compare) and filter.op == "eq" and isinstance(filter.value, str):
        path = filter.path
        if path.sub is None and _core_path(kind, path):
            index = _INDEXED[kind].get(path.attr.lower())
            if index:
                return index, filter.value
        # members.value eq "id" (RFC 7644 §3.4.2.2 sub-attribute form)
        if kind == "Group" and path.attr.lower() == "members" and path.sub in (None, "value"):
            return "members", filter.value
    if isinstance(filter, ValuePath) and kind == "Group" and filter.path.attr.lower() == "members":
        inner = filter.filter
        if (
            isinstance(inner, Compare)
            and inner.op == "eq"
            and inner.path.attr.lower() == "value"
            and isinstance(inner.value, str)
        ):
            return "members", inner.value
    return None


def run_query(
    kind: str,
    candidates: list[dict],
    filter: Expr | None,
    sort_by: str | None,
    descending: bool,
    start_index: int,
    count: int | None,
) -> tuple[int, list[dict]]:
    """Filter, sort and page ``candidates``; return (all matches, a deep copy of the page)."""
    rtype = RESOURCE_TYPES[kind]
    if filter is not None:
        candidates = [doc for doc in candidates if matches(filter, doc, rtype)]
    if sort_by:
        candidates = sort_resources(candidates, rtype, sort_by, descending)
    total = len(candidates)
    # RFC 7644 §3.4.2.4: startIndex is 1-based; totalResults counts every match, not the page.
    begin = max(start_index, 1) - 1
    end = total if count is None else begin + max(count, 0)
    return total, clone(candidates[begin:end])
