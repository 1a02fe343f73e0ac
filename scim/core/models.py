"""Marshmallow at the edge: validate and normalise what SCIM clients send.

The resource schemas are generated from the attribute definitions in ``scim.core.schemas``, so a
field list is never written twice. Every failure leaves as a ``scim.core.errors.ScimError`` whose
detail names the attribute (``emails[0].primary: Not a valid boolean.``); a marshmallow
``ValidationError`` never escapes. Nothing here imports Flask, and inputs are never mutated.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load

from scim.core.attributes import Attribute, ResourceType, split_urn
from scim.core.attributes import Schema as ScimSchema
from scim.core.errors import InvalidSyntax, InvalidValue
from scim.core.fields import SCALARS, Complex, Multi, describe, require_schema

# Multi-valued attributes whose elements point at resources by id (RFC 7643 §4.2): each needs
# a value, and a value counts once, since IdPs repeat "add"s for members already there.
KEYED_BY_VALUE = frozenset({"members"})


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
        keyed = attr.multi_valued and attr.name in KEYED_BY_VALUE
        nested = _schema_class(attr.name, attr.sub_attributes, required=("value",) if keyed else ())
        if attr.multi_valued:
            return Multi(Complex(nested), unique_by="value" if keyed else None)
        return Complex(nested, by_value=attr.sub("value") is not None)
    scalar = SCALARS[attr.type]()
    return Multi(scalar) if attr.multi_valued else scalar


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
        declared[f"extension{index}"] = Complex(
            _schema_class(ext.name, ext.attributes), data_key=ext.id
        )
    cls = cast(type[_Object], _Object.from_dict(declared, name=f"{name}Schema"))
    cls.accepted = {a.name.lower(): a.name for a in writable}
    cls.required_names = tuple(a.name for a in writable if a.required or a.name in required)
    cls.renames = {f"extension{index}": ext.id for index, ext in enumerate(extensions)}
    if core is not None:
        cls.urns = {u.lower(): u for u in (core, *(e.id for e in extensions))}
    return cls


_SCHEMAS: dict[int, tuple[ResourceType, _Object]] = {}


def _resource_schema(rtype: ResourceType) -> _Object:
    # Cached by identity rather than with functools.cache: hashing a frozen ResourceType walks
    # every attribute definition, which cost as much as loading a small User.
    cached = _SCHEMAS.get(id(rtype))
    if cached is None or cached[0] is not rtype:
        attributes = (*rtype.common, *rtype.schema.attributes)
        cls = _schema_class(
            rtype.name, attributes, extensions=rtype.extensions, core=rtype.schema.id
        )
        cached = _SCHEMAS[id(rtype)] = (rtype, cls())
    return cached[1]


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
    require_schema(data, rtype.schema.id, optional=False)
    try:
        loaded = _resource_schema(rtype).load(data)
    except ValidationError as err:
        raise InvalidValue(describe(err.messages)) from None
    except (RecursionError, TypeError):
        raise InvalidValue("The request body has an unexpected shape.") from None
    present = [e.id for e in rtype.extensions if e.id in loaded]
    return {"schemas": [rtype.schema.id, *present], **loaded}


def load_values(rtype: ResourceType, name: str, values: list) -> list:
    """Validate and normalise ``values`` of the core multi-valued attribute ``name`` exactly
    as ``load_resource`` does inside a whole resource (used to validate only the members a
    PATCH adds, not the 10,000 already there). Raises InvalidValue."""
    try:
        return _resource_schema(rtype).fields[name].deserialize(values)
    except ValidationError as err:
        raise InvalidValue(describe({name: err.messages})) from None
    except (RecursionError, TypeError):
        raise InvalidValue("The request body has an unexpected shape.") from None
