"""JumpCloud: Test Connection, Activate, then provisioning by lookup, POST, full PUT and DELETE,
with group membership by PATCH (docs/idp/behaviour.md#jumpcloud)."""

from __future__ import annotations

import pytest

from tests.conftest import patch_op, sample
from tests.idps import CORE_USER, ENTERPRISE, GROUP, list_response, member_ids, scim_error

TEST_USER_EMAIL = "scim.activation@example.io"


def jumpcloud_user(user_name: str, external_id: str, **attributes) -> dict:
    """A user as JumpCloud POSTs it (tests/samples/jumpcloud-create-user.json)."""
    body = sample("jumpcloud-create-user.json")
    body["userName"] = user_name
    body["emails"][0]["value"] = user_name
    body["externalId"] = external_id
    return {**body, **attributes}


class TestJumpCloud:
    NAME = "JumpCloud"
    KIND = "jumpcloud"
    HEADERS = {"User-Agent": "JumpCloud-SCIM-Client/2.0", "Accept": "application/scim+json"}
    CONTENT_TYPE = "application/scim+json"

    # --- Test Connection and Activate ----------------------------------------------------------

    @pytest.mark.parametrize(
        "query",
        [{}, {"startIndex": "1", "count": "1"}, {"filter": f'userName eq "{TEST_USER_EMAIL}"'}],
    )
    def test_connection_lists_users_even_when_empty(self, idp, query):
        body = list_response(idp.get("/Users", query_string=query))
        assert body["totalResults"] == 0
        assert body["Resources"] == []

    def test_connection_with_a_trailing_slash_in_the_base_url(self, idp):
        # The admin pasted ".../scim/v2/<id>/"; JumpCloud appends "/Users" all the same.
        assert list_response(idp.get("//Users/"))["totalResults"] == 0

    def test_connection_with_a_wrong_token_is_401(self, idp):
        response = idp.get("/Users", headers={"Authorization": "Bearer roster_scim_revoked"})
        assert "token" in scim_error(response, 401)

    def test_activate_creates_updates_and_deletes_test_user_and_group(self, idp):
        user = idp.post("/Users", jumpcloud_user(TEST_USER_EMAIL, "66e2d689590450d073d2df3b"))
        assert user.status_code == 201, user.get_json()
        user_id = user.get_json()["id"]
        group = idp.post(
            "/Groups",
            {
                "schemas": [GROUP],
                "displayName": "JumpCloud Test Group",
                "members": [{"value": user_id, "display": TEST_USER_EMAIL}],
            },
        )
        assert group.status_code == 201, group.get_json()
        group_id = group.get_json()["id"]
        assert member_ids(group.get_json()) == [user_id]

        put = {**user.get_json(), "displayName": "Activation Test", "title": "Tester"}
        updated = idp.put(f"/Users/{user_id}", put)
        assert updated.status_code == 200, updated.get_json()
        assert updated.get_json()["title"] == "Tester"
        renamed = idp.patch(
            f"/Groups/{group_id}",
            patch_op({"op": "replace", "path": "displayName", "value": "JumpCloud Test Group 2"}),
        )
        assert renamed.status_code == 200, renamed.get_json()
        assert renamed.get_json()["displayName"] == "JumpCloud Test Group 2"

        assert idp.delete(f"/Groups/{group_id}").status_code == 204
        assert idp.delete(f"/Users/{user_id}").status_code == 204
        assert idp.get(f"/Groups/{group_id}").status_code == 404
        assert idp.get(f"/Users/{user_id}").status_code == 404
        assert list_response(idp.get("/Users"))["totalResults"] == 0
        assert list_response(idp.get("/Groups"))["totalResults"] == 0

    def test_activate_fails_with_409_when_the_test_email_exists(self, idp):
        existing = idp.create_user(TEST_USER_EMAIL.upper(), title="Keep me")
        response = idp.post("/Users", jumpcloud_user(TEST_USER_EMAIL, "66e2d689590450d073d2df3c"))
        detail = scim_error(response, 409, "uniqueness")
        assert "userName" in detail
        assert idp.get(f"/Users/{existing['id']}").get_json() == existing

    # --- users ---------------------------------------------------------------------------------

    def test_lookup_then_create_then_lookup_finds_it(self, idp):
        lookup = f'userName eq "{TEST_USER_EMAIL}"'
        assert idp.lookup("Users", lookup)["totalResults"] == 0
        created = idp.post("/Users", jumpcloud_user(TEST_USER_EMAIL, "66e2d689590450d073d2df3b"))
        assert created.status_code == 201
        found = idp.lookup("Users", lookup)
        assert found["totalResults"] == 1
        assert found["Resources"][0]["id"] == created.get_json()["id"]

    @pytest.mark.parametrize(
        "schemas",
        [[CORE_USER, ENTERPRISE], [ENTERPRISE, CORE_USER]],
        ids=["core-first", "ext-first"],
    )
    def test_create_with_both_urns_and_an_extension_object(self, idp, schemas):
        body = jumpcloud_user("jdoe", "664447f5c0c418f2d05e5318", schemas=schemas)
        body[ENTERPRISE] = {"department": "C-Suite"}
        response = idp.post("/Users", body)
        assert response.status_code == 201, response.get_json()
        created = response.get_json()
        assert created["schemas"] == [CORE_USER, ENTERPRISE]
        assert created[ENTERPRISE] == {"department": "C-Suite"}
        assert created["userName"] == "jdoe"  # userName can differ from the email
        assert created["emails"] == [{"primary": True, "type": "work", "value": "jdoe"}]

    @pytest.mark.parametrize("schemas", [[CORE_USER, ENTERPRISE], [ENTERPRISE, CORE_USER]])
    def test_create_with_enterprise_urn_but_no_extension_object(self, idp, schemas):
        body = {**sample("jumpcloud-create-user.json"), "schemas": schemas}
        response = idp.post("/Users", body)
        assert response.status_code == 201, response.get_json()
        created = response.get_json()
        assert created["schemas"] == [CORE_USER]
        assert created["externalId"] == "66e2d689590450d073d2df3b"
        assert created["addresses"][0]["postalCode"] == "80027"
        assert created["phoneNumbers"][0]["value"] == "tel:+1-555-555-5555"
        assert created["locale"] == created["preferredLanguage"] == "en-US"

    def test_full_put_with_id_null_emails_and_empty_arrays(self, idp):
        created = idp.post("/Users", sample("jumpcloud-create-user.json")).get_json()
        full = {**sample("jumpcloud-put-user-full.json"), "id": created["id"]}
        response = idp.put(f"/Users/{created['id']}", full)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["id"] == created["id"]
        assert body["userName"] == "john.doe@example.com"
        assert body["title"] == "Captain"
        assert body[ENTERPRISE] == {"department": "C-Suite"}
        assert body["photos"][0]["value"].endswith(".png")
        # "addresses": [] and "phoneNumbers": [] clear what the POST set (RFC 7644 §3.5.1).
        assert "addresses" not in body and "phoneNumbers" not in body

        minimal = {**sample("jumpcloud-put-user-minimal.json"), "id": created["id"]}
        response = idp.put(f"/Users/{created['id']}", minimal)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert "emails" not in body and ENTERPRISE not in body and "title" not in body
        assert body["schemas"] == [CORE_USER]
        assert idp.get(f"/Users/{created['id']}").get_json() == body

    def test_deactivate_by_put_then_delete(self, idp):
        created = idp.post("/Users", sample("jumpcloud-create-user.json")).get_json()
        deactivated = idp.put(f"/Users/{created['id']}", {**created, "active": False})
        assert deactivated.status_code == 200
        assert deactivated.get_json()["active"] is False
        found = idp.lookup("Users", 'userName eq "testuser@example.io"')
        assert found["Resources"][0]["active"] is False

        assert idp.delete(f"/Users/{created['id']}").status_code == 204
        assert idp.lookup("Users", 'userName eq "testuser@example.io"')["totalResults"] == 0
        scim_error(idp.get(f"/Users/{created['id']}"), 404)

    def test_put_to_a_user_name_taken_by_another_user_is_409(self, idp):
        idp.create_user("taken@example.io")
        created = idp.post("/Users", sample("jumpcloud-create-user.json")).get_json()
        response = idp.put(f"/Users/{created['id']}", {**created, "userName": "Taken@example.io"})
        scim_error(response, 409, "uniqueness")
        assert idp.get(f"/Users/{created['id']}").get_json()["userName"] == "testuser@example.io"

    # --- groups --------------------------------------------------------------------------------

    def test_group_is_created_with_its_first_member(self, idp):
        ann = idp.create_user("ann@example.io")
        assert idp.lookup("Groups", 'displayName eq "Engineering"')["totalResults"] == 0
        response = idp.post(
            "/Groups",
            {"schemas": [GROUP], "displayName": "Engineering", "members": [{"value": ann["id"]}]},
        )
        assert response.status_code == 201, response.get_json()
        assert member_ids(response.get_json()) == [ann["id"]]
        found = idp.lookup("Groups", 'displayName eq "Engineering"')
        assert found["Resources"][0]["id"] == response.get_json()["id"]

    @pytest.mark.parametrize("method", ["PATCH", "PUT"])
    def test_group_with_the_same_name_is_taken_over(self, idp, method):
        ann, bob = idp.create_user("ann@example.io"), idp.create_user("bob@example.io")
        existing = idp.create_group("Engineering", (ann["id"],))
        found = idp.lookup("Groups", 'displayName eq "engineering"')
        assert [g["id"] for g in found["Resources"]] == [existing["id"]]
        if method == "PATCH":
            body = patch_op({"op": "add", "path": "members", "value": [{"value": bob["id"]}]})
            response = idp.patch(f"/Groups/{existing['id']}", body)
            expected = [ann["id"], bob["id"]]
        else:
            body = {
                "schemas": [GROUP],
                "id": existing["id"],
                "displayName": "Engineering",
                "members": [{"value": bob["id"]}],
            }
            response = idp.put(f"/Groups/{existing['id']}", body)
            expected = [bob["id"]]
        assert response.status_code == 200, response.get_json()
        assert member_ids(response.get_json()) == expected
        assert list_response(idp.get("/Groups"))["totalResults"] == 1

    def test_a_group_of_another_idp_is_never_taken_over(self, idp, other):
        theirs = other.create_group("Engineering")
        assert idp.lookup("Groups", 'displayName eq "Engineering"')["totalResults"] == 0
        ours = idp.create_group("Engineering")
        assert ours["id"] != theirs["id"]
        scim_error(idp.get(f"/Groups/{theirs['id']}"), 404)
        assert other.get(f"/Groups/{theirs['id']}").get_json() == theirs

    def test_creating_a_group_whose_name_exists_is_409(self, idp):
        idp.create_group("Engineering")
        response = idp.post("/Groups", {"schemas": [GROUP], "displayName": "ENGINEERING"})
        assert "displayName" in scim_error(response, 409, "uniqueness")

    def test_rename_then_delete_group(self, idp):
        ann = idp.create_user("ann@example.io")
        group = idp.create_group("Engineering", (ann["id"],))
        body = patch_op({"op": "replace", "path": "displayName", "value": "Platform"})
        renamed = idp.patch(f"/Groups/{group['id']}", body)
        assert renamed.status_code == 200
        assert renamed.get_json()["displayName"] == "Platform"
        assert member_ids(renamed.get_json()) == [ann["id"]]
        assert idp.get(f"/Users/{ann['id']}").get_json()["groups"][0]["display"] == "Platform"
        assert idp.lookup("Groups", 'displayName eq "Engineering"')["totalResults"] == 0

        assert idp.delete(f"/Groups/{group['id']}").status_code == 204
        assert "groups" not in idp.get(f"/Users/{ann['id']}").get_json()
        scim_error(idp.get(f"/Groups/{group['id']}"), 404)

    def test_rename_onto_an_existing_name_is_409(self, idp):
        idp.create_group("Platform")
        group = idp.create_group("Engineering")
        body = patch_op({"op": "replace", "path": "displayName", "value": "platform"})
        scim_error(idp.patch(f"/Groups/{group['id']}", body), 409, "uniqueness")
        assert idp.get(f"/Groups/{group['id']}").get_json()["displayName"] == "Engineering"

    def test_repeated_member_adds_and_removes_by_value_array(self, idp):
        ann, bob = idp.create_user("ann@example.io"), idp.create_user("bob@example.io")
        group = idp.create_group("Engineering", (ann["id"],))
        add = patch_op({"op": "add", "path": "members", "value": [{"value": bob["id"]}]})
        remove = sample("jumpcloud-patch-group-remove-member.json")
        remove["Operations"][0]["value"][0]["value"] = ann["id"]
        for _ in range(2):
            response = idp.patch(f"/Groups/{group['id']}", add)
            assert response.status_code == 200, response.get_json()
            assert member_ids(response.get_json()) == [ann["id"], bob["id"]]
        for _ in range(2):
            response = idp.patch(f"/Groups/{group['id']}", remove)
            assert response.status_code == 200, response.get_json()
            assert member_ids(response.get_json()) == [bob["id"]]

    def test_repeated_member_removes_by_value_filter(self, idp):
        ann, bob = idp.create_user("ann@example.io"), idp.create_user("bob@example.io")
        group = idp.create_group("Engineering", (ann["id"], bob["id"]))
        remove = patch_op({"op": "remove", "path": f'members[value eq "{ann["id"]}"]'})
        for _ in range(2):
            response = idp.patch(f"/Groups/{group['id']}", remove)
            assert response.status_code == 200, response.get_json()
            assert member_ids(response.get_json()) == [bob["id"]]
        assert "groups" not in idp.get(f"/Users/{ann['id']}").get_json()

    def test_member_removal_after_the_user_was_deleted(self, idp):
        ann, bob = idp.create_user("ann@example.io"), idp.create_user("bob@example.io")
        group = idp.create_group("Engineering", (ann["id"], bob["id"]))
        assert idp.delete(f"/Users/{ann['id']}").status_code == 204
        assert member_ids(idp.get(f"/Groups/{group['id']}").get_json()) == [bob["id"]]
        # JumpCloud still sends the removal for the user it has just deleted.
        remove = patch_op({"op": "remove", "path": "members", "value": [{"value": ann["id"]}]})
        response = idp.patch(f"/Groups/{group['id']}", remove)
        assert response.status_code == 200, response.get_json()
        assert member_ids(response.get_json()) == [bob["id"]]

    def test_removing_the_last_member_leaves_an_empty_group(self, idp):
        ann = idp.create_user("ann@example.io")
        group = idp.create_group("Engineering", (ann["id"],))
        remove = patch_op({"op": "remove", "path": "members", "value": [{"value": ann["id"]}]})
        response = idp.patch(f"/Groups/{group['id']}", remove)
        assert response.status_code == 200
        assert member_ids(response.get_json()) == []
        assert idp.get(f"/Groups/{group['id']}").status_code == 200

    def test_adding_a_member_that_was_never_provisioned_is_400(self, idp):
        ann = idp.create_user("ann@example.io")
        group = idp.create_group("Engineering", (ann["id"],))
        ghost = "5107a4e4-0b11-4e77-8dcf-c8c6978d40ac"
        body = patch_op({"op": "add", "path": "members", "value": [{"value": ghost}]})
        detail = scim_error(idp.patch(f"/Groups/{group['id']}", body), 400, "invalidValue")
        assert ghost in detail
        assert member_ids(idp.get(f"/Groups/{group['id']}").get_json()) == [ann["id"]]
