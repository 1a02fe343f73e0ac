"""Copies of stored documents, which the contract promises on every read and write."""

from __future__ import annotations

import copy
import marshal


def clone(value):
    """Return a deep copy of a JSON value (dicts, lists, strings, numbers, booleans, None).

    marshal copies these in C, five to ten times faster than ``copy.deepcopy``, which matters
    for a Group with 10,000 members. Anything marshal refuses falls back to ``deepcopy``.
    """
    try:
        return marshal.loads(marshal.dumps(value))
    except ValueError:  # not plain JSON types (a dict subclass, say)
        return copy.deepcopy(value)


def clone_resource(data: dict) -> dict:
    """Return a deep copy of a stored resource, faster than ``clone`` for a large Group.

    A Group's ``members`` are flat objects (RFC 7643 §4.2: their sub-attributes are all
    simple), so copying each one level deep copies it whole; that runs in C and shares the
    (immutable) strings, where marshal would rebuild every string of 10,000 members.
    """
    members = data.get("members")
    if not isinstance(members, list) or len(members) < 64:
        return clone(data)
    try:
        copied = list(map(dict, members))
    except (TypeError, ValueError):  # not a list of objects: copy it like the rest
        return clone(data)
    out = clone({k: None if k == "members" else v for k, v in data.items()})
    out["members"] = copied  # in its place: attribute order is kept
    return out
