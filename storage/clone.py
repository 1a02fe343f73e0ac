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
