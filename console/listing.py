"""Search filters and pages across IdPs for Provisioned Users. Plain functions: no Flask.

Pages come from ``Store.query`` with a ``count``, so only one page of resources is ever
copied, and totals from ``Store.count`` when nothing is filtered, so browsing 100,000 users
costs one page. IdPs are few: a list across all of them walks them in order, scanning each
at most once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from scim.core.filter import Expr, parse_filter
from storage import Store

PAGE_SIZE = 50
# The attributes a search box looks in; IdPs differ in which of them they send.
USER_SEARCH = ("userName", "displayName", "name.formatted", "name.familyName", "emails.value")
GROUP_SEARCH = ("displayName", "externalId")


@dataclass
class Page:
    """One page of a list (for Provisioned Users, rows are ``(idp record, resource)``)."""

    rows: list
    total: int
    number: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        """1-based position of the first row shown (0 when there is none)."""
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def page_number(text: str | None) -> int:
    """Return the page a ``?page=`` value asks for: a whole number from 1, else 1."""
    try:
        return max(int(text or "1"), 1)
    except ValueError:
        return 1


def search_filter(kind: str, text: str = "", active: str = "") -> Expr | None:
    """Return the filter for a search box and an active-state choice, or None for "all".

    The text is quoted with ``json.dumps``, so quotes and backslashes in it stay text and
    can never change the filter's structure.
    """
    parts = []
    text = text.strip()
    if text:
        quoted = json.dumps(text)
        names = USER_SEARCH if kind == "User" else GROUP_SEARCH
        parts.append("(" + " or ".join(f"{name} co {quoted}" for name in names) + ")")
    if kind == "User" and active in ("true", "false"):
        parts.append(f"active eq {active}")
    return parse_filter(" and ".join(parts)) if parts else None


def page_of(store: Store, kind: str, idps: list[dict], filter: Expr | None, number: int) -> Page:
    """Return page ``number`` (1-based) of the resources of ``idps``, IdP by IdP in order."""
    number = max(number, 1)
    skip = (number - 1) * PAGE_SIZE  # rows before the page, counted across IdPs
    rows: list[tuple[dict, dict]] = []
    seen = 0
    for idp in idps:
        need = PAGE_SIZE - len(rows)
        start = max(skip - seen, 0)
        if filter is None:
            total = store.count(kind, idp["id"])
            found = []
            if need and start < total:
                _, found = store.query(kind, idp["id"], start_index=start + 1, count=need)
        else:
            # One scan gives both this IdP's total and its share of the page (count=0 when the
            # page is already full: only the total).
            total, found = store.query(
                kind, idp["id"], filter=filter, start_index=start + 1, count=need
            )
        rows += [(idp, resource) for resource in found]
        seen += total
    return Page(rows, seen, number)
