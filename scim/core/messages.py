"""Marshmallow at the edge for SCIM's request messages: PatchOp (RFC 7644 §3.5.2), query
parameters and SearchRequest (RFC 7644 §3.4.2, §3.4.3). Nothing here imports Flask."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from scim.core.errors import InvalidSyntax, InvalidValue, NoTarget
from scim.core.fields import Text, describe, lower_keys, require_schema

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
MAX_START_INDEX = 2**31 - 1


# --- PATCH (RFC 7644 §3.5.2) ----------------------------------------------------------------


class _Operation(Schema):
    op = fields.String(required=True, validate=validate.OneOf(("add", "remove", "replace")))
    path = Text(allow_none=True)
    value = fields.Raw(allow_none=True)

    error_messages = {"type": "Not a valid object."}

    @pre_load
    def _normalise(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        out = lower_keys(data, ("op", "path", "value"))
        if isinstance(out.get("op"), str):
            out["op"] = out["op"].lower()  # Entra sends "Replace", "Add", "Remove"
        return out


class _PatchOp(Schema):
    Operations = fields.List(fields.Nested(_Operation), required=True)

    class Meta:
        unknown = EXCLUDE


# One instance each, reused: building a marshmallow schema deep-copies its fields, which cost
# ten times as much as the load itself, on every request.
_PATCH_OP = _PatchOp()


def load_patch(data: object, *, max_operations: int = 1000) -> list[dict]:
    """Validate a PatchOp message; return its operations as ``{"op", "path", "value"}`` dicts.

    ``op`` is lower-cased, ``path`` is None when absent or empty, and ``value`` is a copy of
    what was sent (None when absent, which only ``remove`` allows).
    """
    if not isinstance(data, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    require_schema(data, PATCH_OP, optional=True)
    body = lower_keys(data, ("Operations",))
    operations = body.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidValue("Operations: A non-empty list of operations is required.")
    if len(operations) > max_operations:
        # RFC 7644 has no scimType for this; the limit is advertised nowhere else.
        raise InvalidValue(f"Operations: At most {max_operations} operations are accepted.")
    try:
        loaded = _PATCH_OP.load(body)["Operations"]
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
        raise InvalidValue(describe(err.messages)) from None
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
    filter = Text(allow_none=True)
    sort_by = Text(data_key="sortBy", allow_none=True)
    sort_order = fields.String(data_key="sortOrder", allow_none=True)
    start_index = _Integer(data_key="startIndex", allow_none=True)
    count = _Integer(allow_none=True)
    attributes = _Names(allow_none=True)
    excluded_attributes = _Names(data_key="excludedAttributes", allow_none=True)

    @pre_load
    def _names(self, data, **kwargs):
        keys = tuple(f.data_key or name for name, f in self.fields.items())
        return lower_keys(data, keys)

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


_SEARCH = _Search()


def _search(data: Mapping, max_count: int) -> dict:
    try:
        query = _SEARCH.load(data)
    except ValidationError as err:
        raise InvalidValue(describe(err.messages)) from None
    # RFC 7644 §3.4.2.4: startIndex < 1 is 1; count < 0 is 0; the server may cap count.
    start, count = query["start_index"], query["count"]
    # An index past every result is an empty page; one past any list's length (10**100) is the
    # same page, and stays a number that stores and slices can take.
    query["start_index"] = 1 if start is None else min(max(start, 1), MAX_START_INDEX)
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
    require_schema(data, SEARCH_REQUEST, optional=True)
    return _search(data, max_count)
