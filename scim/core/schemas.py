"""Roster's schemas: User, EnterpriseUser and Group as RFC 7643 §8.7.1 gives them.

Every characteristic below is copied from the schema representation in RFC 7643 §8.7.1, with
long descriptions shortened; where Roster departs from it the line says why. The common
attributes (id, externalId, meta) come from RFC 7643 §3.1, which §8.7.1 does not repeat.
Validation, projection and the discovery documents all read these definitions.
"""

from __future__ import annotations

from scim.core.attributes import CORE_GROUP, CORE_USER, Attribute, ResourceType, Schema
from scim.core.attributes import ENTERPRISE_USER as ENTERPRISE_USER_URN

# RFC 7643 §8.7.1 calls each User "display" sub-attribute "READ-ONLY" in its description but
# gives it a mutability of readWrite; we publish the characteristics, not the prose.
_DISPLAY = Attribute("display", description="A human-readable name, used for display purposes.")


def _text(name: str, description: str, **characteristics) -> Attribute:
    """A string attribute; the RFC's defaults apply unless ``characteristics`` say otherwise."""
    return Attribute(name, description=description, **characteristics)


def _type(description: str, canonical: tuple[str, ...] = ()) -> Attribute:
    return Attribute("type", description=description, canonical_values=canonical)


def _primary(preferred: str = "value") -> Attribute:
    return Attribute(
        "primary",
        "boolean",
        description=f"Whether this is the primary {preferred}; 'true' MUST appear at most once.",
    )


def _multi(name: str, description: str, *subs: Attribute, **characteristics) -> Attribute:
    """A multi-valued complex attribute (RFC 7643 §2.4)."""
    return Attribute(
        name,
        "complex",
        multi_valued=True,
        description=description,
        sub_attributes=subs,
        **characteristics,
    )


_NAME = Attribute(
    "name",
    "complex",
    description="The components of the user's real name.",
    sub_attributes=(
        _text("formatted", "The full name, formatted for display, e.g., 'Ms. Barbara J Jensen'."),
        _text("familyName", "The family name of the User, or last name, e.g., 'Jensen'."),
        _text("givenName", "The given name of the User, or first name, e.g., 'Barbara'."),
        _text("middleName", "The middle name(s) of the User, e.g., 'Jane'."),
        _text("honorificPrefix", "The honorific prefix(es) of the User, e.g., 'Ms.'."),
        _text("honorificSuffix", "The honorific suffix(es) of the User, e.g., 'III'."),
    ),
)

_ADDRESSES = _multi(
    "addresses",
    "A physical mailing address for this User.",
    _text("formatted", "The full mailing address, formatted for display; MAY contain newlines."),
    _text("streetAddress", "The full street address component; MAY contain newlines."),
    _text("locality", "The city or locality component."),
    _text("region", "The state or region component."),
    _text("postalCode", "The zip code or postal code component."),
    _text("country", "The country name component."),
    _type("A label indicating the attribute's function.", ("work", "home", "other")),
    # Missing from §8.7.1, but §4.1.2 gives addresses a "primary" and the §8.2 example sends it.
    _primary("mailing address"),
)

_GROUPS = _multi(
    "groups",
    "The groups the user belongs to, directly, through nested groups, or dynamically.",
    _text("value", "The identifier of the User's group.", mutability="readOnly"),
    Attribute(
        "$ref",
        "reference",
        mutability="readOnly",
        reference_types=("User", "Group"),
        description="The URI of the corresponding 'Group' resource.",
    ),
    _text("display", "A human-readable name, used for display purposes.", mutability="readOnly"),
    _text(
        "type",
        "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.",
        mutability="readOnly",
        canonical_values=("direct", "indirect"),
    ),
    mutability="readOnly",
)

USER = Schema(
    CORE_USER,
    "User",
    "User Account",
    (
        _text(
            "userName",
            "Unique identifier for the User, used to authenticate.  REQUIRED.",
            required=True,
            uniqueness="server",
        ),
        _NAME,
        _text("displayName", "The name of the User, suitable for display to end-users."),
        _text("nickName", "The casual way to address the user in real life, e.g., 'Bob'."),
        Attribute(
            "profileUrl",
            "reference",
            reference_types=("external",),
            description="A fully qualified URL pointing to the User's online profile.",
        ),
        _text("title", 'The user\'s title, such as "Vice President."'),
        _text("userType", "The relationship between the organization and the user."),
        _text("preferredLanguage", "The User's preferred written or spoken language."),
        _text("locale", "The User's default location, for localizing currency, dates, numbers."),
        _text("timezone", "The User's time zone in the 'Olson' format."),
        Attribute("active", "boolean", description="The User's administrative status."),
        _text(
            "password",
            "The User's cleartext password, to set or reset it.",
            mutability="writeOnly",
            returned="never",
        ),
        _multi(
            "emails",
            "Email addresses for the user.",
            _text("value", "Email addresses for the user."),
            _DISPLAY,
            _type("A label indicating the attribute's function.", ("work", "home", "other")),
            _primary("email address"),
        ),
        _multi(
            "phoneNumbers",
            "Phone numbers for the User, canonicalized per RFC 3966.",
            _text("value", "Phone number of the User."),
            _DISPLAY,
            _type(
                "A label indicating the attribute's function.",
                ("work", "home", "mobile", "fax", "pager", "other"),
            ),
            _primary("phone number"),
        ),
        _multi(
            "ims",
            "Instant messaging addresses for the User.",
            _text("value", "Instant messaging address for the User."),
            _DISPLAY,
            _type(
                "A label indicating the attribute's function.",
                ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
            ),
            _primary("messenger"),
        ),
        _multi(
            "photos",
            "URLs of photos of the User.",
            Attribute(
                "value",
                "reference",
                reference_types=("external",),
                description="URL of a photo of the User.",
            ),
            _DISPLAY,
            _type("A label indicating the attribute's function.", ("photo", "thumbnail")),
            _primary("photo"),
        ),
        _ADDRESSES,
        _GROUPS,
        _multi(
            "entitlements",
            "A list of entitlements for the User that represent a thing the User has.",
            _text("value", "The value of an entitlement."),
            _DISPLAY,
            _type("A label indicating the attribute's function."),
            _primary(),
        ),
        _multi(
            "roles",
            "A list of roles for the User that collectively represent who the User is.",
            _text("value", "The value of a role."),
            _DISPLAY,
            _type("A label indicating the attribute's function."),
            _primary(),
        ),
        _multi(
            "x509Certificates",
            "A list of certificates issued to the User.",
            Attribute("value", "binary", description="The value of an X.509 certificate."),
            _DISPLAY,
            _type("A label indicating the attribute's function."),
            _primary(),
        ),
    ),
)

ENTERPRISE_USER = Schema(
    ENTERPRISE_USER_URN,
    "EnterpriseUser",
    "Enterprise User",
    (
        _text("employeeNumber", "Identifier assigned to a person, e.g., by order of hire."),
        _text("costCenter", "Identifies the name of a cost center."),
        _text("organization", "Identifies the name of an organization."),
        _text("division", "Identifies the name of a division."),
        _text("department", "Identifies the name of a department."),
        Attribute(
            "manager",
            "complex",
            description="The User's manager, referencing the 'id' attribute of another User.",
            sub_attributes=(
                # §8.7.1's prose says "REQUIRED." but its "required" is false; the latter rules.
                _text("value", "The id of the SCIM resource representing the User's manager."),
                Attribute(
                    "$ref",
                    "reference",
                    reference_types=("User",),
                    description="The URI of the SCIM resource representing the User's manager.",
                ),
                _text(
                    "displayName",
                    "The displayName of the User's manager.",
                    mutability="readOnly",
                ),
            ),
        ),
    ),
)

GROUP = Schema(
    CORE_GROUP,
    "Group",
    "Group",
    (
        # RFC 7643 §8.7.1 has required false and uniqueness none. Roster requires a name and
        # keeps it unique per tenant because IdPs find groups by it (JumpCloud takes over a
        # group with the same name; PingFederate lists groups to find one), so two groups with
        # one name would make those lookups ambiguous. A duplicate is answered 409 uniqueness.
        _text(
            "displayName",
            "A human-readable name for the Group. REQUIRED.",
            required=True,
            uniqueness="server",
        ),
        _multi(
            "members",
            "A list of members of the Group.",
            _text("value", "Identifier of the member of this Group.", mutability="immutable"),
            Attribute(
                "$ref",
                "reference",
                mutability="immutable",
                reference_types=("User", "Group"),
                description="The URI of a SCIM resource that is a member of this Group.",
            ),
            _text(
                "type",
                "A label indicating the type of resource, e.g., 'User' or 'Group'.",
                mutability="immutable",
                canonical_values=("User", "Group"),
            ),
            # Not in §8.7.1. RFC 7643 §2.4 gives multi-valued attributes an immutable
            # "display", and §4.2 makes member sub-attributes immutable. Okta sends it with
            # each member, so it is accepted and stored rather than treated as readOnly.
            _text("display", "A human-readable name for the member.", mutability="immutable"),
        ),
    ),
)

# RFC 7643 §3.1: attributes every resource has, whatever its schema. "meta" and its
# sub-attributes are assigned by the service provider and ignored when clients send them.
COMMON = (
    _text(
        "id",
        "A unique identifier for the resource, defined by the service provider.",
        case_exact=True,
        mutability="readOnly",
        returned="always",
        uniqueness="server",
    ),
    _text(
        "externalId",
        "An identifier for the resource, defined by the provisioning client.",
        case_exact=True,
    ),
    Attribute(
        "meta",
        "complex",
        mutability="readOnly",
        description="A complex attribute containing resource metadata.",
        sub_attributes=(
            _text(
                "resourceType",
                "The name of the resource type of the resource.",
                case_exact=True,
                mutability="readOnly",
            ),
            Attribute(
                "created",
                "dateTime",
                mutability="readOnly",
                description="When the resource was added to the service provider.",
            ),
            Attribute(
                "lastModified",
                "dateTime",
                mutability="readOnly",
                description="When the resource was last updated.",
            ),
            Attribute(
                "location",
                "reference",
                case_exact=True,
                mutability="readOnly",
                reference_types=("uri",),
                description="The URI of the resource.",
            ),
            _text(
                "version",
                "The version (ETag) of the resource.",
                case_exact=True,
                mutability="readOnly",
            ),
        ),
    ),
)

USER_TYPE = ResourceType(
    "User", "/Users", "User Account", schema=USER, extensions=(ENTERPRISE_USER,), common=COMMON
)
GROUP_TYPE = ResourceType("Group", "/Groups", "Group", schema=GROUP, common=COMMON)

RESOURCE_TYPES: dict[str, ResourceType] = {t.name: t for t in (USER_TYPE, GROUP_TYPE)}
SCHEMAS: dict[str, Schema] = {s.id: s for s in (USER, ENTERPRISE_USER, GROUP)}


def find_schema(urn: str) -> Schema | None:
    """Return the schema with this URN; RFC 7644 §3.10: URNs are case-insensitive."""
    lowered = urn.lower()
    return next((s for s in SCHEMAS.values() if s.id.lower() == lowered), None)
