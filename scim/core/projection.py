"""Which attributes a response carries, and in what order resources are listed.

RFC 7644 §3.4.2.5 and §3.9 (``attributes``, ``excludedAttributes``), RFC 7643 §2.2
(``returned``) and RFC 7644 §3.4.2.3 (``sortBy``, ``sortOrder``). Plain functions over stored
resource dicts; nothing here imports Flask.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from scim.core.attributes import Attribute, ResourceType
from scim.core.errors import InvalidFilter, InvalidValue
from scim.core.evaluate import comparable
from scim.core.filter import parse_attr_path

_Key = tuple[str | None, str]  # (extension URN or None, canonical top-level attribute name)


@dataclass
class _Selection:
    """The names of one ``attributes`` or ``excludedAttributes`` list, resolved."""

    whole: set[_Key] = field(default_factory=set)  # attributes named whole
    subs: dict[_Key, set[str]] = field(default_factory=dict)  # sub-attributes named
    schemas: set[str | None] = field(default_factory=set)  # bare URNs; None is the core schema


def split_attribute_list(value: str | list[str] | None) -> list[str] | None:
    """Split ``attributes=a, b`` (or a list of such strings) into names; None if there are none.

    RFC 7644 §3.9: the parameters are comma-separated lists. Spaces around names and empty
    entries are dropped, so ``attributes=`` means "not given".
    """
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    names = [part.strip() for item in items for part in item.split(",")]
    return [name for name in names if name] or None


def project(
    resource: dict,
    rtype: ResourceType,
    attributes: list[str] | None = None,
    excluded: list[str] | None = None,
    *,
    rendered: Collection[str] = (),
) -> dict:
    """Return ``resource`` holding only the attributes a response may carry, as a new dict
    that shares the elements of multi-valued complex attributes returned whole (read-only).

    ``returned`` (RFC 7643 §2.2) decides first: "never" is dropped, "always" kept, "request"
    only when named in ``attributes``. ``attributes`` then narrows the default set and
    ``excluded`` removes from it (RFC 7644 §3.9). Names are case-insensitive, may be
    URN-qualified or a bare schema URN; unknown names are ignored. ``schemas`` is always kept.

    ``rendered`` names top-level attributes whose values the caller has already projected
    (a rendering it reuses, see ``Shown.whole``): they are kept as they are.
    """
    wanted_names = split_attribute_list(attributes)
    wanted = _select(rtype, wanted_names) if wanted_names is not None else None
    dropped = _select(rtype, split_attribute_list(excluded) or [])
    out: dict = {}
    for name, value in resource.items():
        if name in rendered:
            out[name] = value
            continue
        if name == "schemas":
            out[name] = copy.deepcopy(value)  # not an attribute, and always returned
            continue
        urn = name.lower().startswith("urn:")
        extension = _memo(rtype, "extension", name, rtype.extension) if urn else None
        if extension is not None:
            if isinstance(value, dict):
                lookup = partial(_memo, extension, "attribute", find=extension.attribute)
                inner = _project_object(value, extension.id, lookup, wanted, dropped)
                if inner:  # an extension left empty is omitted
                    out[name] = inner
            continue
        core = _memo(rtype, "core", name, partial(rtype.resolve, rtype.schema.id))
        # Keys that are no attribute of the type are dropped rather than leaked.
        kept = _project_value(core.attribute, None, value, wanted, dropped) if core else None
        if kept is not None:
            out[name] = kept
    return out


# Name lookups scan a schema's attributes; a page of 100 resources repeats the same few
# hundred times. Keyed by the id of the (module-constant) schema object, which each entry
# keeps alive so that the id cannot be reused; bounded, since names come from the data.
_MEMO: dict[tuple[int, str, str], tuple[object, object]] = {}
_MEMO_SIZE = 4096


def _memo(owner: object, kind: str, name: str, find: Callable[[str], object]) -> Any:
    """Return ``find(name)``, remembered per ``owner``."""
    key = (id(owner), kind, name)
    hit = _MEMO.get(key)
    if hit is None or hit[0] is not owner:
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.clear()
        hit = _MEMO[key] = (owner, find(name))
    return hit[1]


def _select(rtype: ResourceType, names: Iterable[str]) -> _Selection:
    selection = _Selection()
    for name in names:
        try:
            path = parse_attr_path(name, rtype.schema_ids)
        except InvalidFilter:
            continue  # unknown (here: unparseable) names are ignored
        if not path.attr:
            assert path.urn is not None  # a path without an attribute is a bare schema URN
            extension = rtype.extension(path.urn)
            if extension is not None:
                selection.schemas.add(extension.id)
            elif path.urn.lower() == rtype.schema.id.lower():
                selection.schemas.add(None)
            continue
        resolved = rtype.resolve(path.urn, path.attr, path.sub)
        if resolved is None:
            continue
        key = (resolved.extension, resolved.attribute.name)
        if resolved.sub is None:
            selection.whole.add(key)
        else:
            selection.subs.setdefault(key, set()).add(resolved.sub.name)
    return selection


def _project_object(
    obj: dict,
    extension: str | None,
    lookup: Callable[[str], Attribute | None],
    wanted: _Selection | None,
    dropped: _Selection,
) -> dict:
    out = {}
    for name, value in obj.items():
        attribute = lookup(name)
        kept = _project_value(attribute, extension, value, wanted, dropped) if attribute else None
        if kept is not None:
            out[name] = kept
    return out


def _project_value(
    attribute: Attribute,
    extension: str | None,
    value: object,
    wanted: _Selection | None,
    dropped: _Selection,
) -> object:
    """Return the part of ``value`` to keep, or None to leave the attribute out."""
    key = (extension, attribute.name)
    if not _keeps(attribute, key, wanted, dropped):
        return None
    if attribute.type != "complex":
        return copy.deepcopy(value)
    # Decided once per sub-attribute name, not once per element: a Group has 10,000 members.
    decided: dict[str, bool] = {}
    kept_names: set[str] = set()

    def keeps(name: str) -> bool:
        kept = decided.get(name)
        if kept is None:
            sub = _memo(attribute, "sub", name, attribute.sub)
            kept = decided[name] = bool(sub) and _keeps_sub(attribute, sub, key, wanted, dropped)
            if kept:
                kept_names.add(name)
        return kept

    if isinstance(value, list) and _kept_whole(value, keeps):
        # Every element is an object whose sub-attributes are all returned: the elements go
        # out as they are, shared rather than copied (checked in C, not element by element:
        # a Group has 10,000 members). The result is read-only, like its input.
        return list(value)

    def keep_element(element: object) -> dict:
        if not isinstance(element, dict):
            return {}
        if element.keys() <= kept_names:
            # Sub-attributes hold simple values (RFC 7643 §2.3.8), so a copy one level deep is
            # a whole copy, made in C.
            return dict(element)
        return {name: _copy(sub_value) for name, sub_value in element.items() if keeps(name)}

    if isinstance(value, list):
        return [kept for element in value if (kept := keep_element(element))] or None
    return keep_element(value) or None


def _kept_whole(elements: list, keeps: Callable[[str], bool]) -> bool:
    """Whether ``elements`` are non-empty objects and every sub-attribute they hold is kept."""
    if not elements or set(map(type, elements)) != {dict} or not all(elements):
        return False
    return all(keeps(name) for name in set().union(*elements))


class Shown:
    """Which core attributes a response carries, for callers that derive attributes (a
    Group's members' ``$ref``, a User's ``groups``) and need not derive what it leaves out.

    ``shown(name)``: the attribute is returned, whole or in part. ``shown.whole(name)``: it is
    returned as ``project`` returns it without ``attributes`` or ``excludedAttributes`` (no
    sub-attribute named in either), so a rendering of it may be reused.
    """

    def __init__(
        self,
        rtype: ResourceType,
        attributes: list[str] | None = None,
        excluded: list[str] | None = None,
    ):
        names = split_attribute_list(attributes)
        self._rtype = rtype
        self._wanted = _select(rtype, names) if names is not None else None
        self._dropped = _select(rtype, split_attribute_list(excluded) or [])

    def __call__(self, name: str) -> bool:
        attribute = self._rtype.schema.attribute(name)
        return attribute is not None and _keeps(
            attribute, (None, attribute.name), self._wanted, self._dropped
        )

    def whole(self, name: str) -> bool:
        attribute = self._rtype.schema.attribute(name)
        if attribute is None or not self(name):
            return False
        key, wanted = (None, attribute.name), self._wanted
        if key in self._dropped.subs or (wanted is not None and key in wanted.subs):
            return False
        return wanted is None or key in wanted.whole or None in wanted.schemas


def _copy(value: object) -> object:
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


def _keeps(attribute: Attribute, key: _Key, wanted: _Selection | None, dropped: _Selection) -> bool:
    # RFC 7643 §2.2: "never" is never returned, "always" whatever the parameters say.
    if attribute.returned == "never":
        return False
    if attribute.returned == "always":
        return True
    if key in dropped.whole or key[0] in dropped.schemas:
        return False
    if wanted is None:
        return attribute.returned == "default"
    if key in wanted.whole or key in wanted.subs:
        return True
    # A bare schema URN names its default attributes; "request" ones must be named themselves.
    return key[0] in wanted.schemas and attribute.returned == "default"


def _keeps_sub(
    attribute: Attribute, sub: Attribute, key: _Key, wanted: _Selection | None, dropped: _Selection
) -> bool:
    if sub.returned in ("never", "always"):
        return sub.returned == "always"
    if sub.name in dropped.subs.get(key, ()):
        return False
    if wanted is not None and sub.name in wanted.subs.get(key, ()):
        return True
    # Naming (or keeping) a complex attribute whole returns its default sub-attributes; naming
    # only some of its sub-attributes returns just those.
    whole = (
        wanted is None
        or attribute.returned == "always"
        or key in wanted.whole
        or key[0] in wanted.schemas
    )
    return whole and sub.returned == "default"


# --- sorting ----------------------------------------------------------------------------------


def sort_key(rtype: ResourceType, sort_by: str) -> Callable[[dict], tuple]:
    """Return a ``sorted()`` key that orders resources by ``sort_by`` (RFC 7644 §3.4.2.3).

    Values compare by the attribute's type (strings case-insensitively unless caseExact); a
    multi-valued attribute contributes its primary value, else its first. Resources without a
    value get a key greater than every value: last when ascending, and first when the same key
    is used with ``reverse=True``, as §3.4.2.3 asks. Raises InvalidValue for a ``sort_by`` that
    names no sortable attribute.
    """
    try:
        path = parse_attr_path(sort_by, rtype.schema_ids)
    except InvalidFilter:
        raise InvalidValue(f"sortBy {sort_by!r} is not an attribute path.") from None
    resolved = rtype.resolve(path.urn, path.attr, path.sub) if path.attr else None
    if resolved is None:
        raise InvalidValue(f"sortBy {sort_by!r} names no attribute of {rtype.name}.")
    top, sub = resolved.attribute, resolved.sub
    if sub is None and top.type == "complex":
        # RFC 7644 §3.4.2.3: a complex attribute is sorted by a sub-attribute; for a
        # multi-valued one (emails) we take the elements' "value".
        sub = top.sub("value") if top.multi_valued else None
        if sub is None:
            raise InvalidValue(f"sortBy {sort_by!r} is complex: name a sub-attribute.")

    def key(resource: dict) -> tuple:
        holder = resource.get(resolved.extension) if resolved.extension else resource
        value = holder.get(top.name) if isinstance(holder, dict) else None
        if isinstance(value, list):
            value = _primary_or_first(value, sub)
        elif sub is not None:
            value = value.get(sub.name) if isinstance(value, dict) else None
        sortable = comparable(value, sub or top)
        return (1,) if sortable is None else (0, sortable)

    return key


def _primary_or_first(values: list, sub: Attribute | None) -> object:
    """RFC 7644 §3.4.2.3: the primary value, if any, or else the first value."""
    if sub is None:
        return next((v for v in values if v is not None), None)
    elements = [e for e in values if isinstance(e, dict) and e.get(sub.name) is not None]
    # RFC 7643 §2.4 "primary" is a boolean; Entra sends it as the string "True".
    primary = next((e for e in elements if str(e.get("primary")).lower() == "true"), None)
    element = primary or (elements[0] if elements else None)
    return element.get(sub.name) if element else None


def sort_resources(
    resources: list[dict], rtype: ResourceType, sort_by: str | None, descending: bool = False
) -> list[dict]:
    """Return ``resources`` ordered by ``sort_by`` (unchanged order if None), stably.

    RFC 7644 §3.4.2.3: resources without a value come last when ascending and first when
    descending; resources with equal values keep their relative order either way.
    """
    if not sort_by:
        return list(resources)
    # sorted(reverse=True) keeps equal keys in their original order, unlike reversing a list.
    return sorted(resources, key=sort_key(rtype, sort_by), reverse=descending)
