"""The members of large Groups, kept rendered between requests.

Rendering 10,000 members for a response (each copied with its ``$ref``, projected, encoded)
costs more than the rest of a membership PATCH. IdPs change one member at a time, and the
members a write keeps are the very same objects before and after it (``scim.core.membership``, the
store), so the members of a response are usually those of the previous response of that group
with some appended, or less one: their JSON is spliced from the previous JSON rather than
rebuilt. Otherwise (a PUT, a reordering, another process's write) it is rendered anew.

The rendering depends only on the members (compared by identity, then by value) and on the key
it is kept under, which names the IdP, the group and the base URL of the ``$ref``s; so a stale
entry can cost a rendering, never a wrong answer. At most ``CACHED`` groups are kept, the least
recently rendered dropped first, and at most ``BUDGET`` bytes of JSON (a group of 100,000
members renders to 16 MB).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import orjson

from scim.core.membership import removed_one

# Groups smaller than this are rendered every time (it is fast, and keeps the cache small).
LEAST = 500
CACHED = 16
BUDGET = 64 * 1024 * 1024

Encode = Callable[[list], bytes]  # a list of members -> its JSON array


def names(resource: dict) -> tuple[str, ...]:
    """Return ``("members",)`` when ``resource``'s members are JSON rendered ahead (an
    ``orjson.Fragment``, see ``scim.groups.decorate``), which projection must pass through as
    they are; else ``()``. (One lookup per resource: a page of 100 Users asks 100 times.)"""
    return _MEMBERS if isinstance(resource.get("members"), orjson.Fragment) else ()


_MEMBERS = ("members",)


class Rendered:
    """A bounded cache of rendered member lists."""

    def __init__(self, size: int = CACHED, budget: int = BUDGET):
        self.size = size
        self.budget = budget
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[list, bytes]] = OrderedDict()
        self._bytes = 0

    def members(self, key: Hashable, members: list, encode: Encode) -> bytes:
        """Return ``encode(members)``, spliced from the last rendering under ``key`` if it can
        be. ``members`` is kept as it is: it must not be modified afterwards (a stored group's
        are never modified)."""
        with self._lock:
            entry = self._entries.get(key)
        data = splice(*entry, members, encode) if entry is not None else None
        if data is None:
            data = encode(members)
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous[1])
            if len(data) <= self.budget:
                self._entries[key] = (members, data)
                self._bytes += len(data)
            while len(self._entries) > self.size or self._bytes > self.budget:
                self._bytes -= len(self._entries.popitem(last=False)[1][1])
        return data

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


def splice(old: list, data: bytes, new: list, encode: Encode) -> bytes | None:
    """Return the JSON of ``new`` made from ``data``, the JSON of ``old``; None if ``new`` is
    not ``old`` with members appended, or less one member."""
    if len(new) >= len(old) and new[: len(old)] == old:
        return data if len(new) == len(old) else _join(data, encode(new[len(old) :]))
    at = removed_one(old, new)
    if at is None:
        return None
    return _cut(data, encode([old[at]])[1:-1])


def _join(first: bytes, second: bytes) -> bytes:
    """Concatenate two JSON arrays."""
    if first == b"[]":
        return second
    if second == b"[]":
        return first
    # One copy of each (slicing bytes would copy them once more: 1.6 MB is a millisecond).
    return b"".join((memoryview(first)[:-1], b",", memoryview(second)[1:]))


def _cut(data: bytes, element: bytes) -> bytes | None:
    """``data`` (a JSON array) less ``element`` (the JSON of one of its objects), or None
    unless it is found exactly once, whole.

    An object's JSON starts with ``{"``, which never occurs inside a JSON string (the quote
    would be escaped), so a match can only be an element."""
    if not element.startswith(b'{"'):
        return None
    at = data.find(element)
    if at < 1 or data.find(element, at + 1) != -1:
        return None
    end = at + len(element)
    before, after, view = data[at - 1 : at], data[end : end + 1], memoryview(data)
    if before == b"," and after in (b",", b"]"):
        return b"".join((view[: at - 1], view[end:]))
    if before == b"[" and after == b",":
        return b"".join((view[:at], view[end + 1 :]))
    if before == b"[" and after == b"]":
        return b"[]"
    return None
