"""Marshmallow at the edge: validate and normalise what SCIM clients send.

The resource schemas are generated from the attribute definitions in ``scim.schemas``, so a
field list is never written twice. Every failure leaves as a ``scim.errors.ScimError`` whose
detail names the attribute (``emails[0].primary: Not a valid boolean.``); a marshmallow
``ValidationError`` never escapes. Nothing here imports Flask, and inputs are never mutated.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from scim.attributes import Attribute, ResourceType, split_urn
from scim.attributes import Schema as ScimSchema
from scim.errors import InvalidSyntax, InvalidValue, NoTarget

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
MAX_STRING = 65_536
MAX_ITEMS = 100_000
_MAX_DETAILS = 5  # error messages quoted in one detail; a 100,000-item list can fail everywhere
# Multi-valued attributes whose elements point at resources by id (RFC 7643 §4.2): each needs
# a value, and a value counts once, since IdPs repeat "add"s for members already there.
_KEYED_BY_VALUE = frozenset({"members"})


# --- fields, one per RFC 7643 §2.3 data type ------------------------------------------------


class _Text(fields.String):
    """string, reference and binary: a JSON string, never a number (RFC 7643 §2.3)."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Length(max=MAX_STRING), **kwargs)


class _DateTime(_Text):
    default_error_messages = {"datetime": "Not a valid ISO 8601 dateTime."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            dt.datetime.fromisoformat(text)  # RFC 7643 §2.3.5: xsd:dateTime
        except ValueError:
            raise self.make_error("datetime") from None
        return text


class _Boolean(fields.Field):
    default_error_messages = {"invalid": "Not a valid boolean."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return value
        # Entra sends booleans as capitalised strings: "active": "False".
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.make_error("invalid")


class _Number(fields.Field):
    default_error_messages = {"invalid": "Not a valid number.", "integer": "Not an integer."}

    def __init__(self, *, integer: bool, **kwargs):
        super().__init__(**kwargs)
        self.integer = integer

    def _deserialize(self, value, attr, data, **kwargs):
        # bool is an int in Python but not a number in JSON.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.make_error("invalid")
        if self.integer and not isinstance(value, int):
            raise self.make_error("integer")
        return value


class _Complex(fields.Nested):
    """A single-valued complex attribute.

    Where it has a ``value`` sub-attribute (the enterprise ``manager``), Entra sends a bare id,
    ``{"value": id}`` or a one-element array; all three become ``{"value": id}``, and an empty
    id means "remove the manager" (an empty result, which the parent drops).
    """

    def __init__(self, nested, *, by_value: bool = False, **kwargs):
        super().__init__(nested, **kwargs)
        self.by_value = by_value

    def _deserialize(self, value, attr, data, partial=None, **kwargs):
        if self.by_value:
            if isinstance(value, list) and len(value) <= 1:
                value = value[0] if value else None
            if isinstance(value, str):
                value = {"value": value}
            if value is None:
                return {}
        loaded = super()._deserialize(value, attr, data, partial=partial, **kwargs)
        if self.by_value and not loaded.get("value"):
            return {}
        return loaded


class _Multi(fields.List):
    """A multi-valued attribute: a list, without nulls or empty elements, one primary at most.

    ``unique_by`` names a sub-attribute whose value must be unique; later duplicates are
    dropped.
    """

    default_error_messages = {
        "too_long": f"More than {MAX_ITEMS} values.",
        # RFC 7643 §2.4: the primary attribute value "true" MUST appear no more than once.
        "primary": "At most one value may have primary set to true.",
    }

    def __init__(self, inner: fields.Field, *, unique_by: str | None = None, **kwargs):
        super().__init__(inner, **kwargs)
        self.unique_by = unique_by

    def _deserialize(self, value, attr, data, **kwargs):
        # Be liberal: a single value given for a multi-valued attribute is a list of one.
        items = value if isinstance(value, list) else [value]
        if len(items) > MAX_ITEMS:
            raise self.make_error("too_long")
        result, errors, seen = [], {}, set()
        for index, item in enumerate(items):
            if item is None:  # null means unassigned (RFC 7644 §3.5.1)
                continue
            try:
                loaded = self.inner.deserialize(item, **kwargs)
            except ValidationError as err:
                errors[index] = err.messages
                continue
            if loaded == {}:
                continue
            if self.unique_by is not None:
                if loaded[self.unique_by] in seen:
                    continue
                seen.add(loaded[self.unique_by])
            result.append(loaded)
        if errors:
            raise ValidationError(errors)
        if sum(1 for v in result if isinstance(v, dict) and v.get("primary") is True) > 1:
            raise self.make_error("primary")
        return result


_SCALARS = {
    "string": _Text,
    "reference": _Text,
    "binary": _Text,
    "dateTime": _DateTime,
    "boolean": _Boolean,
    "integer": lambda: _Number(integer=True),
    "decimal": lambda: _Number(integer=False),
}


# --- schemas generated from the attribute definitions ---------------------------------------


class _Object(Schema):
    """Base of every generated schema: SCIM's naming and null rules, applied before fields run.

    RFC 7643 §2.1: attribute names are case-insensitive; the output uses the canonical names.
    readOnly attributes, ``$ref`` (the server computes it from ``value``), unknown attributes
    and nulls are dropped silently: IdPs send ``id``, ``meta``, ``groups`` and unknown keys, and
    a null means "unassigned". Empty lists and objects are dropped after loading.
    """

    class Meta:
        unknown = EXCLUDE

    error_messages = {"type": "Not a valid object."}
    accepted: ClassVar[dict[str, str]] = {}  # lower-case name -> canonical name
    required_names: ClassVar[tuple[str, ...]] = ()
    urns: ClassVar[dict[str, str]] = {}  # lower-case URN -> canonical; the core schema first
    renames: ClassVar[dict[str, str]] = {}  # field name -> output key, for extensions

    @pre_load
    def _canonical_names(self, data, **kwargs):
        if not isinstance(data, dict):
            return data  # the schema reports "Not a valid object."
        out: dict[str, Any] = {}
        qualified: dict[str, dict[str, Any]] = {}
        core = next(iter(self.urns), None)
        for key, value in data.items():
            if not isinstance(key, str) or value is None:
                continue
            urn, name = split_urn(key, tuple(self.urns.values())) if self.urns else (None, key)
            if urn is None or urn.lower() == core:
                if name.lower() in self.accepted:
                    out[self.accepted[name.lower()]] = value
            elif urn.lower() in self.urns and not name:
                out[self.urns[urn.lower()]] = value  # an extension object
            elif urn.lower() in self.urns:
                # "urn:...:enterprise:2.0:User:department": "x" nests under the extension.
                qualified.setdefault(self.urns[urn.lower()], {})[name] = value
            # Any other URN (Entra adds a Microsoft extension) is not ours: ignored.
        for urn, values in qualified.items():
            nested = out.get(urn)
            out[urn] = {**nested, **values} if isinstance(nested, dict) else nested or values
        return out

    @post_load
    def _drop_empty_and_require(self, data, **kwargs):
        out = {self.renames.get(k, k): v for k, v in data.items() if v != {} and v != []}
        missing = [n for n in self.required_names if not _present(out.get(n))]
        if missing:
            raise ValidationError({n: ["A value is required."] for n in missing})
        return out


def _present(value: object) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def _field(attr: Attribute) -> fields.Field:
    if attr.type == "complex":
        keyed = attr.multi_valued and attr.name in _KEYED_BY_VALUE
        nested = _schema_class(attr.name, attr.sub_attributes, required=("value",) if keyed else ())
        if attr.multi_valued:
            return _Multi(_Complex(nested), unique_by="value" if keyed else None)
        return _Complex(nested, by_value=attr.sub("value") is not None)
    scalar = _SCALARS[attr.type]()
    return _Multi(scalar) if attr.multi_valued else scalar


def _schema_class(
    name: str,
    attributes: tuple[Attribute, ...],
    *,
    required: tuple[str, ...] = (),
    extensions: tuple[ScimSchema, ...] = (),
    core: str | None = None,
) -> type[_Object]:
    """Build the schema for ``attributes``; ``required`` adds to the attributes' own rule."""
    writable = [a for a in attributes if a.mutability != "readOnly" and a.name != "$ref"]
    declared = {a.name: _field(a) for a in writable}
    # marshmallow reads dots in a field name as nesting, and URNs have dots ("2.0"): extension
    # fields get plain names, with the URN as their data_key, and are renamed after loading.
    for index, ext in enumerate(extensions):
        declared[f"extension{index}"] = _Complex(
            _schema_class(ext.name, ext.attributes), data_key=ext.id
        )
    cls = _Object.from_dict(declared, name=f"{name}Schema")
    cls.accepted = {a.name.lower(): a.name for a in writable}
    cls.required_names = tuple(a.name for a in writable if a.required or a.name in required)
    cls.renames = {f"extension{index}": ext.id for index, ext in enumerate(extensions)}
    if core is not None:
        cls.urns = {u.lower(): u for u in (core, *(e.id for e in extensions))}
    return cls


@cache
def _resource_schema(rtype: ResourceType) -> _Object:
    attributes = (*rtype.common, *rtype.schema.attributes)
    cls = _schema_class(rtype.name, attributes, extensions=rtype.extensions, core=rtype.schema.id)
    return cls()


def load_resource(rtype: ResourceType, data: object) -> dict:
    """Validate a User or Group body (POST, PUT, or the result of a PATCH) and normalise it.

    Returns a fresh dict with canonical attribute names, extension attributes nested under
    their URN, and ``schemas`` listing the core URN plus each extension present. ``password``
    is kept as given; the caller hashes it and removes it.
    """
    if not isinstance(data, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    # RFC 7643 §3: "schemas" is REQUIRED and names the resource's schemas. A missing or wrong
    # one is a required value missing (invalidValue), not a body that fails to parse.
    _require_schema(data, rtype.schema.id, optional=False)
    try:
        loaded = _resource_schema(rtype).load(data)
    except ValidationError as err:
        raise InvalidValue(_describe(err.messages)) from None
    except (RecursionError, TypeError):
        raise InvalidValue("The request body has an unexpected shape.") from None
    present = [e.id for e in rtype.extensions if e.id in loaded]
    return {"schemas": [rtype.schema.id, *present], **loaded}


# --- PATCH (RFC 7644 §3.5.2) ----------------------------------------------------------------


def _lower_keys(data: dict, names: tuple[str, ...]) -> dict:
    """Map ``data``'s keys onto ``names`` case-insensitively, dropping the others."""
    by_lower = {n.lower(): n for n in names}
    return {
        by_lower[k.lower()]: v
        for k, v in data.items()
        if isinstance(k, str) and k.lower() in by_lower
    }


class _Operation(Schema):
    op = fields.String(required=True, validate=validate.OneOf(("add", "remove", "replace")))
    path = _Text(allow_none=True)
    value = fields.Raw(allow_none=True)

    error_messages = {"type": "Not a valid object."}

    @pre_load
    def _normalise(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        out = _lower_keys(data, ("op", "path", "value"))
        if isinstance(out.get("op"), str):
            out["op"] = out["op"].lower()  # Entra sends "Replace", "Add", "Remove"
        return out


class _PatchOp(Schema):
    Operations = fields.List(fields.Nested(_Operation), required=True)

    class Meta:
        unknown = EXCLUDE


def load_patch(data: object, *, max_operations: int = 1000) -> list[dict]:
    """Validate a PatchOp message; return its operations as ``{"op", "path", "value"}`` dicts.

    ``op`` is lower-cased, ``path`` is None when absent or empty, and ``value`` is a copy of
    what was sent (None when absent, which only ``remove`` allows).
    """
    if not isinstance(data, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    _require_schema(data, PATCH_OP, optional=True)
    body = _lower_keys(data, ("Operations",))
    operations = body.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidValue("Operations: A non-empty list of operations is required.")
    if len(operations) > max_operations:
        # RFC 7644 has no scimType for this; the limit is advertised nowhere else.
        raise InvalidValue(f"Operations: At most {max_operations} operations are accepted.")
    try:
        loaded = _PatchOp().load(body)["Operations"]
        result = []
        for index, op in enumerate(loaded):
            path = op.get("path") or None
            if op["op"] == "remove" and path is None:
                # RFC 7644 §3.5.2.2: "If "path" is unspecified, the operation fails ... noTarget".
                raise NoTarget(f"Operations[{index}]: remove requires a path.")
            if op["op"] != "remove" and "value" not in op:
                raise InvalidValue(f"Operations[{index}].value: Required for {op['op']}.")
            result.append({"op": op["op"], "path": path, "value": copy.deepcopy(op.get("value"))})
    except ValidationError as err:
        raise InvalidValue(_describe(err.messages)) from None
    except (RecursionError, TypeError):
        raise InvalidValue("The request body has an unexpected shape.") from None
    return result


# --- searches: GET query parameters and POST /.search (RFC 7644 §3.4.2, §3.4.3) -------------


class _Integer(fields.Field):
    """An integer, or a string of digits (every query parameter arrives as a string)."""

    default_error_messages = {"invalid": "Not a valid integer."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            try:
                return int(value.strip())
            except ValueError:  # more digits than Python converts
                pass
        raise self.make_error("invalid")


class _Names(fields.Field):
    """Attribute names: a comma-separated string (GET) or a list of them (POST)."""

    default_error_messages = {"invalid": "Not a list of attribute names."}

    def _deserialize(self, value, attr, data, **kwargs):
        parts = [value] if isinstance(value, str) else value
        if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
            raise self.make_error("invalid")
        names = [n.strip() for p in parts for n in p.split(",") if n.strip()]
        return names or None


class _Search(Schema):
    filter = _Text(allow_none=True)
    sort_by = _Text(data_key="sortBy", allow_none=True)
    sort_order = fields.String(data_key="sortOrder", allow_none=True)
    start_index = _Integer(data_key="startIndex", allow_none=True)
    count = _Integer(allow_none=True)
    attributes = _Names(allow_none=True)
    excluded_attributes = _Names(data_key="excludedAttributes", allow_none=True)

    @pre_load
    def _names(self, data, **kwargs):
        keys = tuple(f.data_key or name for name, f in self.fields.items())
        return _lower_keys(data, keys)

    @post_load
    def _defaults(self, data, **kwargs):
        order = (data.get("sort_order") or "ascending").lower()
        if order not in ("ascending", "descending"):
            raise ValidationError({"sortOrder": ["Must be ascending or descending."]})
        return {
            "filter": data.get("filter") or None,
            "sort_by": data.get("sort_by") or None,
            "sort_order": order,
            "start_index": data.get("start_index"),
            "count": data.get("count"),
            "attributes": data.get("attributes"),
            "excluded_attributes": data.get("excluded_attributes"),
        }


def _search(data: Mapping, max_count: int) -> dict:
    try:
        query = _Search().load(data)
    except ValidationError as err:
        raise InvalidValue(_describe(err.messages)) from None
    # RFC 7644 §3.4.2.4: startIndex < 1 is 1; count < 0 is 0; the server may cap count.
    start, count = query["start_index"], query["count"]
    query["start_index"] = 1 if start is None else max(start, 1)
    query["count"] = max_count if count is None else min(max(count, 0), max_count)
    return query


def load_query(args: Mapping[str, str], *, max_count: int) -> dict:
    """Parse the query parameters of ``GET /Users`` or ``/Groups``; names are matched in any case.

    Returns filter, sort_by, sort_order, start_index, count, attributes, excluded_attributes.
    """
    return _search({k: args[k] for k in args}, max_count)


def load_search(data: object, *, max_count: int) -> dict:
    """Parse a ``POST /.search`` body (RFC 7644 §3.4.3); returns what ``load_query`` does."""
    if not isinstance(data, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    _require_schema(data, SEARCH_REQUEST, optional=True)
    return _search(data, max_count)


# --- shared -----------------------------------------------------------------------------------


def _require_schema(data: dict, urn: str, *, optional: bool) -> None:
    """Check that ``schemas`` lists ``urn``; other URIs in it are ignored, in any order."""
    schemas = _lower_keys(data, ("schemas",)).get("schemas")
    if schemas is None and optional:
        return
    if schemas is None:
        raise InvalidValue(f"schemas: A list containing {urn} is required.")
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise InvalidValue("schemas: Not a list of schema URIs.")
    # JumpCloud lists the enterprise URN first; Entra adds its own. Only ours must be there.
    if urn.lower() not in {s.lower() for s in schemas}:
        raise InvalidValue(f"schemas: Must contain {urn}.")


def _describe(messages: object) -> str:
    """Flatten marshmallow's nested messages into ``emails[0].primary: Not a valid boolean.``"""
    found = _flatten(messages, "", ".")
    more = f" (and {len(found) - _MAX_DETAILS} more)" if len(found) > _MAX_DETAILS else ""
    return "; ".join(found[:_MAX_DETAILS]) + more


def _flatten(messages: object, path: str, joiner: str) -> list[str]:
    if isinstance(messages, dict):
        out = []
        for key, sub in messages.items():
            if key == "_schema":
                where = path
            elif isinstance(key, int):
                where = f"{path}[{key}]"
            else:
                where = f"{path}{joiner}{key}" if path else str(key)
            # RFC 7644 §3.10: an attribute follows its schema URN after a colon.
            urn = isinstance(key, str) and key.lower().startswith("urn:")
            out += _flatten(sub, where, ":" if urn else ".")
        return out
    if isinstance(messages, list):
        return [m for item in messages for m in _flatten(item, path, joiner)]
    return [f"{path}: {messages}" if path else str(messages)]
