"""RFC 7644 §3.7's own bulk examples (tests/samples/rfc7644-3.7.*), sent to Roster over HTTP
and its answers held against the RFC's: the same operations, statuses, bulkIds, locations and
versions where the RFC has them, the references resolved as its figures show."""

from __future__ import annotations

import json

import pytest
from scim2_models import BulkResponse, Context, Group, User

from tests.conftest import sample

RFC_BASE = "https://example.com/v2"
BOB = "b7c14771-226c-4d05-8860-134711653041"
DAVE = "5d8d29d3-342c-4b5f-8683-a3cb6763ffcc"
GONE = "e9025315-6bea-44e1-899c-1e07454e468b"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def bulk(scim, body: dict) -> dict:
    response = scim.post("/Bulk", body)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/scim+json"
    answer = response.get_json()
    # A third party's reading of RFC 7644 §3.7 accepts it too.
    BulkResponse[User | Group].model_validate(answer, scim_ctx=Context.BULK_RESPONSE)
    return answer


def status_code(status: object) -> str:
    """§3.7.2's figures give {"code": "201"}, §3.7.3's "201": Roster answers the latter."""
    return status["code"] if isinstance(status, dict) else status


def assert_like(answer: dict, example: dict, base: str) -> None:
    """Assert each answered operation has the RFC example's members and values, locations
    compared by endpoint (ids differ) and error bodies by status and members."""
    assert answer["schemas"] == example["schemas"]
    assert len(answer["Operations"]) == len(example["Operations"])
    for got, want in zip(answer["Operations"], example["Operations"], strict=True):
        assert set(got) == set(want), got
        assert got["method"] == want["method"]
        assert got.get("bulkId") == want.get("bulkId")
        assert got["status"] == status_code(want["status"])
        if "location" in want:
            endpoint = want["location"].removeprefix(RFC_BASE).rsplit("/", 1)[0]
            assert got["location"].startswith(f"{base}{endpoint}/")
        if "response" in want:
            assert got["response"]["schemas"] == want["response"]["schemas"]
            assert got["response"]["status"] == want["response"]["status"]


def ids(answer: dict) -> list[str]:
    return [op["location"].rsplit("/", 1)[1] for op in answer["Operations"]]


# --- §3.7.1 circular references ---------------------------------------------------------------


def test_circular_references_are_resolved_as_the_rfc_shows(scim):
    answer = bulk(scim, sample("rfc7644-3.7.1-bulk-circular.json"))
    assert [op["status"] for op in answer["Operations"]] == ["201", "201"]
    a, b = ids(answer)
    listed = scim.get("/Groups", query_string={"filter": 'displayName sw "Group"'}).get_json()
    expected = sample("rfc7644-3.7.1-groups-resolved.json")
    assert listed["totalResults"] == expected["totalResults"]
    by_name = {g["displayName"]: g for g in listed["Resources"]}
    rfc_ids = {g["displayName"]: g["id"] for g in expected["Resources"]}
    ours = {"Group A": a, "Group B": b}
    for want in expected["Resources"]:
        got = by_name[want["displayName"]]
        assert got["id"] == ours[want["displayName"]]
        [member] = got["members"]
        [rfc_member] = want["members"]
        other = next(n for n, i in rfc_ids.items() if i == rfc_member["value"])
        assert member["value"] == ours[other]
        assert member["type"] == rfc_member["type"] == "Group"
        assert member["$ref"].endswith(f"/Groups/{ours[other]}")
    # The answered version is the group's version after its members were completed.
    versions = {op["location"].rsplit("/", 1)[1]: op["version"] for op in answer["Operations"]}
    for group in listed["Resources"]:
        assert group["meta"]["version"] == versions[group["id"]]


# --- §3.7.2 bulkId ----------------------------------------------------------------------------


def test_a_new_user_joins_a_new_group_by_bulk_id(scim):
    answer = bulk(scim, sample("rfc7644-3.7.2-bulk-user-and-group.json"))
    base = f"http://localhost{scim.base}"
    assert_like(answer, sample("rfc7644-3.7.2-bulk-user-and-group-response.json"), base)
    alice, tour_guides = ids(answer)
    group = scim.get(f"/Groups/{tour_guides}")
    expected = sample("rfc7644-3.7.2-group-tour-guides.json")
    body = group.get_json()
    assert group.headers["ETag"] == answer["Operations"][1]["version"]
    assert set(body) == set(expected)
    assert body["displayName"] == expected["displayName"]
    assert body["members"] == [{"value": alice, "$ref": f"{base}/Users/{alice}", "type": "User"}]


def test_a_bulk_id_names_a_manager_in_the_enterprise_extension(scim):
    answer = bulk(scim, sample("rfc7644-3.7.2-bulk-enterprise-manager.json"))
    alice, bob = ids(answer)
    user = scim.get(f"/Users/{bob}").get_json()
    enterprise = user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
    assert enterprise["employeeNumber"] == "11250"
    assert enterprise["manager"]["value"] == alice


# --- §3.7.3 responses and errors --------------------------------------------------------------


def fail_on_errors_request(names: dict[str, str], *, fixed_schema: bool) -> dict:
    """§3.7.3's request with the RFC's ids replaced by Roster's, and, when ``fixed_schema``,
    the POST's "urn:ietf:params:scim:api:messages:2.0:User" (no such schema) by the User's."""
    text = json.dumps(sample("rfc7644-3.7.3-bulk-fail-on-errors.json"))
    for rfc_id, ours in names.items():
        text = text.replace(rfc_id, ours)
    body = json.loads(text)
    if fixed_schema:
        body["Operations"][0]["data"]["schemas"] = [CORE_USER]
    return body


def test_add_update_and_remove_users_as_the_rfc_does(scim):
    bob = scim.create_user("Bob")
    dave = scim.create_user("dave.original", nickName="Davey")
    gone = scim.create_user("leaving")
    body = fail_on_errors_request(
        {BOB: bob["id"], DAVE: dave["id"], GONE: gone["id"]}, fixed_schema=True
    )
    versions = [bob["meta"]["version"], dave["meta"]["version"], gone["meta"]["version"]]
    for operation, version in zip(body["Operations"][1:], versions, strict=True):
        operation["version"] = version  # If-Match, per operation
    answer = bulk(scim, body)
    base = f"http://localhost{scim.base}"
    assert_like(answer, sample("rfc7644-3.7.3-bulk-response.json"), base)
    assert ids(answer)[1:] == [bob["id"], dave["id"], gone["id"]]
    patched = scim.get(f"/Users/{dave['id']}").get_json()
    assert patched["userName"] == "Dave" and "nickName" not in patched
    assert patched["meta"]["version"] == answer["Operations"][2]["version"]
    assert scim.get(f"/Users/{gone['id']}").status_code == 404


def test_fail_on_errors_stops_after_the_first_error(scim, store):
    bob = scim.create_user("Bob")
    before = store.get("User", scim.id, bob["id"])
    answer = bulk(scim, fail_on_errors_request({BOB: bob["id"]}, fixed_schema=False))
    assert_like(answer, sample("rfc7644-3.7.3-bulk-response-stopped.json"), "")
    # The operations after the error were not carried out.
    assert store.get("User", scim.id, bob["id"]) == before


def test_without_fail_on_errors_every_operation_is_answered(scim):
    bob = scim.create_user("Bob")
    dave = scim.create_user("dave.original")
    body = fail_on_errors_request({BOB: bob["id"], DAVE: dave["id"]}, fixed_schema=False)
    del body["failOnErrors"]
    answer = bulk(scim, body)  # the RFC's versions are not Bob's and Dave's: 412
    base = f"http://localhost{scim.base}"
    assert_like(answer, sample("rfc7644-3.7.3-bulk-response-all-failed.json"), base)
    assert [op["location"].rsplit("/", 1)[1] for op in answer["Operations"][1:]] == [
        bob["id"],
        dave["id"],
        GONE,
    ]
    assert scim.get(f"/Users/{bob['id']}").get_json()["meta"] == bob["meta"]


# --- §3.7.4 maximum operations ----------------------------------------------------------------


@pytest.mark.backends("tinydb")
def test_a_body_over_max_payload_size_is_the_rfc_413(scim, app):
    limit = app.config["ROSTER"]["max_payload_bytes"]
    example = sample("rfc7644-3.7.4-error-payload-too-large.json")
    assert f"maxPayloadSize ({limit})" in example["detail"]  # the default is the RFC's 1 MB
    body = sample("rfc7644-3.7.2-bulk-user-and-group.json")
    body["padding"] = "x" * limit
    response = scim.post("/Bulk", body)
    assert response.status_code == 413
    error = response.get_json()
    assert set(error) == set(example)
    assert (error["schemas"], error["status"]) == (example["schemas"], example["status"])
    assert f"maxPayloadSize ({limit}" in error["detail"]  # "MUST specify the limit exceeded"
    assert scim.get("/Users").get_json()["totalResults"] == 0
