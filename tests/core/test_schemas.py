"""The schema definitions against RFC 7643 §8.7.1, and the discovery documents built from them."""

import json

import pytest

from scim.core import discovery_docs
from scim.core.attributes import ENTERPRISE_USER as ENTERPRISE_URN
from scim.core.schemas import (
    COMMON,
    ENTERPRISE_USER,
    GROUP,
    GROUP_TYPE,
    RESOURCE_TYPES,
    SCHEMAS,
    USER,
    USER_TYPE,
    find_schema,
)

BASE = "https://roster.example/scim/v2"

# RFC 7643 §8.7.1: every attribute and sub-attribute, in the RFC's order.
RFC_ATTRIBUTES = {
    USER: {
        "userName": (),
        "name": (
            "formatted",
            "familyName",
            "givenName",
            "middleName",
            "honorificPrefix",
            "honorificSuffix",
        ),
        "displayName": (),
        "nickName": (),
        "profileUrl": (),
        "title": (),
        "userType": (),
        "preferredLanguage": (),
        "locale": (),
        "timezone": (),
        "active": (),
        "password": (),
        "emails": ("value", "display", "type", "primary"),
        "phoneNumbers": ("value", "display", "type", "primary"),
        "ims": ("value", "display", "type", "primary"),
        "photos": ("value", "display", "type", "primary"),
        # "primary" is not in §8.7.1's addresses, but §4.1.2 and the §8.2 example have it.
        "addresses": (
            "formatted",
            "streetAddress",
            "locality",
            "region",
            "postalCode",
            "country",
            "type",
            "primary",
        ),
        "groups": ("value", "$ref", "display", "type"),
        "entitlements": ("value", "display", "type", "primary"),
        "roles": ("value", "display", "type", "primary"),
        "x509Certificates": ("value", "display", "type", "primary"),
    },
    ENTERPRISE_USER: {
        "employeeNumber": (),
        "costCenter": (),
        "organization": (),
        "division": (),
        "department": (),
        "manager": ("value", "$ref", "displayName"),
    },
    # "display" is Roster's addition (Okta sends it); §8.7.1 lists value, $ref and type.
    GROUP: {"displayName": (), "members": ("value", "$ref", "type", "display")},
}


@pytest.mark.parametrize("schema", list(RFC_ATTRIBUTES), ids=lambda s: s.name)
def test_every_rfc_attribute_is_defined_in_order(schema):
    expected = RFC_ATTRIBUTES[schema]
    assert [a.name for a in schema.attributes] == list(expected)
    for attr in schema.attributes:
        assert tuple(s.name for s in attr.sub_attributes) == expected[attr.name], attr.name


def _resolve(path):
    """``[User|Group]:attr[.sub]``, with ``Enterprise:`` for the enterprise extension."""
    kind, _, dotted = path.partition(":")
    attr, _, sub = dotted.partition(".")
    rtype, urn = {"User": (USER_TYPE, None), "Group": (GROUP_TYPE, None)}.get(
        kind, (USER_TYPE, ENTERPRISE_URN)
    )
    resolved = rtype.resolve(urn, attr, sub or None)
    assert resolved is not None, path
    return resolved.target


@pytest.mark.parametrize(
    "path, characteristics",
    [
        ("User:userName", {"required": True, "uniqueness": "server", "case_exact": False}),
        ("User:password", {"mutability": "writeOnly", "returned": "never"}),
        ("User:groups", {"mutability": "readOnly", "multi_valued": True, "type": "complex"}),
        ("User:groups.value", {"mutability": "readOnly"}),
        ("User:groups.type", {"canonical_values": ("direct", "indirect")}),
        ("User:id", {"returned": "always", "mutability": "readOnly", "case_exact": True}),
        ("User:id", {"uniqueness": "server"}),
        ("User:externalId", {"case_exact": True, "mutability": "readWrite"}),
        ("User:meta", {"mutability": "readOnly", "type": "complex"}),
        ("User:meta.created", {"type": "dateTime", "mutability": "readOnly"}),
        ("User:meta.location", {"type": "reference", "reference_types": ("uri",)}),
        ("User:active", {"type": "boolean", "multi_valued": False}),
        ("User:profileUrl", {"type": "reference", "reference_types": ("external",)}),
        ("User:photos.value", {"type": "reference", "reference_types": ("external",)}),
        ("User:x509Certificates.value", {"type": "binary"}),
        ("User:emails", {"multi_valued": True, "mutability": "readWrite"}),
        ("User:emails.type", {"canonical_values": ("work", "home", "other")}),
        ("User:emails.primary", {"type": "boolean"}),
        (
            "User:ims.type",
            {"canonical_values": ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")},
        ),
        ("User:name.givenName", {"type": "string", "multi_valued": False}),
        ("Enterprise:manager", {"type": "complex", "multi_valued": False}),
        ("Enterprise:manager.displayName", {"mutability": "readOnly"}),
        ("Enterprise:manager.value", {"required": False, "mutability": "readWrite"}),
        ("Enterprise:manager.$ref", {"type": "reference", "reference_types": ("User",)}),
        ("Enterprise:department", {"type": "string"}),
        ("Group:displayName", {"required": True, "uniqueness": "server"}),
        ("Group:members", {"multi_valued": True, "mutability": "readWrite"}),
        ("Group:members.value", {"mutability": "immutable"}),
        ("Group:members.$ref", {"mutability": "immutable", "reference_types": ("User", "Group")}),
        ("Group:members.type", {"mutability": "immutable", "canonical_values": ("User", "Group")}),
        ("Group:members.display", {"mutability": "immutable"}),
    ],
)
def test_characteristics_match_the_rfc(path, characteristics):
    attr = _resolve(path)
    assert {k: getattr(attr, k) for k in characteristics} == characteristics


def _walk(attributes):
    for attr in attributes:
        yield attr
        yield from _walk(attr.sub_attributes)


@pytest.mark.parametrize("schema", [USER, ENTERPRISE_USER, GROUP], ids=lambda s: s.name)
def test_every_characteristic_takes_an_rfc_value(schema):
    # RFC 7643 §2.2, §2.3 and §7 list the allowed values.
    for attr in _walk((*COMMON, *schema.attributes)):
        assert attr.type in {
            "string",
            "boolean",
            "decimal",
            "integer",
            "dateTime",
            "binary",
            "reference",
            "complex",
        }, attr.name
        assert attr.mutability in {"readOnly", "readWrite", "immutable", "writeOnly"}, attr.name
        assert attr.returned in {"always", "never", "default", "request"}, attr.name
        assert attr.uniqueness in {"none", "server", "global"}, attr.name
        assert attr.description, attr.name
        assert bool(attr.sub_attributes) == (attr.type == "complex"), attr.name
        assert bool(attr.reference_types) == (attr.type == "reference"), attr.name


def test_resource_types_and_schemas_are_indexed():
    assert RESOURCE_TYPES == {"User": USER_TYPE, "Group": GROUP_TYPE}
    assert set(SCHEMAS) == {
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        ENTERPRISE_URN,
    }
    assert USER_TYPE.schema_ids == (USER.id, ENTERPRISE_URN)
    assert GROUP_TYPE.extensions == ()
    assert USER_TYPE.common == GROUP_TYPE.common == COMMON


@pytest.mark.parametrize(
    "urn, expected",
    [
        ("urn:ietf:params:scim:schemas:core:2.0:User", USER),
        ("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:GROUP", GROUP),
        (ENTERPRISE_URN.lower(), ENTERPRISE_USER),
        ("urn:ietf:params:scim:schemas:core:2.0:Nope", None),
        ("", None),
    ],
)
def test_find_schema_ignores_case(urn, expected):
    assert find_schema(urn) is expected


def test_enterprise_attributes_resolve_unqualified_and_qualified():
    assert USER_TYPE.resolve(None, "Department").extension == ENTERPRISE_URN
    assert USER_TYPE.resolve(ENTERPRISE_URN.upper(), "manager", "value").target.name == "value"


# --- discovery documents --------------------------------------------------------------------


def test_service_provider_config():
    doc = discovery_docs.service_provider_config(
        BASE, max_results=200, bulk_max_operations=50, bulk_max_payload=4096
    )
    assert doc["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert doc["patch"] == {"supported": True}
    assert doc["bulk"] == {"supported": True, "maxOperations": 50, "maxPayloadSize": 4096}
    assert doc["filter"] == {"supported": True, "maxResults": 200}
    assert doc["changePassword"] == {"supported": False}
    assert doc["sort"] == {"supported": True}
    assert doc["etag"] == {"supported": True}
    [scheme] = doc["authenticationSchemes"]
    assert scheme["type"] == "oauthbearertoken" and scheme["primary"] is True
    assert scheme["name"] and scheme["description"]
    assert doc["meta"] == {
        "resourceType": "ServiceProviderConfig",
        "location": f"{BASE}/ServiceProviderConfig",
    }
    assert "documentationUri" not in doc


def test_service_provider_config_documentation_uri():
    doc = discovery_docs.service_provider_config(
        BASE,
        max_results=1,
        bulk_max_operations=1,
        bulk_max_payload=1,
        documentation_uri="https://d.example",
    )
    assert doc["documentationUri"] == "https://d.example"


def test_resource_type_doc_for_users_lists_the_optional_extension():
    doc = discovery_docs.resource_type_doc(USER_TYPE, BASE)
    assert doc == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": "urn:ietf:params:scim:schemas:core:2.0:User",
        "schemaExtensions": [{"schema": ENTERPRISE_URN, "required": False}],
        "meta": {"resourceType": "ResourceType", "location": f"{BASE}/ResourceTypes/User"},
    }


def test_resource_type_doc_for_groups_has_no_extensions():
    doc = discovery_docs.resource_type_doc(GROUP_TYPE, BASE)
    assert doc["endpoint"] == "/Groups" and doc["schema"] == GROUP.id
    assert "schemaExtensions" not in doc
    assert doc["meta"]["location"] == f"{BASE}/ResourceTypes/Group"


@pytest.mark.parametrize("schema", [USER, ENTERPRISE_USER, GROUP], ids=lambda s: s.name)
def test_schema_doc(schema):
    doc = discovery_docs.schema_doc(schema, BASE)
    assert doc["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Schema"]
    assert (doc["id"], doc["name"]) == (schema.id, schema.name)
    assert doc["meta"] == {"resourceType": "Schema", "location": f"{BASE}/Schemas/{schema.id}"}
    assert [a["name"] for a in doc["attributes"]] == [a.name for a in schema.attributes]
    json.dumps(doc)  # it must be plain JSON


def test_schema_doc_renders_rfc_keys():
    attrs = {a["name"]: a for a in discovery_docs.schema_doc(USER, BASE)["attributes"]}
    assert attrs["password"]["mutability"] == "writeOnly"
    assert attrs["password"]["returned"] == "never"
    assert attrs["userName"]["uniqueness"] == "server"
    assert attrs["emails"]["multiValued"] is True
    emails_type = next(s for s in attrs["emails"]["subAttributes"] if s["name"] == "type")
    assert emails_type["canonicalValues"] == ["work", "home", "other"]
    assert attrs["profileUrl"]["referenceTypes"] == ["external"]
    assert "subAttributes" not in attrs["userName"]


@pytest.mark.parametrize(
    "resources, total, start",
    [([], 0, 1), ([{"id": "a"}], 1, 1), ([{"id": "b"}, {"id": "c"}], 7, 3)],
)
def test_list_response(resources, total, start):
    doc = discovery_docs.list_response(resources, total, start)
    assert doc == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
