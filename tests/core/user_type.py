"""A User-like resource type for the protocol tests, defined once: the attributes of RFC 7643
§4.1 and the enterprise extension (§4.3) that the filter, projection and PATCH tests need, each
with the characteristics those tests exercise (``returned``, ``mutability``, ``caseExact``,
``type``), small enough to read at a glance. ``scim.core.schemas`` holds the real one."""

from __future__ import annotations

from scim.core.attributes import CORE_USER, ENTERPRISE_USER, Attribute, ResourceType, Schema


def multi(name: str, *subs: str, **characteristics) -> Attribute:
    """A multi-valued complex attribute with ``value`` and ``subs`` (``primary`` a boolean)."""
    subs_ = tuple(
        Attribute(s, "boolean") if s == "primary" else Attribute(s) for s in ("value", *subs)
    )
    return Attribute(name, "complex", multi_valued=True, sub_attributes=subs_, **characteristics)


EMAILS = multi("emails", "type", "primary")
CORE = Schema(
    CORE_USER,
    "User",
    "User Account",
    (
        Attribute("userName", required=True, uniqueness="server"),
        Attribute("displayName"),
        Attribute(
            "name",
            type="complex",
            sub_attributes=(
                Attribute("givenName"),
                Attribute("familyName"),
                Attribute("middleName", returned="request"),
                Attribute("formatted"),
            ),
        ),
        EMAILS,
        multi("phoneNumbers", "type", "primary"),
        Attribute(
            "addresses",
            type="complex",
            multi_valued=True,
            sub_attributes=(
                Attribute("streetAddress"),
                Attribute("locality"),
                Attribute("type"),
                Attribute("primary", type="boolean"),
            ),
        ),
        Attribute("active", type="boolean"),
        Attribute("title"),
        Attribute("userType"),
        Attribute("nickName", returned="request"),
        Attribute("loginCount", type="integer"),
        Attribute("password", mutability="writeOnly", returned="never"),
        Attribute(
            "x509Certificates",
            type="complex",
            multi_valued=True,
            sub_attributes=(Attribute("value", type="binary"),),
        ),
        multi("groups", "display", mutability="readOnly"),
    ),
)
ENTERPRISE = Schema(
    ENTERPRISE_USER,
    "EnterpriseUser",
    "Enterprise User",
    (
        Attribute("employeeNumber"),
        Attribute("department"),
        Attribute("costCenter", returned="request"),
        Attribute(
            "manager",
            type="complex",
            sub_attributes=(
                Attribute("value"),
                Attribute("$ref", type="reference"),
                Attribute("displayName", mutability="readOnly"),
            ),
        ),
    ),
)
COMMON = (
    Attribute("id", case_exact=True, mutability="readOnly", returned="always"),
    Attribute("externalId", case_exact=True),
    Attribute(
        "meta",
        type="complex",
        mutability="readOnly",
        sub_attributes=(
            Attribute("resourceType", case_exact=True),
            Attribute("created", type="dateTime", mutability="readOnly"),
            Attribute("lastModified", type="dateTime"),
            Attribute("version", case_exact=True),
        ),
    ),
)
USER = ResourceType("User", "/Users", "User Account", CORE, (ENTERPRISE,), COMMON)
