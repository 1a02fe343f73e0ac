"""RFC 7644's own response examples: the partial representation of §3.9
(tests/samples/rfc7644-3.9-*) and the error bodies of §3.12 (tests/samples/rfc7644-3.12-*),
held against what Roster answers over HTTP and what its projection returns."""

from __future__ import annotations

from scim.core.models import load_resource
from scim.core.projection import project
from scim.core.schemas import USER_TYPE
from tests.conftest import patch_op, sample

BABS = "2819c223-7f76-453a-919d-413861904646"


def bjensen() -> dict:
    """RFC 7643 §8.2's user under the userName RFC 7644's examples give her (§3.3, §3.4.1)."""
    return {**sample("rfc7643-8.2-full-user.json"), "userName": "bjensen"}


# --- §3.9: attributes -----------------------------------------------------------------------


def test_projection_returns_the_rfc_partial_representation():
    user = load_resource(USER_TYPE, bjensen()) | {"id": BABS}
    expected = sample("rfc7644-3.9-user-attributes-username.json")
    assert project(user, USER_TYPE, attributes=["userName"]) == expected


def test_get_with_attributes_answers_the_rfc_partial_representation(scim):
    created = scim.post("/Users", bjensen())
    assert created.status_code == 201, created.get_json()
    user_id = created.get_json()["id"]
    response = scim.get(f"/Users/{user_id}", query_string={"attributes": "userName"})
    assert response.status_code == 200
    expected = sample("rfc7644-3.9-user-attributes-username.json") | {"id": user_id}
    assert response.get_json() == expected


# --- §3.12: error bodies --------------------------------------------------------------------


def assert_shaped_like(body: dict, example: dict) -> None:
    """Assert ``body`` has the RFC example's members, schema and status (the wording differs)."""
    assert set(body) == set(example), body
    assert body["schemas"] == example["schemas"]
    assert body["status"] == example["status"]  # a string, as in the RFC
    assert body.get("scimType") == example.get("scimType")


def test_a_missing_resource_is_the_rfc_not_found_error(scim):
    response = scim.get(f"/Users/{BABS}")
    assert response.status_code == 404
    assert response.mimetype == "application/scim+json"
    body = response.get_json()
    assert_shaped_like(body, sample("rfc7644-3.12-error-not-found.json"))
    assert BABS in body["detail"]


def test_changing_id_is_the_rfc_mutability_error(scim):
    user = scim.create_user("bjensen")
    response = scim.patch(
        f"/Users/{user['id']}", patch_op({"op": "replace", "path": "id", "value": BABS})
    )
    assert response.status_code == 400
    body = response.get_json()
    assert_shaped_like(body, sample("rfc7644-3.12-error-mutability.json"))
    assert "id" in body["detail"]
    assert scim.get(f"/Users/{user['id']}").get_json() == user


def test_a_put_that_sends_another_id_ignores_it(scim):
    # The RFC's mutability example answers a PUT, but RFC 7644 §3.5.1 says a readOnly value in
    # a PUT "SHALL be ignored": Roster keeps the id, and the mutability error belongs to PATCH.
    user = scim.create_user("bjensen")
    response = scim.put(f"/Users/{user['id']}", {**user, "id": BABS, "title": "Tour Guide"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == user["id"]
    assert scim.get(f"/Users/{BABS}").status_code == 404
