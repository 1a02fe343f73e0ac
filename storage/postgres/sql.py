"""SCIM filters and ``sortBy`` as SQL over the ``resources`` table (see ``pg_schema``).

A filter translates to a condition that is either *exact* (it selects precisely what
``scim.core.evaluate.matches`` accepts, so counting, ordering and paging can happen in SQL) or only
*narrowing* (a superset of the matches: the store evaluates the whole filter in Python on what
it returns). Parts with no translation narrow nothing. Exact translations exist for the
attributes with a column, compared the way ``scim.core.evaluate`` compares them:

- ``id`` and ``externalId`` (caseExact, RFC 7643 §3.1): the text as stored;
- ``userName`` of Users and ``displayName`` of Groups: ``unique_name``, folded by Python's
  ``str.casefold`` on write and on the filter's value here, so folding matches exactly (SQL's
  ``lower`` does not fold "ß" to "ss");
- ``members.value eq`` and ``members[value eq ...]`` of Groups: the ``members`` table.

Strings order by code point (``COLLATE "C"``), as Python compares them. Everything else (other
attributes, types with their own comparison rules) is left to Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from scim.core.errors import InvalidFilter
from scim.core.filter import (
    And,
    AttrPath,
    Compare,
    Expr,
    Not,
    Or,
    Present,
    ValuePath,
    chain,
    parse_attr_path,
)
from scim.core.schemas import RESOURCE_TYPES
from storage.interface import UNIQUE, fold


@dataclass(frozen=True)
class Condition:
    """A SQL boolean expression that is never NULL, with its parameters."""

    sql: str
    params: tuple
    exact: bool


def _column(kind: str, path: AttrPath) -> tuple[str, bool] | None:
    """Return (column, whether it holds folded text) for a path a column answers."""
    rtype = RESOURCE_TYPES[kind]
    resolved = rtype.resolve(path.urn, path.attr, path.sub) if path.attr else None
    if resolved is None or resolved.extension is not None or resolved.sub is not None:
        return None
    name = resolved.attribute.name
    if name == "id":
        return "r.id", False
    if name == "externalId":
        return "r.external_id", False
    if name == UNIQUE[kind]:
        return "r.unique_name", True
    return None


_LIKE = {"sw": "{}%", "ew": "%{}", "co": "%{}%"}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _compare(column: str, folded: bool, op: str, value: object) -> Condition:
    # An empty string is no value (scim.core.evaluate: _has_value), like a missing one.
    present = f"({column} IS NOT NULL AND {column} <> '')"
    if value is None:
        # "eq null" holds when the attribute is unassigned; "ne null" is "pr"; others are false.
        sql = {"eq": f"NOT {present}", "ne": present}.get(op, "false")
        return Condition(sql, (), True)
    # A bare number or boolean compares as its JSON text (userName eq 42), as in Python.
    text = value if isinstance(value, str) else json.dumps(value)
    text = fold(text) if folded else text
    if op == "ne":
        # An unassigned value is not equal to anything.
        return Condition(f"(NOT {present} OR {column} <> %s)", (text,), True)
    if op in _LIKE:
        pattern = _LIKE[op].format(_escape_like(text))
        return Condition(f"({present} AND {column} LIKE %s)", (pattern,), True)
    sign = {"eq": "=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}[op]
    return Condition(f'({present} AND {column} COLLATE "C" {sign} %s)', (text,), True)


def _member_value(kind: str, expr: Expr) -> str | None:
    """Return X for ``members.value eq X`` or ``members[value eq X]`` on Groups, else None."""
    if kind != "Group":
        return None
    if isinstance(expr, ValuePath) and expr.path.attr.lower() == "members":
        inner = expr.filter
        if (
            isinstance(inner, Compare)
            and inner.path.attr.lower() == "value"
            and not (inner.path.urn or inner.path.sub)
        ):
            expr = Compare(AttrPath(None, "members", "value"), inner.op, inner.value)
    if not (isinstance(expr, Compare) and expr.op == "eq" and isinstance(expr.value, str)):
        return None
    path = expr.path
    core = path.urn is None or path.urn.lower() == RESOURCE_TYPES[kind].schema.id.lower()
    if core and path.attr.lower() == "members" and (path.sub or "value").lower() == "value":
        return expr.value
    return None


def translate(kind: str, expr: Expr) -> Condition | None:
    """Return the condition for ``expr``, or None when SQL cannot narrow it at all."""
    if isinstance(expr, And):
        parts = [translate(kind, e) for e in chain(expr)]
        found = [p for p in parts if p is not None]
        if not found:
            return None
        exact = len(found) == len(parts) and all(p.exact for p in found)
        return _join(" AND ", found, exact)
    if isinstance(expr, Or):
        parts = [translate(kind, e) for e in chain(expr)]
        found = [p for p in parts if p is not None]
        if len(found) < len(parts):
            return None  # one untranslatable branch could match anything
        return _join(" OR ", found, all(p.exact for p in found))
    if isinstance(expr, Not):
        inner = translate(kind, expr.expr)
        # Negating a superset gives no superset: only an exact condition can be negated.
        return Condition(f"NOT {inner.sql}", inner.params, True) if inner and inner.exact else None
    member = _member_value(kind, expr)
    if member is not None:
        sql = "EXISTS (SELECT 1 FROM members m WHERE m.group_id = r.id AND m.member_id = %s)"
        return Condition(sql, (fold(member),), True)
    if isinstance(expr, ValuePath):
        return None
    located = _column(kind, expr.path)
    if located is None:
        return None
    column, folded = located
    if isinstance(expr, Present):
        return Condition(f"({column} IS NOT NULL AND {column} <> '')", (), True)
    return _compare(column, folded, expr.op, expr.value)


def _join(word: str, parts: list[Condition], exact: bool) -> Condition:
    sql = "(" + word.join(p.sql for p in parts) + ")"
    return Condition(sql, tuple(x for p in parts for x in p.params), exact)


# meta.created and meta.lastModified are written by the store in one format
# (``storage.stamps.now``), so their text orders chronologically.
_META_ORDER = {"created", "lastModified"}


def sort_key(kind: str, sort_by: str | None) -> str | None:
    """Return the SQL expression resources are ordered by, or None when Python must sort."""
    if not sort_by:
        return "r.seq"
    rtype = RESOURCE_TYPES[kind]
    try:
        path = parse_attr_path(sort_by, rtype.schema_ids)
    except InvalidFilter:
        return None
    resolved = rtype.resolve(path.urn, path.attr, path.sub) if path.attr else None
    if resolved is None or resolved.extension is not None:
        return None
    found = _column(kind, path)
    if found is not None:
        return found[0]
    if resolved.attribute.name == "meta" and resolved.sub and resolved.sub.name in _META_ORDER:
        return f"(r.data->'meta'->>'{resolved.sub.name}') COLLATE \"C\""
    return None


def page_query(where: str, key: str, descending: bool) -> str:
    """Return one statement that yields (total, data) for a page: the number of all matches
    beside each resource of the page, in order (one row with NULL data if the page is empty).
    Parameters: those of ``where`` twice, then OFFSET and LIMIT (NULL: no limit).

    One statement reads one snapshot, so the total and the page always agree, in one round
    trip. RFC 7644 §3.4.2.3: resources without a value come last ascending and first
    descending; ties keep creation order either way (``scim.core.projection.sort_resources``).
    """
    direction = "DESC NULLS FIRST" if descending else "ASC NULLS LAST"
    return (
        f"SELECT t.total, p.data FROM (SELECT count(*) AS total FROM resources r WHERE {where}) t"
        f" LEFT JOIN (SELECT {key} AS k, r.seq AS s, r.data FROM resources r WHERE {where}"
        f" ORDER BY k {direction}, s OFFSET %s LIMIT %s) p ON true ORDER BY p.k {direction}, p.s"
    )
