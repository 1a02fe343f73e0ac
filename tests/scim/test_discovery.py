"""Discovery over HTTP (RFC 7644 §4): truthful, complete, authenticated."""

from __future__ import annotations

import pytest

from scim.core.attributes import CORE_GROUP, CORE_USER, ENTERPRISE_USER


def test_service_provider_config_tells_the_truth(scim, app):
    body = scim.get("/ServiceProviderConfig").get_json()
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert body["patch"]["supported"] is True
    limits = app.config["ROSTER"]
    assert body["bulk"] == {
        "supported": True,
        "maxOperations": limits["bulk_max_operations"],
        "maxPayloadSize": limits["max_payload_bytes"],
    }
    assert body["filter"] == {"supported": True, "maxResults": app.config["ROSTER"]["max_results"]}
    assert body["sort"]["supported"] is True
    assert body["etag"]["supported"] is True
    assert body["changePassword"]["supported"] is False
    assert [s["type"] for s in body["authenticationSchemes"]] == ["oauthbearertoken"]
    assert body["meta"]["location"].endswith(f"{scim.base}/ServiceProviderConfig")


def test_resource_types(scim):
    body = scim.get("/ResourceTypes").get_json()
    assert body["totalResults"] == 2
    by_name = {r["name"]: r for r in body["Resources"]}
    assert by_name["User"]["endpoint"] == "/Users"
    assert by_name["User"]["schemaExtensions"] == [{"schema": ENTERPRISE_USER, "required": False}]
    assert by_name["Group"]["schema"] == CORE_GROUP
    one = scim.get("/ResourceTypes/User").get_json()
    assert one == by_name["User"]


@pytest.mark.parametrize("urn", [CORE_USER, CORE_GROUP, ENTERPRISE_USER])
def test_each_schema_is_served_with_characteristics(scim, urn):
    body = scim.get(f"/Schemas/{urn}").get_json()
    assert body["id"] == urn
    for attribute in body["attributes"]:
        assert {
            "name",
            "type",
            "multiValued",
            "required",
            "caseExact",
            "mutability",
            "returned",
            "uniqueness",
        } <= set(attribute)
    assert body in scim.get("/Schemas").get_json()["Resources"]


def test_user_schema_characteristics_that_clients_rely_on(scim):
    attributes = {a["name"]: a for a in scim.get(f"/Schemas/{CORE_USER}").get_json()["attributes"]}
    assert attributes["userName"]["uniqueness"] == "server"
    assert attributes["userName"]["required"] is True
    assert attributes["password"]["returned"] == "never"
    assert attributes["groups"]["mutability"] == "readOnly"
    assert {s["name"] for s in attributes["emails"]["subAttributes"]} >= {
        "value",
        "type",
        "primary",
    }


@pytest.mark.parametrize("path", ["/Schemas/urn:nope", "/ResourceTypes/Widget"])
def test_unknown_discovery_resources_are_404(scim, path):
    response = scim.get(path)
    assert response.status_code == 404
    assert response.get_json()["status"] == "404"


@pytest.mark.parametrize("path", ["/Schemas", "/ResourceTypes"])
def test_filtering_discovery_is_403(scim, path):
    # RFC 7644 §4: filtering discovery endpoints SHOULD be answered with 403.
    response = scim.get(path, query_string={"filter": 'name eq "User"'})
    assert response.status_code == 403
