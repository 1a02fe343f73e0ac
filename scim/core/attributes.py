"""The vocabulary of SCIM schemas: attributes, schemas, resource types and path resolution.

RFC 7643 §2.2 lists the characteristics every attribute has; §7 says how a schema describes
them. The concrete User, EnterpriseUser and Group definitions live in ``scim.core.schemas``. Nothing
here imports Flask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@dataclass(frozen=True)
class Attribute:
    """One attribute and its RFC 7643 §2.2 characteristics (defaults are the RFC's defaults)."""

    name: str
    type: str = "string"  # string boolean decimal integer dateTime binary reference complex
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"  # readOnly readWrite immutable writeOnly
    returned: str = "default"  # always never default request
    uniqueness: str = "none"  # none server global
    description: str = ""
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()

    def sub(self, name: str) -> Attribute | None:
        """Return the sub-attribute called ``name`` (case-insensitive, RFC 7643 §2.1)."""
        lowered = name.lower()
        return next((a for a in self.sub_attributes if a.name.lower() == lowered), None)

    def to_scim(self) -> dict:
        """Return the RFC 7643 §7 representation used by ``/Schemas``."""
        out = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        }
        if self.canonical_values:
            out["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            out["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            out["subAttributes"] = [a.to_scim() for a in self.sub_attributes]
        return out


@dataclass(frozen=True)
class Schema:
    """A schema (RFC 7643 §7): its URN, name and top-level attributes."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]

    def attribute(self, name: str) -> Attribute | None:
        """Return the top-level attribute called ``name`` (case-insensitive)."""
        lowered = name.lower()
        return next((a for a in self.attributes if a.name.lower() == lowered), None)


@dataclass(frozen=True)
class Resolved:
    """Where an attribute path lands: ``extension`` is the URN key it is nested under in the
    resource (None for core and common attributes), ``attribute`` the top-level attribute and
    ``sub`` the sub-attribute, if the path names one."""

    extension: str | None
    attribute: Attribute
    sub: Attribute | None = None

    @property
    def target(self) -> Attribute:
        """The attribute whose characteristics apply to the value the path points at."""
        return self.sub or self.attribute


_RESOLVED: dict[tuple, tuple[ResourceType, Resolved | None]] = {}
_RESOLVED_SIZE = 4096


@dataclass(frozen=True)
class ResourceType:
    """A resource type (RFC 7643 §6): a core schema, its extensions and the common attributes."""

    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[Schema, ...] = ()
    common: tuple[Attribute, ...] = field(default=())

    @property
    def schema_ids(self) -> tuple[str, ...]:
        return (self.schema.id, *(e.id for e in self.extensions))

    def extension(self, urn: str) -> Schema | None:
        """Return the extension schema with this URN (URNs compare case-insensitively)."""
        lowered = urn.lower()
        return next((e for e in self.extensions if e.id.lower() == lowered), None)

    def resolve(self, urn: str | None, attr: str, sub: str | None = None) -> Resolved | None:
        """Resolve ``[urn:]attr[.sub]`` to the attribute it names, or None if there is none.

        RFC 7644 §3.10: attribute names are case-insensitive and may be qualified by their
        schema URN; an unqualified name is looked up in the core schema and common attributes
        (RFC 7643 §3.1), then, as a convenience, in the extensions.
        """
        # Remembered: a filter scanning 100,000 users resolves its few paths for each of them.
        # Keyed by this (immutable, module-constant) type's id, which the entry keeps alive;
        # bounded, since paths come from requests.
        key = (id(self), urn, attr, sub)
        hit = _RESOLVED.get(key)
        if hit is None or hit[0] is not self:
            if len(_RESOLVED) >= _RESOLVED_SIZE:
                _RESOLVED.clear()
            hit = _RESOLVED[key] = (self, self._resolve(urn, attr, sub))
        return hit[1]

    def _resolve(self, urn: str | None, attr: str, sub: str | None) -> Resolved | None:
        if urn is not None:
            if urn.lower() == self.schema.id.lower():
                top, extension = self._core_attribute(attr), None
            else:
                ext = self.extension(urn)
                top, extension = (ext.attribute(attr), ext.id) if ext else (None, None)
        else:
            top, extension = self._core_attribute(attr), None
            if top is None:
                for ext in self.extensions:
                    top = ext.attribute(attr)
                    if top is not None:
                        extension = ext.id
                        break
        if top is None:
            return None
        if sub is None:
            return Resolved(extension, top)
        sub_attr = top.sub(sub)
        return Resolved(extension, top, sub_attr) if sub_attr else None

    def _core_attribute(self, name: str) -> Attribute | None:
        lowered = name.lower()
        found = next((a for a in self.common if a.name.lower() == lowered), None)
        return found or self.schema.attribute(name)


def last_name(path: object) -> str | None:
    """The attribute a path ends in, lower-cased (``password`` for ``password``,
    ``urn:…:User:password`` or ``x.password``); None when ``path`` is not a string."""
    return re.split(r"[:.]", path.strip())[-1].lower() if isinstance(path, str) else None


def split_urn(path: str, known_urns: tuple[str, ...]) -> tuple[str | None, str]:
    """Split ``urn:...:User:name.givenName`` into (``urn:...:User``, ``name.givenName``).

    A bare URN that is one of ``known_urns`` returns (urn, ""). RFC 7644 §3.10: the attribute
    follows the schema URN after a colon.
    """
    lowered = path.lower()
    for urn in sorted(known_urns, key=len, reverse=True):
        u = urn.lower()
        if lowered == u:
            return urn, ""
        if lowered.startswith(u + ":"):
            return urn, path[len(urn) + 1 :]
    if lowered.startswith("urn:") and ":" in path[4:]:
        # An unknown URN: the attribute is the part after the last colon.
        head, _, tail = path.rpartition(":")
        return head, tail
    return None, path
