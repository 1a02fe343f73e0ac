"""Marshmallow fields for SCIM's data types (RFC 7643 §2.3), and the helpers every loader at
the edge shares: error flattening, ``schemas`` checks, case-insensitive keys."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

from marshmallow import ValidationError, fields, validate

from scim.core.errors import InvalidValue

MAX_STRING = 65_536
MAX_ITEMS = 100_000
MAX_DETAILS = 5  # error messages quoted in one detail; a 100,000-item list can fail everywhere


# --- fields, one per RFC 7643 §2.3 data type ------------------------------------------------


class Text(fields.String):
    """string, reference and binary: a JSON string, never a number (RFC 7643 §2.3)."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Length(max=MAX_STRING), **kwargs)


class DateTime(Text):
    default_error_messages = {"datetime": "Not a valid ISO 8601 dateTime."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            dt.datetime.fromisoformat(text)  # RFC 7643 §2.3.5: xsd:dateTime
        except ValueError:
            raise self.make_error("datetime") from None
        return text


class Boolean(fields.Field):
    default_error_messages = {"invalid": "Not a valid boolean."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return value
        # Entra sends booleans as capitalised strings: "active": "False".
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.make_error("invalid")


class Number(fields.Field):
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


class Complex(fields.Nested):
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


class Multi(fields.List):
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
        self._takes_value = isinstance(inner, fields.Nested) and "value" in inner.schema.fields

    def _deserialize(self, value, attr, data, **kwargs):
        # Be liberal: a single value given for a multi-valued attribute is a list of one.
        items = value if isinstance(value, list) else [value]
        if len(items) > MAX_ITEMS:
            raise self.make_error("too_long")
        result, errors, seen = [], {}, set()
        for index, item in enumerate(items):
            if item is None:  # null means unassigned (RFC 7644 §3.5.1)
                continue
            if isinstance(item, str) and self._takes_value:
                # Be liberal: a bare string for a complex value ("roles": ["admin"]) is its
                # "value" sub-attribute (RFC 7643 §2.4: "value" is the element's primary datum).
                item = {"value": item}
            try:
                loaded = self.inner.deserialize(item, **kwargs)
            except ValidationError as err:
                errors[index] = err.messages
                continue
            # An element whose value is "" carries nothing (Entra clears a work email by
            # setting its value to ""): drop it like an empty one.
            if loaded == {} or (isinstance(loaded, dict) and loaded.get("value") == ""):
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


SCALARS: dict[str, Callable[[], fields.Field]] = {
    "string": Text,
    "reference": Text,
    "binary": Text,
    "dateTime": DateTime,
    "boolean": Boolean,
    "integer": lambda: Number(integer=True),
    "decimal": lambda: Number(integer=False),
}


# --- shared -----------------------------------------------------------------------------------


def require_schema(data: dict, urn: str, *, optional: bool) -> None:
    """Check that ``schemas`` lists ``urn``; other URIs in it are ignored, in any order."""
    schemas = lower_keys(data, ("schemas",)).get("schemas")
    if schemas is None and optional:
        return
    if schemas is None:
        raise InvalidValue(f"schemas: A list containing {urn} is required.")
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise InvalidValue("schemas: Not a list of schema URIs.")
    # JumpCloud lists the enterprise URN first; Entra adds its own. Only ours must be there.
    if urn.lower() not in {s.lower() for s in schemas}:
        raise InvalidValue(f"schemas: Must contain {urn}.")


def describe(messages: object) -> str:
    """Flatten marshmallow's nested messages into ``emails[0].primary: Not a valid boolean.``"""
    found = flatten(messages, "", ".")
    more = f" (and {len(found) - MAX_DETAILS} more)" if len(found) > MAX_DETAILS else ""
    return "; ".join(found[:MAX_DETAILS]) + more


def flatten(messages: object, path: str, joiner: str) -> list[str]:
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
            out += flatten(sub, where, ":" if urn else ".")
        return out
    if isinstance(messages, list):
        return [m for item in messages for m in flatten(item, path, joiner)]
    return [f"{path}: {messages}" if path else str(messages)]


def lower_keys(data: dict, names: tuple[str, ...]) -> dict:
    """Map ``data``'s keys onto ``names`` case-insensitively, dropping the others."""
    by_lower = {n.lower(): n for n in names}
    return {
        by_lower[k.lower()]: v
        for k, v in data.items()
        if isinstance(k, str) and k.lower() in by_lower
    }
