"""Cursor pagination, as every list of the application API answers:
``{"data": [...], "has_more": bool, "next_cursor": str | null, "seq": int}``.

A cursor names the last item of the page it came with (its sort key), not a position, so a
walk sees every item that exists throughout it exactly once whatever is inserted or deleted
meanwhile (a position shifts when something before it is deleted). Like Stripe's
``starting_after``, but opaque: base64url of ``[list, key]``, where ``list`` says which list
issued it, so that a cursor of one list handed to another is refused rather than misread.
"""

from __future__ import annotations

import base64
import binascii
import json

LIMIT_DEFAULT = 100
LIMIT_MAX = 500
KEY_MAX = 512  # characters of a sort key (ids and member values are far shorter)


class BadCursor(ValueError):
    """The cursor was not issued by this list."""


def encode(list_name: str, key: str) -> str:
    """Return the cursor that continues ``list_name`` after the item whose key is ``key``."""
    raw = json.dumps([list_name, key], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(list_name: str, cursor: str) -> str:
    """Return the key a cursor of ``list_name`` continues after, or raise BadCursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError are both
        raise BadCursor("not a cursor: pass next_cursor as it was given.") from None
    valid = (
        isinstance(found, list)
        and len(found) == 2
        and isinstance(found[1], str)
        and 0 < len(found[1]) <= KEY_MAX
    )
    if not valid:
        raise BadCursor("not a cursor: pass next_cursor as it was given.")
    if found[0] != list_name:
        raise BadCursor(f"this cursor continues another list, not {list_name}.")
    return found[1]


def listing(list_name: str, data: list, has_more: bool, last_key: str | None, seq: int) -> dict:
    """Return a page in the list envelope; ``last_key`` is the sort key of its last item."""
    more = has_more and last_key is not None
    return {
        "data": data,
        "has_more": more,
        "next_cursor": encode(list_name, last_key) if more else None,
        "seq": seq,
    }
