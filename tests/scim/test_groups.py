"""/Groups over HTTP: members, renames, membership PATCHes (RFC 7644 §3.5.2, RFC 7643 §4.2)."""

from __future__ import annotations

from tests.conftest import patch_op, sample

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def member_ids(group: dict) -> list[str]:
    return [m["value"] for m in group.get("members", [])]


def test_create_group_with_members(scim):
    ann = scim.create_user("ann")
    group = scim.create_group("Team", (ann["id"],))
    assert group["meta"]["resourceType"] == "Group"
    assert group["members"] == [
        {"value": ann["id"], "type": "User", "$ref": ann["meta"]["location"]}
    ]


def test_duplicate_display_name_is_409(scim):
    scim.create_group("Team")
    response = scim.post("/Groups", {"schemas": [GROUP], "displayName": "TEAM"})
    assert response.status_code == 409
    assert response.get_json()["scimType"] == "uniqueness"


def test_unknown_member_is_rejected_and_nothing_is_stored(scim):
    response = scim.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Team", "members": [{"value": "ghost"}]}
    )
    assert response.status_code == 400
    assert response.get_json()["scimType"] == "invalidValue"
    assert scim.get("/Groups").get_json()["totalResults"] == 0


def test_member_of_another_tenant_is_rejected(scim, other):
    stranger = other.create_user("stranger")
    response = scim.post(
        "/Groups",
        {"schemas": [GROUP], "displayName": "Team", "members": [{"value": stranger["id"]}]},
    )
    assert response.status_code == 400


def test_groups_can_nest(scim):
    inner = scim.create_group("Inner")
    outer = scim.create_group("Outer", (inner["id"],))
    assert outer["members"][0]["type"] == "Group"
    assert outer["members"][0]["$ref"].endswith(f"/Groups/{inner['id']}")


def test_membership_add_and_remove_are_idempotent(scim):
    ann, bob = scim.create_user("ann"), scim.create_user("bob")
    group = scim.create_group("Team", (ann["id"],))
    add = patch_op({"op": "add", "path": "members", "value": [{"value": bob["id"]}]})
    for _ in range(2):
        response = scim.patch(f"/Groups/{group['id']}", add)
        assert response.status_code == 200
        assert member_ids(response.get_json()) == [ann["id"], bob["id"]]
    remove = patch_op({"op": "remove", "path": f'members[value eq "{ann["id"]}"]'})
    for _ in range(2):
        response = scim.patch(f"/Groups/{group['id']}", remove)
        assert response.status_code == 200
        assert member_ids(response.get_json()) == [bob["id"]]


def test_okta_membership_patch(scim):
    old, new = scim.create_user("old"), scim.create_user("new")
    group = scim.create_group("Team", (old["id"],))
    body = sample("okta-patch-group-membership.json")
    body["Operations"][0]["path"] = f'members[value eq "{old["id"]}"]'
    body["Operations"][1]["value"][0]["value"] = new["id"]
    response = scim.patch(f"/Groups/{group['id']}", body)
    assert response.status_code == 200
    assert member_ids(response.get_json()) == [new["id"]]


def test_remove_members_by_value_array(scim):
    ann, bob = scim.create_user("ann"), scim.create_user("bob")
    group = scim.create_group("Team", (ann["id"], bob["id"]))
    body = sample("entra-patch-group-remove-member.json")
    body["Operations"][0]["value"] = [{"value": ann["id"]}]
    response = scim.patch(f"/Groups/{group['id']}", body)
    assert member_ids(response.get_json()) == [bob["id"]]


def test_okta_rename_carries_id(scim):
    group = scim.create_group("Old name")
    body = sample("okta-patch-group-rename.json")
    body["Operations"][0]["value"]["id"] = group["id"]
    response = scim.patch(f"/Groups/{group['id']}", body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["displayName"] == "Test SCIMv2"


def test_replace_members(scim):
    ann, bob = scim.create_user("ann"), scim.create_user("bob")
    group = scim.create_group("Team", (ann["id"],))
    body = patch_op({"op": "replace", "path": "members", "value": [{"value": bob["id"]}]})
    assert member_ids(scim.patch(f"/Groups/{group['id']}", body).get_json()) == [bob["id"]]


def test_adding_unknown_member_fails_whole_patch(scim):
    ann = scim.create_user("ann")
    group = scim.create_group("Team")
    body = patch_op(
        {"op": "add", "path": "members", "value": [{"value": ann["id"]}]},
        {"op": "add", "path": "members", "value": [{"value": "ghost"}]},
    )
    assert scim.patch(f"/Groups/{group['id']}", body).status_code == 400
    assert member_ids(scim.get(f"/Groups/{group['id']}").get_json()) == []


def test_deleting_a_user_removes_it_from_groups(scim):
    ann, bob = scim.create_user("ann"), scim.create_user("bob")
    group = scim.create_group("Team", (ann["id"], bob["id"]))
    scim.delete(f"/Users/{ann['id']}")
    assert member_ids(scim.get(f"/Groups/{group['id']}").get_json()) == [bob["id"]]


def test_excluded_members(scim):
    ann = scim.create_user("ann")
    group = scim.create_group("Team", (ann["id"],))
    body = scim.get(f"/Groups/{group['id']}?excludedAttributes=members").get_json()
    assert "members" not in body and body["displayName"] == "Team"
    listed = scim.get("/Groups?excludedAttributes=members").get_json()
    assert "members" not in listed["Resources"][0]


def test_put_group(scim):
    ann = scim.create_user("ann")
    group = scim.create_group("Team")
    body = {"schemas": [GROUP], "displayName": "Renamed", "members": [{"value": ann["id"]}]}
    response = scim.put(f"/Groups/{group['id']}", body)
    assert response.status_code == 200
    assert response.get_json()["displayName"] == "Renamed"
    assert member_ids(response.get_json()) == [ann["id"]]


def test_delete_group(scim):
    group = scim.create_group("Team")
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert scim.get(f"/Groups/{group['id']}").status_code == 404
