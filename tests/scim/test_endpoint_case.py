"""Endpoint names are matched without regard to case (several IdP test collections send
``/users`` or ``/serviceproviderconfig``); Roster still writes the names of RFC 7644 §3.2."""

from __future__ import annotations

import pytest

from scim.http import canonical_path
from tests.conftest import patch_op

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/scim/v2/abc/users", "/scim/v2/abc/Users"),
        ("/scim/v2/abc/USERS/", "/scim/v2/abc/Users"),
        ("/scim/v2/abc//groups/.SEARCH", "/scim/v2/abc/Groups/.search"),
        ("/scim/v2/abc/serviceproviderconfig", "/scim/v2/abc/ServiceProviderConfig"),
        ("/scim/v2/abc/resourcetypes/user", "/scim/v2/abc/ResourceTypes/user"),
        ("/scim/v2/abc/.Search", "/scim/v2/abc/.search"),
        # Ids are never touched: neither the IdP's nor a resource's.
        ("/scim/v2/USERS/users/AbC-1", "/scim/v2/USERS/Users/AbC-1"),
        ("/scim/v2/abc/schemas/urn:ietf:params:scim:schemas:core:2.0:User",
         "/scim/v2/abc/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"),
        ("/scim/v2/abc/unknown", "/scim/v2/abc/unknown"),
    ],
)  # fmt: skip
def test_canonical_path(path, expected):
    assert canonical_path(path) == expected


def test_lower_case_users_endpoint_works_and_writes_canonical_locations(scim):
    created = scim.post("/users", {"schemas": [USER], "userName": "ann"})
    assert created.status_code == 201
    user = created.get_json()
    assert created.headers["Location"].endswith(f"/scim/v2/{scim.id}/Users/{user['id']}")
    assert user["meta"]["location"] == created.headers["Location"]
    assert scim.get(f"/users/{user['id']}").get_json()["userName"] == "ann"
    listed = scim.get('/USERS?filter=userName eq "ann"').get_json()
    assert listed["totalResults"] == 1
    assert "/Users/" in listed["Resources"][0]["meta"]["location"]
    op = {"op": "replace", "path": "active", "value": False}
    assert scim.patch(f"/uSeRs/{user['id']}", patch_op(op)).status_code == 200
    assert scim.delete(f"/users/{user['id']}").status_code == 204


def test_an_id_keeps_its_case(scim):
    user = scim.create_user("ann")
    assert scim.get(f"/users/{user['id'].upper()}").status_code == 404


@pytest.mark.parametrize(
    "path", ["/serviceproviderconfig", "/SERVICEPROVIDERCONFIG", "/resourcetypes", "/schemas"]
)
def test_discovery_in_any_case_names_the_canonical_endpoints(scim, path):
    response = scim.get(path)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert f"/scim/v2/{scim.id}/" in body
    assert "/serviceproviderconfig" not in body and "/resourcetypes" not in body


def test_resource_types_point_at_the_canonical_endpoints(scim):
    body = scim.get("/resourcetypes").get_json()
    assert sorted(r["endpoint"] for r in body["Resources"]) == ["/Groups", "/Users"]


@pytest.mark.parametrize("path", ["/groups/.search", "/GROUPS/.Search", "/.SEARCH"])
def test_search_in_any_case(scim, path):
    scim.create_group("Team")
    response = scim.post(path, {"schemas": [SEARCH], "filter": 'displayName eq "Team"'})
    assert response.status_code == 200
    assert response.get_json()["totalResults"] == 1


def test_an_unsupported_endpoint_answers_the_same_in_any_case(scim):
    assert scim.post("/me", {"schemas": []}).status_code == 501
    assert scim.post("/Me", {"schemas": []}).status_code == 501


def test_bulk_answers_the_same_in_any_case(scim):
    # A BulkRequest without its schema: the same 400 whatever the case of the path.
    answers = [scim.post(path, {"schemas": []}) for path in ("/Bulk", "/bulk", "/BULK")]
    assert {(r.status_code, r.get_json()["scimType"]) for r in answers} == {(400, "invalidValue")}
