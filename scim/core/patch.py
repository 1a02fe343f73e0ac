"""The PATCH engine (RFC 7644 §3.5.2): apply add, remove and replace operations to a resource.

Plain functions over dicts; nothing here imports Flask. ``apply_patch`` works on a deep copy, so
a failing operation leaves the caller's resource as it was (§3.5.2: "A patch request, regardless
of the number of operations, SHALL be treated as atomic"). Values are written as given, under
canonical attribute names; the caller re-validates the result and coerces types.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal, overload

from scim.core.attributes import Attribute, ResourceType, Schema, split_urn
from scim.core.errors import InvalidPath, InvalidValue, Mutability, NoTarget
from scim.core.evaluate import element_matches
from scim.core.filter import And, Compare, Expr, PatchPath, parse_path

# Read-only attributes that clients echo back inside a no-path value: Okta's rename PATCH
# re-sends ``id`` (docs/idp/behaviour.md#okta), and bodies carry ``meta`` and ``groups``
# (docs/idp/behaviour.md#every-client).
_ECHOED = frozenset({"id", "meta", "schemas", "groups"})


@dataclass(frozen=True)
class _Target:
    """A resolved path: the extension holding it, the attribute, sub-attribute and filter."""

    extension: str | None
    attribute: Attribute
    sub: Attribute | None = None
    filter: Expr | None = None

    @property
    def selects(self) -> bool:
        """Whether the path picks elements (``emails[type eq "work"]``, ``emails.value``)."""
        return self.attribute.multi_valued and (self.filter is not None or self.sub is not None)


def apply_patch(resource: dict, operations: list[dict], rtype: ResourceType) -> dict:
    """Return a copy of ``resource`` with the PATCH ``operations`` applied in order.

    ``operations`` are validated ``{"op", "path", "value"}`` dicts whose ``op`` is lower-case.
    Raises a ``ScimError`` if any operation fails; ``resource`` itself is never modified and
    ``meta`` is left for the caller to update.
    """
    result = copy.deepcopy(resource)
    for operation in operations:
        # §3.5.2: "the resulting resource becomes the target of the next operation". Values
        # are never stored by reference (they are rebuilt below), so operations stay unshared.
        _apply(result, operation["op"], operation.get("path"), operation.get("value"), rtype)
    _tidy_extensions(result, resource, rtype)
    return result


def _apply(res: dict, op: str, path: str | None, value: Any, rtype: ResourceType) -> None:
    if not path:
        if op == "remove":
            # §3.5.2.2: "If "path" is unspecified, the operation fails with ... noTarget".
            raise NoTarget("A remove operation needs a path.")
        # §3.5.2.1, §3.5.2.3: without a path "the target location is assumed to be the
        # resource itself" and the value holds the attributes to add or replace.
        _apply_object(res, op, None, _require_object(value), rtype)
        return
    parsed = parse_path(path, rtype.schema_ids)
    if parsed.path.urn is not None and _schema(rtype, parsed.path.urn) is None:
        # An extension this server does not know: ignored, exactly as its attributes are in a
        # POST or PUT body (clients send unknown extension URIs that must not be rejected:
        # docs/idp/behaviour.md#every-client), so that an IdP's custom mapping cannot fail
        # every update. Unknown attribute names in known schemas stay invalidPath: those are
        # typos.
        return
    if not parsed.path.attr:
        _apply_schema(res, op, parsed, value, rtype)
        return
    _write(res, op, _target(parsed, rtype, path), value)


def _apply_schema(res: dict, op: str, parsed: PatchPath, value: Any, rtype: ResourceType) -> None:
    """Apply an operation whose path is a bare schema URN, such as the whole extension."""
    schema = _schema(rtype, parsed.path.urn)
    if schema is None or parsed.filter is not None:
        raise InvalidPath(f"{parsed.path.urn!r} is not a schema of {rtype.name}.")
    if op == "remove" or value is None:
        holder = res if schema is rtype.schema else res.get(schema.id)
        for attribute in schema.attributes:
            _unset(holder if isinstance(holder, dict) else {}, attribute)
        if schema.id in res:
            res[schema.id] = {}  # _tidy_extensions drops it and its URN from "schemas"
    else:
        _apply_object(res, op, schema.id, _require_object(value), rtype)


def _target(parsed: PatchPath, rtype: ResourceType, path: str) -> _Target:
    """Resolve a parsed path against the schema, refusing what cannot be written."""
    sub = parsed.sub or parsed.path.sub
    resolved = rtype.resolve(parsed.path.urn, parsed.path.attr, sub)
    if resolved is None:
        raise InvalidPath(f"{path!r} names no attribute of {rtype.name}.")
    top = resolved.attribute
    if parsed.filter is not None and not (top.multi_valued and top.type == "complex"):
        raise InvalidPath(f"{path!r}: only multi-valued complex attributes take a filter.")
    target = _Target(resolved.extension, top, resolved.sub, parsed.filter)
    if _read_only(target):
        # RFC 7643 §2.2: a readOnly attribute "SHALL NOT be modified" by the client.
        raise Mutability(f"{path!r} is read-only.")
    return target


def _read_only(t: _Target) -> bool:
    return any(a is not None and a.mutability == "readOnly" for a in (t.attribute, t.sub))


def _apply_object(res: dict, op: str, urn: str | None, obj: dict, rtype: ResourceType) -> None:
    """Add or replace every attribute named by a key of a no-path value object."""
    for key, value in obj.items():
        # Keys may be plain, dotted ("name.givenName") or URN-qualified (Entra sends all three).
        key_urn, name = (urn, key) if urn else split_urn(key, rtype.schema_ids)
        if not name:
            # A schema URN key holds that schema's attributes; unknown schemas are ignored.
            schema = _schema(rtype, key_urn)
            if schema is not None:
                _apply_object(res, op, schema.id, _require_object(value), rtype)
            continue
        attr, _, sub = name.partition(".")
        resolved = rtype.resolve(key_urn, attr, sub or None)
        if resolved is None:
            continue  # extras clients send (docs/idp/behaviour.md#every-client): ignore them
        target = _Target(resolved.extension, resolved.attribute, resolved.sub)
        current = (_holder(res, target.extension) or {}).get(target.attribute.name)
        if target.sub is not None and isinstance(current, dict):
            current = current.get(target.sub.name)
        if _read_only(target):
            if resolved.attribute.name in _ECHOED or value == current:
                continue
            raise Mutability(f"{key!r} is read-only.")
        _write(res, op, target, value)


def _schema(rtype: ResourceType, urn: str | None) -> Schema | None:
    """Return the core or extension schema with this URN, or None for an unknown URN."""
    if urn is None:
        return None
    return rtype.schema if urn.lower() == rtype.schema.id.lower() else rtype.extension(urn)


def _write(res: dict, op: str, t: _Target, value: Any) -> None:
    """Apply one operation to one resolved target."""
    if t.selects:
        _write_elements(res, op, t, value)
    elif op == "remove" and value is not None and t.attribute.multi_valued:
        _remove_values(res, t, value)
    elif op == "remove" or value is None:  # RFC 7643 §2.5: null means "unassigned"
        _remove(res, t)
    elif t.attribute.multi_valued:
        _set_values(res, op, t, value)
    elif t.sub is not None or t.attribute.type != "complex":
        holder = _holder(res, t.extension, create=True)
        if t.sub is not None:
            holder = _child(holder, t.attribute)
        _assign(holder, t.sub or t.attribute, value)
    else:
        _merge_complex(res, t, value)


def _remove(res: dict, t: _Target) -> None:
    """Remove a single-valued attribute, a sub-attribute or a whole multi-valued attribute."""
    # §3.5.2.2: the attribute "and its associated value is removed". Removing an absent
    # attribute changes nothing and is not an error.
    holder = _holder(res, t.extension) or {}
    if t.sub is None:
        _unset(holder, t.attribute)
        return
    parent = holder.get(t.attribute.name)
    _unset(parent if isinstance(parent, dict) else {}, t.sub)
    if parent == {}:
        _unset(holder, t.attribute)


def _merge_complex(res: dict, t: _Target, value: Any) -> None:
    """Merge sub-attributes into a single-valued complex attribute.

    §3.5.2.3: "Sub-attributes that are not specified in the "value" parameter are left
    unchanged"; add merges the same way (§3.5.2.1 asks for "a set of sub-attributes").
    """
    # Entra sends manager as a string, an object or a one-element array, and "" removes it.
    if t.attribute.sub("value") is not None:
        if isinstance(value, list) and len(value) <= 1:
            # [] unassigns it, as on POST and PUT (RFC 7643 §2.5; scim.core.fields.Complex).
            value = value[0] if value else ""
        if isinstance(value, str):
            value = {"value": value}
    value = _canonical(t.attribute, _require_object(value))
    if "value" in value and value["value"] in ("", None):
        _remove(res, t)
        return
    holder = _holder(res, t.extension, create=True)
    current = _child(holder, t.attribute)
    _merge(current, t.attribute, value)
    if not current:
        holder.pop(t.attribute.name)


def _set_values(res: dict, op: str, t: _Target, value: Any) -> None:
    """Add values to a multi-valued attribute, or replace them all."""
    items = _items(t.attribute, value)
    holder = _holder(res, t.extension, create=True)
    # §3.5.2.3: with no filter, "the attribute and all values are replaced"; §3.5.2.1: "a new
    # value is added to the attribute".
    current = [] if op == "replace" else list(holder.get(t.attribute.name) or [])
    added: list = []
    for item in items:
        # §3.5.2.1: "If the target location already contains the value specified, no changes
        # SHOULD be made". Entra and JumpCloud repeat member adds, so these are idempotent.
        if not any(_same(t.attribute, existing, item) for existing in current + added):
            added.append(item)
    _one_primary(current + added, added)
    _store(holder, t.attribute, current + added)


def _remove_values(res: dict, t: _Target, value: Any) -> None:
    """Remove the given values from a multi-valued attribute.

    Not in RFC 7644, but universal: Entra and JumpCloud remove members with path ``members``
    and a value array ``[{"value": id}]``. Removing an absent value is not an error (they repeat).
    """
    items = _items(t.attribute, value)
    holder = _holder(res, t.extension)
    if holder is None or t.attribute.name not in holder:
        return
    kept = [e for e in holder[t.attribute.name] if not any(_same(t.attribute, e, i) for i in items)]
    _store(holder, t.attribute, kept)


def _write_elements(res: dict, op: str, t: _Target, value: Any) -> None:
    """Apply an operation to the elements a value filter (or a bare sub-attribute) selects."""
    holder = _holder(res, t.extension, create=op != "remove" and value is not None)
    elements = list((holder or {}).get(t.attribute.name) or [])
    matched = [e for e in elements if t.filter is None or element_matches(t.filter, e, t.attribute)]
    if op == "remove" or value is None:
        if t.sub is not None:
            for element in matched:
                _unset(element, t.sub)
        # §3.5.2.2: "the values matched by the filter are removed". No match is not an error:
        # Okta and JumpCloud repeat member removals.
        kept = [e for e in elements if e and (t.sub is not None or e not in matched)]
        if holder is not None and t.attribute.name in holder:
            _store(holder, t.attribute, kept)
        return
    assert holder is not None  # created above, as a value is being set
    if not matched:
        matched = [_new_element(op, t)]
        elements += matched
    for element in matched:
        if t.sub is not None:
            _assign(element, t.sub, value)
        else:
            # §3.5.2.3: matching records are replaced; a partial object keeps the other
            # sub-attributes, as for any complex value ("left unchanged").
            _merge(element, t.attribute, _canonical(t.attribute, _require_object(value)))
    _one_primary(elements, matched)
    _store(holder, t.attribute, elements)


def _new_element(op: str, t: _Target) -> dict:
    """Build the element a filtered write creates when no element matches.

    The element is seeded with the filter's ``eq`` comparisons: Entra sends
    ``emails[type eq "work"].value`` (as add or replace) to a user with no work email and
    expects ``{"type": "work", "value": ...}``. §3.5.2.3 says a replace whose filter matches
    nothing fails with noTarget; Entra's documented behaviour must pass, so a replace that
    names a sub-attribute is treated as an add, and only a whole-element replace fails.
    """
    seed = {} if t.filter is None else _seed(t.filter, t.attribute)
    if seed is None or (op == "replace" and t.sub is None):
        raise NoTarget(f"No {t.attribute.name} value matches the filter.")
    return seed


def _seed(expr: Expr, attribute: Attribute) -> dict | None:
    """Return the sub-attributes an ``eq``/``and`` filter pins down, or None if it is other."""
    if isinstance(expr, And):
        left, right = _seed(expr.left, attribute), _seed(expr.right, attribute)
        return None if left is None or right is None else {**left, **right}
    if isinstance(expr, Compare) and expr.op == "eq" and expr.path.sub is None:
        sub = attribute.sub(expr.path.attr)
        return {sub.name: expr.value} if sub is not None else None
    return None


def _items(attribute: Attribute, value: Any) -> list:
    """Return a multi-valued value as a list of canonical elements, refusing wrong shapes."""
    items = value if isinstance(value, list) else [value]
    if attribute.type != "complex":
        if any(isinstance(i, (dict, list)) for i in items):
            raise InvalidValue(f"{attribute.name} takes a list of simple values.")
        return items
    if not all(isinstance(i, dict) for i in items):
        raise InvalidValue(f"Each {attribute.name} value must be an object.")
    return [c for c in (_canonical(attribute, i) for i in items) if c]


def _canonical(attribute: Attribute, value: dict) -> dict:
    """Return ``value`` with canonical sub-attribute names and only writable sub-attributes.

    Unknown sub-attributes are dropped (clients send extras); readOnly ones such as
    ``members.$ref`` or ``manager.displayName`` are the server's to compute (RFC 7643 §2.2).
    """
    out = {}
    for key, item in value.items():
        sub = attribute.sub(key)
        if sub is not None and sub.mutability != "readOnly":
            out[sub.name] = item
    return out


def _merge(element: dict, attribute: Attribute, value: dict) -> None:
    """Set each sub-attribute of canonical ``value`` on ``element``; None unassigns it."""
    for name, item in value.items():
        sub = attribute.sub(name)
        assert sub is not None  # ``value`` is canonical: its keys are sub-attributes
        if item is None:
            _unset(element, sub)
        else:
            _assign(element, sub, item)


def _assign(holder: dict, attribute: Attribute, value: Any) -> None:
    """Set a single-valued simple attribute, honouring immutability."""
    if isinstance(value, (dict, list)):
        raise InvalidValue(f"{attribute.name} takes a single simple value.")
    current = holder.get(attribute.name)
    if attribute.mutability == "immutable" and current is not None and current != value:
        # §3.5.2: "a client MAY "add" a value to an "immutable" attribute if the attribute
        # had no previous value"; changing one fails.
        raise Mutability(f"{attribute.name} is immutable.")
    holder[attribute.name] = value


def _unset(holder: dict, attribute: Attribute) -> None:
    """Remove ``attribute`` from ``holder`` unless the schema says it must stay."""
    # §3.5.2.2: "If an attribute is removed or becomes unassigned and is defined as a required
    # attribute or a read-only attribute, the server SHALL return ... mutability".
    if attribute.required:
        raise Mutability(f"{attribute.name} is required and cannot be removed.")
    if attribute.mutability in ("readOnly", "immutable") and attribute.name in holder:
        raise Mutability(f"{attribute.name} cannot be removed.")
    holder.pop(attribute.name, None)


def _store(holder: dict, attribute: Attribute, values: list) -> None:
    """Store the values of a multi-valued attribute; an empty list leaves it unassigned."""
    # §3.5.2.2: "If no other values remain ..., the attribute SHALL be considered unassigned."
    if values:
        holder[attribute.name] = values
    else:
        _unset(holder, attribute)


def _same(attribute: Attribute, element: Any, item: Any) -> bool:
    """Whether ``item`` names ``element``: by ``value`` where that is an identity (it is
    immutable, as ``members.value``, RFC 7643 §4.2), else by every sub-attribute it gives."""
    if not isinstance(element, dict) or not isinstance(item, dict):
        return element == item
    key = attribute.sub("value")
    if key is not None and key.mutability == "immutable" and "value" in item:
        return element.get("value") == item["value"]
    return all(element.get(name) == v for name, v in item.items())


def _one_primary(elements: list, touched: list) -> None:
    """Keep at most one primary element, preferring the last one just written."""
    # RFC 7643 §2.4: "The primary attribute value "true" MUST appear no more than once";
    # RFC 7644 §3.5.2: the server sets "primary" to false on the other values.
    primaries = [e for e in touched if isinstance(e, dict) and _true(e.get("primary"))]
    chosen = primaries[-1] if primaries else None
    if chosen is None:
        return
    for element in elements:
        if element is not chosen and isinstance(element, dict) and _true(element.get("primary")):
            element["primary"] = False


def _true(value: Any) -> bool:
    # Entra sends booleans as strings ("True"); the caller coerces them later.
    return value is True or (isinstance(value, str) and value.lower() == "true")


@overload
def _holder(res: dict, extension: str | None, create: Literal[True]) -> dict: ...
@overload
def _holder(res: dict, extension: str | None, create: bool = False) -> dict | None: ...


def _holder(res: dict, extension: str | None, create: bool = False) -> dict | None:
    """Return the dict an attribute lives in: the resource or its extension object."""
    if extension is None:
        return res
    if create and not isinstance(res.get(extension), dict):
        res[extension] = {}
    return res.get(extension)


def _child(holder: dict, attribute: Attribute) -> dict:
    """Return the complex value of ``attribute`` in ``holder``, creating it if absent."""
    if not isinstance(holder.get(attribute.name), dict):
        holder[attribute.name] = {}
    return holder[attribute.name]


def _require_object(value: Any) -> dict:
    if not isinstance(value, dict):
        raise InvalidValue("The value must be an object of attributes.")
    return value


def _tidy_extensions(res: dict, original: dict, rtype: ResourceType) -> None:
    """Drop emptied extension objects and keep ``schemas`` listing those in use (RFC 7643 §3)."""
    schemas: Any = res.get("schemas")  # a list when ``listed`` finds anything in it
    for ext in rtype.extensions:
        listed = [s for s in schemas or [] if s.lower() == ext.id.lower()]
        if res.get(ext.id) == {}:
            del res[ext.id]
            if ext.id in original:  # this PATCH emptied it
                for urn in listed:
                    schemas.remove(urn)
        elif ext.id in res and isinstance(schemas, list) and not listed:
            schemas.append(ext.id)
