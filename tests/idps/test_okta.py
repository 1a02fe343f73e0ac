"""Okta: credential test, lookup, create, GET-then-PUT, no-path deactivation, group push and
membership, the wizard's PUT-everything variant, and Okta's spec-test expectations
(docs/idp/behaviour.md#okta)."""

from __future__ import annotations

from tests.conftest import patch_op, sample
from tests.idps import CORE_USER, GROUP, list_response, member_ids, scim_error

USER_NAME = "test.user@okta.local"


def push_group(idp, name: str) -> dict:
    """Push a group the way Okta does: POST with an empty members array."""
    response = idp.post("/Groups", {"schemas": [GROUP], "displayName": name, "members": []})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def rename(group_id: str, name: str) -> dict:
    """Okta's rename operation, which it re-sends with every membership change."""
    return {"op": "replace", "value": {"id": group_id, "displayName": name}}


class TestOkta:
    NAME = "Okta"
    KIND = "okta"
    HEADERS = {"User-Agent": "Okta SCIM Client 1.0.0", "Accept": "application/scim+json"}
    CONTENT_TYPE = "application/json"

    def test_api_credentials(self, idp):
        users = list_response(idp.get("/Users", query_string={"startIndex": 1, "count": 2}))
        assert (users["totalResults"], users["startIndex"]) == (0, 1)
        groups = list_response(idp.get("/Groups", query_string={"startIndex": 1, "count": 100}))
        assert groups["totalResults"] == 0

    def test_lookup_create_and_upper_cased_lookup(self, idp):
        page = {"startIndex": 1, "count": 100}
        assert idp.lookup("Users", f'userName eq "{USER_NAME}"', **page)["totalResults"] == 0
        response = idp.post("/Users", sample("okta-create-user.json"))
        assert response.status_code == 201, response.get_json()
        created = response.get_json()
        assert created["userName"] == USER_NAME
        assert created["externalId"] == "00ujl29u0le5T6Aj10h7"
        assert created["active"] is True
        assert created["emails"][0]["value"] == USER_NAME
        assert "password" not in created and "groups" not in created
        assert response.headers["Location"] == created["meta"]["location"]
        found = idp.lookup("Users", f'userName eq "{USER_NAME.upper()}"', **page)
        assert found["totalResults"] == 1
        assert found["Resources"][0] == created

    def test_duplicate_create_is_409(self, idp):
        assert idp.post("/Users", sample("okta-create-user.json")).status_code == 201
        response = idp.post("/Users", sample("okta-create-user.json"))
        assert USER_NAME in scim_error(response, 409, "uniqueness")
        assert list_response(idp.get("/Users"))["totalResults"] == 1

    def test_missing_user_is_404_with_string_status(self, idp):
        scim_error(idp.get("/Users/00000000-0000-0000-0000-000000000000"), 404)
        body = {"schemas": [CORE_USER], "userName": USER_NAME}
        scim_error(idp.put("/Users/00000000-0000-0000-0000-000000000000", body), 404)

    def test_first_page_is_not_empty_once_a_user_exists(self, idp):
        created = idp.post("/Users", sample("okta-create-user.json")).get_json()
        idp.create_user("second@okta.local")
        body = list_response(idp.get("/Users", query_string={"count": 1, "startIndex": 1}))
        assert body["totalResults"] == 2
        assert body["Resources"] == [created]

    def test_profile_update_is_get_then_put(self, idp):
        created = idp.post("/Users", sample("okta-create-user.json")).get_json()
        group = push_group(idp, "Okta Group")
        add = patch_op({"op": "add", "path": "members", "value": [{"value": created["id"]}]})
        assert idp.patch(f"/Groups/{group['id']}", add).status_code == 200
        current = idp.get(f"/Users/{created['id']}").get_json()
        assert current["groups"][0]["value"] == group["id"]
        # Okta sends back what it read, with its changes and the password it syncs.
        current["name"] = {"givenName": "Tess", "familyName": "User"}
        current["password"] = "n3w-Passw0rd"
        response = idp.put(f"/Users/{created['id']}", current)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["name"] == {"givenName": "Tess", "familyName": "User"}
        assert body["groups"] == current["groups"]  # readOnly, derived: untouched by PUT
        assert "password" not in body
        assert body["meta"]["created"] == created["meta"]["created"]

    def test_deactivate_and_reactivate_without_a_path(self, idp):
        created = idp.post("/Users", sample("okta-create-user.json")).get_json()
        response = idp.patch(f"/Users/{created['id']}", sample("okta-patch-deactivate.json"))
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["active"] is False
        assert idp.get(f"/Users/{created['id']}").get_json()["active"] is False
        reactivate = patch_op({"op": "replace", "value": {"active": True}})
        response = idp.patch(f"/Users/{created['id']}", reactivate)
        assert response.status_code == 200
        assert response.get_json()["active"] is True
        assert response.get_json()["userName"] == USER_NAME

    def test_group_push_rename_and_membership(self, idp):
        ann, bob = idp.create_user("ann@okta.local"), idp.create_user("bob@okta.local")
        group = push_group(idp, "Okta Group")
        assert "members" not in group or group["members"] == []

        body = sample("okta-patch-group-rename.json")
        body["Operations"][0]["value"]["id"] = group["id"]
        response = idp.patch(f"/Groups/{group['id']}", body)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["displayName"] == "Test SCIMv2"
        assert response.get_json()["id"] == group["id"]

        add = patch_op(
            rename(group["id"], "Test SCIMv2"),
            {
                "op": "add",
                "path": "members",
                "value": [
                    {"value": ann["id"], "display": "ann@okta.local"},
                    {"value": bob["id"], "display": "bob@okta.local"},
                ],
            },
        )
        response = idp.patch(f"/Groups/{group['id']}", add)
        assert response.status_code == 200, response.get_json()
        assert member_ids(response.get_json()) == [ann["id"], bob["id"]]

        swap = sample("okta-patch-group-membership.json")
        swap["Operations"][0]["path"] = f'members[value eq "{ann["id"]}"]'
        swap["Operations"][1]["value"][0]["value"] = bob["id"]
        swap["Operations"].insert(0, rename(group["id"], "Test SCIMv2"))
        response = idp.patch(f"/Groups/{group['id']}", swap)
        assert response.status_code == 200, response.get_json()
        assert member_ids(response.get_json()) == [bob["id"]]

        replace = patch_op(
            rename(group["id"], "Test SCIMv2"),
            {"op": "replace", "path": "members", "value": [{"value": ann["id"]}]},
        )
        response = idp.patch(f"/Groups/{group['id']}", replace)
        assert member_ids(response.get_json()) == [ann["id"]]
        empty = patch_op({"op": "replace", "path": "members", "value": []})
        assert member_ids(idp.patch(f"/Groups/{group['id']}", empty).get_json()) == []

    def test_membership_patch_naming_an_unpushed_user_is_400(self, idp):
        group = push_group(idp, "Okta Group")
        ghost = "23a35c27-23d3-4c03-b4c5-6443c09e7173"
        body = sample("okta-patch-group-membership.json")  # adds the ghost's id
        detail = scim_error(idp.patch(f"/Groups/{group['id']}", body), 400, "invalidValue")
        assert ghost in detail and "members" in detail

    def test_wizard_put_naming_an_unpushed_user_is_400_and_changes_nothing(self, idp):
        ann = idp.create_user("ann@okta.local")
        group = idp.create_group("Wizard Group", (ann["id"],))
        ghost = "23a35c27-23d3-4c03-b4c5-6443c09e7173"
        body = {
            "schemas": [GROUP],
            "id": group["id"],
            "displayName": "Wizard Group",
            "members": [{"value": ann["id"]}, {"value": ghost, "display": "ghost@okta.local"}],
        }
        detail = scim_error(idp.put(f"/Groups/{group['id']}", body), 400, "invalidValue")
        assert ghost in detail
        assert idp.get(f"/Groups/{group['id']}").get_json() == group

    def test_wizard_app_puts_users_and_groups(self, idp):
        created = idp.post("/Users", sample("okta-create-user.json")).get_json()
        other = idp.create_user("other@okta.local")
        user = {**sample("okta-create-user.json"), "id": created["id"], "title": "Tester"}
        response = idp.put(f"/Users/{created['id']}", user)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["title"] == "Tester"
        deactivated = idp.put(f"/Users/{created['id']}", {**user, "active": False})
        assert deactivated.get_json()["active"] is False

        group = push_group(idp, "Wizard Group")
        members = [
            {"value": created["id"], "display": USER_NAME},
            {"value": other["id"], "display": "other@okta.local"},
        ]
        body = {"schemas": [GROUP], "id": group["id"], "displayName": "Wizard", "members": members}
        response = idp.put(f"/Groups/{group['id']}", body)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["displayName"] == "Wizard"
        assert member_ids(response.get_json()) == [created["id"], other["id"]]
        body["members"] = members[1:]
        response = idp.put(f"/Groups/{group['id']}", body)
        assert member_ids(response.get_json()) == [other["id"]]
        assert "groups" not in idp.get(f"/Users/{created['id']}").get_json()
