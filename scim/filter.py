"""SCIM filters and attribute paths (RFC 7644 §3.4.2.2, §3.5.2): parse, print and evaluate.

Plain functions over dicts; nothing here imports Flask.

The AST (frozen dataclasses, so parsed filters can be compared and cached):
- ``AttrPath(urn, attr, sub)``: ``[urn:]attr[.sub]`` as written (names keep their case).
- ``Compare(path, op, value)``: ``op`` is lower-case, one of eq ne co sw ew gt ge lt le;
  ``value`` is str, bool, int, float or None (``null``).
- ``Present(path)``: ``attr pr``.
- ``And(left, right)``, ``Or(left, right)``, ``Not(expr)``.
- ``ValuePath(path, filter)``: ``emails[type eq "work"]``; paths inside ``filter`` are
  relative to the multi-valued attribute (``AttrPath(None, "type", None)``).
- ``PatchPath(path, filter, sub)``: a PATCH ``path`` (RFC 7644 §3.5.2 PATH grammar), e.g.
  ``emails[type eq "work"].value`` → ``PatchPath(AttrPath(None, "emails", None), <filter>,
  "value")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from scim.errors import InvalidFilter, InvalidPath  # noqa: F401  (raised by the parsers)


@dataclass(frozen=True)
class AttrPath:
    urn: str | None
    attr: str
    sub: str | None = None


@dataclass(frozen=True)
class Compare:
    path: AttrPath
    op: str
    value: str | bool | int | float | None


@dataclass(frozen=True)
class Present:
    path: AttrPath


@dataclass(frozen=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    expr: Expr


@dataclass(frozen=True)
class ValuePath:
    path: AttrPath
    filter: Expr


Expr = Union[Compare, Present, And, Or, Not, ValuePath]  # noqa: UP007


@dataclass(frozen=True)
class PatchPath:
    path: AttrPath
    filter: Expr | None = None
    sub: str | None = None
