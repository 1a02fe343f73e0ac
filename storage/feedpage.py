"""The change feed's page reads, shared by both backends: how many events a read looks at,
and which of them make the page (``storage.tinydb.feed`` and ``storage.postgres.pg_events``
read the window, each from its own store)."""

from __future__ import annotations

# The most events one page read looks at when filters skip most of them: the reader gets a
# cursor that far on and asks again, instead of one request scanning 30 days of events.
SCAN = 10_000


def window_size(limit: int, types: object, idp: object) -> int:
    """How many events a page read looks at: one more than the page, or ``SCAN`` when filters
    may skip some."""
    return limit + 1 if types is None and idp is None else max(SCAN, limit + 1)


def select(
    window: list[dict], after: int, limit: int, types=None, idp=None
) -> tuple[list[dict], int, bool]:
    """Pick a page from ``window``, the events read after ``after`` (``window_size`` of them
    at most): return (events, next_after, has_more). Shared by both backends.

    ``next_after`` is the seq of the last event returned or, when filters skipped events, of
    the last event looked at, so that the next read does not look at them again."""
    if types is None and idp is None:
        page = window[:limit]
        return page, page[-1]["seq"] if page else after, len(window) > limit
    full = len(window) >= window_size(limit, types, idp)
    page = []
    for at, event in enumerate(window):
        if (types is None or event["type"] in types) and (idp is None or event["idp"]["id"] == idp):
            page.append(event)
            if len(page) == limit:
                return page, event["seq"], full or at < len(window) - 1
    return page, window[-1]["seq"] if window else after, full
