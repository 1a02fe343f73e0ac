"""Evaluate parsed SCIM filters against resources (RFC 7644 §3.4.2.2).

Plain functions over dicts; nothing here imports Flask. Choices the RFC leaves open are listed
in ``scim.core.filter``'s docstring.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from scim.core.attributes import Attribute, ResourceType
from scim.core.errors import InvalidFilter
from scim.core.filter import (
    _NUMBER_RE,
    _TEXT_OPS,
    And,
    AttrPath,
    Expr,
    Not,
    Or,
    Present,
    ValuePath,
    _path_text,
    chain,
)

# --- evaluation -------------------------------------------------------------------------------

# ``schemas`` is no attribute (RFC 7643 §3), but RFC 7644 §3.4.2.2 filters on it in an example.
_SCHEMAS = Attribute("schemas", type="reference", multi_valued=True)

# A lookup turns a path into (the values it reaches, the attribute describing them), or None
# when the path names no attribute.
_Lookup = Callable[[AttrPath], tuple[list, Attribute] | None]


def matches(expr: Expr, resource: dict, rtype: ResourceType) -> bool:
    """Return whether a stored ``resource`` of type ``rtype`` satisfies ``expr``.

    Paths resolve through ``rtype.resolve``; a path that names no attribute behaves like an
    attribute without a value. Raises InvalidFilter for comparisons RFC 7644 §3.4.2.2 rules out.
    """

    def lookup(path: AttrPath) -> tuple[list, Attribute] | None:
        resolved = rtype.resolve(path.urn, path.attr, path.sub)
        if resolved is None:
            if path.urn is None and path.sub is None and path.attr.lower() == "schemas":
                return _as_list(resource.get("schemas")), _SCHEMAS
            return None
        holder = resource if resolved.extension is None else resource.get(resolved.extension)
        if not isinstance(holder, dict):
            return [], resolved.target
        values = _as_list(holder.get(resolved.attribute.name))
        if resolved.sub is not None:
            values = [v.get(resolved.sub.name) for v in values if isinstance(v, dict)]
            values = [x for v in values for x in _as_list(v)]
        return values, resolved.target

    def value_path(expr: ValuePath) -> bool:
        found = lookup(expr.path)
        if found is None:
            return False
        elements, attribute = found
        return any(
            element_matches(expr.filter, e, attribute) for e in elements if isinstance(e, dict)
        )

    return _evaluate(expr, lookup, value_path)


def element_matches(expr: Expr, element: dict, attribute: Attribute) -> bool:
    """Return whether one element of a multi-valued complex ``attribute`` satisfies ``expr``.

    This is the inside of a value path (``emails[type eq "work"]``, RFC 7644 §3.4.2.2 and
    §3.5.2): paths name sub-attributes of ``attribute``.
    """

    def lookup(path: AttrPath) -> tuple[list, Attribute] | None:
        sub = attribute.sub(path.attr) if path.urn is None and path.sub is None else None
        return (_as_list(element.get(sub.name)), sub) if sub else None

    def value_path(expr: ValuePath) -> bool:
        raise InvalidFilter("Value paths cannot nest.")

    return _evaluate(expr, lookup, value_path)


def _evaluate(expr: Expr, lookup: _Lookup, value_path: Callable[[ValuePath], bool]) -> bool:
    if isinstance(expr, And):
        return all(_evaluate(e, lookup, value_path) for e in chain(expr))
    if isinstance(expr, Or):
        return any(_evaluate(e, lookup, value_path) for e in chain(expr))
    if isinstance(expr, Not):
        return not _evaluate(expr.expr, lookup, value_path)
    if isinstance(expr, ValuePath):
        return value_path(expr)
    found = lookup(expr.path)
    values, attribute = found if found else ([], None)
    if isinstance(expr, Present):
        # RFC 7644 §3.4.2.2 pr: a non-empty value, or a complex value with a non-empty node.
        return any(_has_value(v) for v in values)
    if attribute is not None and attribute.type == "complex":
        # RFC 7644 §3.4.2.2: "emails co ..." on a multi-valued complex attribute compares the
        # elements' "value"; we extend that to single-valued ones such as manager.
        attribute, values = _value_sub_attribute(expr.path, attribute, values)
    present = [v for v in values if _has_value(v)]
    if expr.value is None:
        # Not in the RFC: "eq null" holds when the attribute is unassigned, which RFC 7643 §2.5
        # treats like null; "ne null" is then the same as "pr".
        if expr.op in ("eq", "ne"):
            return (expr.op == "eq") != bool(present)
        return False
    if not present:
        # An unassigned value is not equal to anything, so "ne" holds (RFC 7643 §2.5 treats
        # unassigned as null); every other comparison fails.
        return expr.op == "ne"
    assert attribute is not None  # values are present only where the attribute was found
    # RFC 7644 §3.4.2.2: a multi-valued attribute matches if any of its values matches.
    return any(_compare(v, expr.op, expr.value, attribute) for v in present)


def _value_sub_attribute(path: AttrPath, attribute: Attribute, values: list) -> tuple:
    value_attr = attribute.sub("value")
    if value_attr is None:
        raise InvalidFilter(f"{_path_text(path)} is complex: compare one of its sub-attributes.")
    return value_attr, [v.get(value_attr.name) for v in values if isinstance(v, dict)]


def _compare(actual: object, op: str, expected: object, attribute: Attribute) -> bool:
    kind = attribute.type
    if kind in ("boolean", "binary") and op in ("gt", "ge", "lt", "le"):
        # RFC 7644 §3.4.2.2: gt/ge/lt/le on boolean or binary attributes is an invalidFilter.
        raise InvalidFilter(f"{op} cannot compare {kind} attribute {attribute.name}.")
    if op in _TEXT_OPS and kind in ("boolean", "integer", "decimal", "binary"):
        # co/sw/ew are string operators; on other types we answer invalidFilter, not "false".
        raise InvalidFilter(f"{op} needs a string attribute; {attribute.name} is {kind}.")
    if kind in ("boolean", "integer", "decimal") or (kind == "dateTime" and op not in _TEXT_OPS):
        left, right = comparable(actual, attribute), comparable(expected, attribute)
        if kind == "dateTime" and right is None:
            raise InvalidFilter(f"{expected!r} is not a dateTime (RFC 3339) value.")
    else:
        # Text: strings, references, binaries, and co/sw/ew on dateTimes. A bare number or
        # boolean in the filter stands for its JSON text (employeeNumber eq 42).
        text = replace(attribute, type="string") if kind == "dateTime" else attribute
        right = expected if isinstance(expected, str) else json.dumps(expected)
        left, right = comparable(actual, text), comparable(right, text)
    if left is None or right is None:
        return False
    return _OPERATIONS[op](left, right)


def comparable(value: object, attribute: Attribute) -> Any:
    """Return ``value`` in the form filters and sorting compare it, or None if it has none.

    RFC 7644 §3.4.2.2 and §3.4.2.3: strings compare case-insensitively unless the attribute is
    caseExact, dateTimes chronologically, booleans and numbers by value.
    """
    kind = attribute.type
    if kind == "boolean":
        return _as_bool(value)
    if kind in ("integer", "decimal"):
        return _as_number(value)
    if kind == "dateTime":
        return _as_datetime(value)
    if not isinstance(value, str):
        return None
    # Base64 (binary) is case-sensitive whatever the schema says.
    return value if attribute.case_exact or kind == "binary" else value.casefold()


_OPERATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "co": lambda a, b: b in a,
    "sw": lambda a, b: a.startswith(b),
    "ew": lambda a, b: a.endswith(b),
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def _as_list(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _has_value(value: object) -> bool:
    if isinstance(value, dict):
        return any(_has_value(v) for v in value.values())
    return value is not None and value != "" and value != []


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    # Entra ID sends booleans as strings ("True", "False").
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _as_number(value: object) -> int | float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _NUMBER_RE.fullmatch(value):
        return float(value) if not value.lstrip("-").isdigit() else int(value)
    return None


def _as_datetime(value: object) -> datetime | None:
    """Parse an RFC 3339 dateTime (RFC 7643 §2.3.5); a naive value is taken as UTC."""
    if not isinstance(value, str):
        return None
    text = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
