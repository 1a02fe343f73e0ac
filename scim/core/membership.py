"""Membership PATCHes on Groups in time proportional to the change, not to the group.

Entra ID, Okta and JumpCloud keep group membership in sync one PATCH at a time, with
operations of three shapes:

    {"op": "add", "path": "members", "value": [{"value": "<id>"}, ...]}
    {"op": "remove", "path": "members[value eq \\"<id>\\"]"}
    {"op": "remove", "path": "members", "value": [{"value": "<id>"}, ...]}

The general engine copies the whole resource (``scim.core.patch``) and the result is validated
again member by member (``scim.core.models``): about a second for a group of 10,000. ``plan``
recognises a PATCH made only of these shapes, and ``apply`` carries it out on the members it
names, with the same result as ``apply_patch`` followed by ``load_resource`` (``tests/
test_membership.py`` checks the two against each other). Anything else, and any value that
does not validate, goes through the general engine, which also words the errors.

Plain functions over dicts; nothing here imports Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress
from operator import eq, is_, itemgetter, not_

from scim.core.attributes import ResourceType
from scim.core.errors import InvalidFilter, InvalidPath, InvalidValue
from scim.core.filter import Compare, parse_path
from scim.core.models import load_values

MEMBERS = "members"


@dataclass(frozen=True)
class Step:
    """One operation: ``add`` these raw elements, or ``remove`` by exact or folded value."""

    op: str  # "add", "remove" (exact values) or "remove_folded" (value eq, case-insensitive)
    values: tuple


def plan(operations: list[dict], rtype: ResourceType) -> list[Step] | None:
    """Return the steps of a PATCH made only of membership adds and removes, or None."""
    members = rtype.schema.attribute(MEMBERS)
    if members is None or not (members.multi_valued and members.type == "complex"):
        return None
    steps = [_step(op, rtype) for op in operations]
    found = [step for step in steps if step is not None]
    return found if len(found) == len(steps) else None


def _step(operation: dict, rtype: ResourceType) -> Step | None:
    op, path, value = operation["op"], operation.get("path"), operation.get("value")
    if op not in ("add", "remove") or not path:
        return None
    try:
        parsed = parse_path(path, rtype.schema_ids)
    except (InvalidFilter, InvalidPath):
        return None
    target = parsed.path
    if target.sub is not None or parsed.sub is not None or target.attr.lower() != MEMBERS:
        return None
    if target.urn is not None and target.urn.lower() != rtype.schema.id.lower():
        return None
    if parsed.filter is not None:
        return _filtered_remove(op, parsed.filter, value)
    items: list = value if isinstance(value, list) else [value]
    if not all(isinstance(item, dict) for item in items):
        return None  # the general engine words the error
    if op == "add":
        return Step("add", tuple(items))
    ids = [_value_of(item) for item in items]
    if value is None or any(not isinstance(v, str) for v in ids):
        return None  # "remove all members", or removal by other sub-attributes
    return Step("remove", tuple(ids))


def _filtered_remove(op: str, expr: object, value: object) -> Step | None:
    # members[value eq "id"]: RFC 7644 §3.5.2.2. members.value is not caseExact, so the
    # comparison folds case (RFC 7644 §3.4.2.2), as scim.core.evaluate does.
    if op != "remove" or value is not None or not isinstance(expr, Compare):
        return None
    path = expr.path
    if expr.op != "eq" or path.urn is not None or path.sub is not None:
        return None
    if path.attr.lower() != "value" or not isinstance(expr.value, str) or not expr.value:
        return None
    return Step("remove_folded", (expr.value.casefold(),))


def _value_of(item: dict) -> object:
    """The element's ``value``, its name matched case-insensitively as the engine does."""
    found = None
    for key, value in item.items():
        if key.lower() == "value":
            found = value
    return found


def _value_list(members: list) -> list:
    """The members' values (None where there is none), gathered in C when every member has
    one: a group may have 100,000 members, and one pass over them is most of a PATCH."""
    try:
        return list(map(itemgetter("value"), members))
    except (KeyError, TypeError):
        return [m.get("value") if isinstance(m, dict) else None for m in members]


def _folded_matches(values: list, folded: str) -> set:
    """The strings of ``values`` whose case-folded form is ``folded``."""
    try:
        strings, joined = values, "\x00".join(values)
    except TypeError:  # some are not strings
        strings = [v for v in values if isinstance(v, str)]
        joined = "\x00".join(strings)
    if joined.casefold() == joined:  # no value changes when folded (ids usually don't)
        return {folded} if folded in strings else set()
    return set(compress(strings, map(folded.__eq__, map(str.casefold, strings))))


def _without(members: list, values: list, gone: set) -> tuple[list, list]:
    """``members`` and their ``values`` less those whose value is in ``gone`` (strings)."""
    if len(gone) == 1:  # what IdPs send: one member out, found and cut out in C
        (value,) = gone
        if values.count(value) == 1:
            at = values.index(value)
            return members[:at] + members[at + 1 :], values[:at] + values[at + 1 :]
    try:
        keep = list(map(not_, map(gone.__contains__, values)))
    except TypeError:  # an unhashable value, which no string in gone equals
        keep = [not (isinstance(v, str) and v in gone) for v in values]
    return list(compress(members, keep)), list(compress(values, keep))


def apply(resource: dict, steps: list[Step], rtype: ResourceType) -> tuple[dict, list] | None:
    """Return (``resource`` with ``steps`` applied, as ``load_resource`` would return it but
    without ``id`` and ``meta``; the members it added), or None if an added value does not
    validate.

    ``resource`` is not modified, and the members it keeps are the same objects in the result:
    like the stored group they come from, they must not be modified. The added ones are new
    objects, the only ones a caller needs to check."""
    members = list(resource.get(MEMBERS) or ())
    values = _value_list(members)
    # A few values are looked up by scanning the list (in C); many, in a set built once.
    many = sum(len(step.values) for step in steps) > 16
    present: set | list = _set_or_list(values) if many else values
    added: list[dict] = []
    for step in steps:
        if step.op == "add":
            try:
                loaded = load_values(rtype, MEMBERS, list(step.values))
            except InvalidValue:
                return None
            for member in loaded:
                # RFC 7644 §3.5.2.1: adding a value already there changes nothing.
                if member["value"] not in present:
                    members.append(member)
                    values.append(member["value"])
                    added.append(member)
                    if isinstance(present, set):  # else it is ``values`` itself
                        present.add(member["value"])
            continue
        folded = step.op == "remove_folded"
        gone = _folded_matches(values, step.values[0]) if folded else set(step.values)
        if any(value in present for value in gone):
            members, values = _without(members, values, gone)
            present = present - gone if isinstance(present, set) else values
    # The stored resource is in load_resource's key order; members keep their place.
    out = {k: v for k, v in resource.items() if k not in ("id", "meta")}
    out[MEMBERS] = members
    if not members:
        del out[MEMBERS]  # RFC 7644 §3.5.2.2: no values left is unassigned
    return out, [m for m in added if m["value"] in present]


def _set_or_list(values: list) -> set | list:
    try:
        return set(values)
    except TypeError:  # an unhashable value: scan the list instead
        return values


def removed_one(before: list, after: list) -> int | None:
    """The index of the one element of ``before`` that ``after`` lacks, when ``after`` is
    ``before`` less that element; else None.

    Compared in C, and by identity before equality: after a membership PATCH the members
    kept are the very same objects, so a 10,000-member list is checked in well under a
    millisecond (the store's journal and the response's rendered members both use this)."""
    if len(after) != len(before) - 1:
        return None
    same = list(map(is_, before, after))
    at = same.index(False) if False in same else len(after)
    if after[at:] == before[at + 1 :]:
        return at
    # Equal members that are not the same objects (a backend that reads copies): compare by
    # value from where identity stopped.
    equal = list(map(eq, before[at:], after[at:]))
    at += equal.index(False) if False in equal else len(equal)
    return at if after[at:] == before[at + 1 :] else None
