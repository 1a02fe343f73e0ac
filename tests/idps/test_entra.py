"""Microsoft Entra ID: GUID probes, capitalised ops, string booleans, filtered and URN paths,
manager in every shape, groups read without members, soft then hard deletes
(docs/idp/behaviour.md#microsoft-entra-id)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import patch_op, sample
from tests.idps import CORE_USER, ENTERPRISE, GROUP, member_ids, scim_error

MANAGER = f"{ENTERPRISE}:manager"
MICROSOFT_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def entra_user(idp, user_name: str = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee") -> dict:
    body = {**sample("entra-create-user.json"), "userName": user_name}
    response = idp.post("/Users", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def entra_group(idp, name: str, extra_schema: str = MICROSOFT_GROUP, members=()) -> dict:
    """A group as Entra POSTs it: an extra Microsoft schema URI and a ``meta``."""
    body = {
        "schemas": [GROUP, extra_schema],
        "externalId": str(uuid.uuid4()),
        "displayName": name,
        "meta": {"resourceType": "Group"},
    }
    if members:
        body["members"] = [{"value": m} for m in members]
    response = idp.post("/Groups", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


class TestEntra:
    NAME = "Microsoft Entra ID"
    KIND = "entra"
    HEADERS = {"User-Agent": "Microsoft.Identity.Provisioning", "Accept": "application/scim+json"}
    CONTENT_TYPE = "application/scim+json; charset=utf-8"

    def test_connection_probes_random_guids(self, idp):
        entra_user(idp)
        entra_group(idp, "Existing")
        users = idp.lookup("Users", f'userName eq "{uuid.uuid4()}"')
        groups = idp.lookup(
            "Groups", f'displayName eq "{uuid.uuid4()}"', excludedAttributes="members"
        )
        for body in (users, groups):
            assert (body["totalResults"], body["Resources"]) == (0, [])

    def test_create_then_match_on_external_id(self, idp):
        created = entra_user(idp)
        assert created["schemas"] == [CORE_USER]
        assert "roles" not in created and created["meta"]["resourceType"] == "User"
        found = idp.lookup("Users", 'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"')
        assert [u["id"] for u in found["Resources"]] == [created["id"]]
        # externalId is caseExact (RFC 7643 §3.1): another case is another id.
        other = idp.lookup("Users", 'externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"')
        assert other["totalResults"] == 0

    def test_create_with_string_booleans(self, idp):
        body = sample("entra-create-user.json")
        body["active"] = "True"
        body["emails"][0]["primary"] = "True"
        response = idp.post("/Users", body)
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["active"] is True
        assert response.get_json()["emails"][0]["primary"] is True

    def test_capitalised_ops_and_string_booleans(self, idp):
        created = entra_user(idp)
        response = idp.patch(f"/Users/{created['id']}", sample("entra-patch-user-multi.json"))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["displayName"] == "Pvlo"
        assert body["emails"] == [
            {"primary": True, "type": "work", "value": "TestBcwqnm@test.microsoft.com"}
        ]
        assert body["name"]["givenName"] == "Gtfd" and body["name"]["familyName"] == "familyName"
        assert body[ENTERPRISE] == {"employeeNumber": "Eqpj"}
        assert body["schemas"] == [CORE_USER, ENTERPRISE]
        add = patch_op(
            {"op": "Add", "path": "title", "value": "Engineer"},
            # Entra sends "Add" for a changed work email; it replaces the value in place.
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "new@contoso.com"},
        )
        body = idp.patch(f"/Users/{created['id']}", add).get_json()
        assert body["title"] == "Engineer"
        assert body["emails"] == [{"primary": True, "type": "work", "value": "new@contoso.com"}]
        remove = patch_op({"op": "Remove", "path": "title"})
        assert "title" not in idp.patch(f"/Users/{created['id']}", remove).get_json()

    def test_work_address_sub_attributes_create_then_update_the_element(self, idp):
        created = entra_user(idp)
        assert "addresses" not in created
        first = patch_op(
            {"op": "Add", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Way"},
            {"op": "Replace", "path": 'addresses[type eq "work"].locality', "value": "Redmond"},
        )
        response = idp.patch(f"/Users/{created['id']}", first)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["addresses"] == [
            {"type": "work", "streetAddress": "1 Way", "locality": "Redmond"}
        ]
        second = patch_op(
            {"op": "Replace", "path": 'addresses[type eq "work"].streetAddress', "value": "2 Way"}
        )
        response = idp.patch(f"/Users/{created['id']}", second)
        assert response.get_json()["addresses"] == [
            {"type": "work", "streetAddress": "2 Way", "locality": "Redmond"}
        ]

    def test_no_path_value_with_dotted_and_urn_keys(self, idp):
        created = entra_user(idp)
        response = idp.patch(f"/Users/{created['id']}", sample("entra-patch-user-nopath.json"))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["emails"][0]["value"] == "TestMhvaes@test.microsoft.com"
        assert body["displayName"] == "Bjfe"
        assert body["name"]["givenName"] == "Kkom" and body["name"]["familyName"] == "Unua"
        assert body[ENTERPRISE]["employeeNumber"] == "Aklq"
        no_path_bool = patch_op({"op": "Replace", "value": {"active": "False"}})
        assert idp.patch(f"/Users/{created['id']}", no_path_bool).get_json()["active"] is False

    def test_urn_qualified_enterprise_paths(self, idp):
        created = entra_user(idp)
        body = patch_op(
            {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Finance"},
            {"op": "Add", "path": f"{ENTERPRISE}:costCenter", "value": "4130"},
        )
        response = idp.patch(f"/Users/{created['id']}", body)
        assert response.get_json()[ENTERPRISE] == {"department": "Finance", "costCenter": "4130"}
        remove = patch_op(
            {"op": "Remove", "path": f"{ENTERPRISE}:department"},
            {"op": "Remove", "path": f"{ENTERPRISE}:costCenter"},
        )
        response = idp.patch(f"/Users/{created['id']}", remove)
        assert ENTERPRISE not in response.get_json()
        assert response.get_json()["schemas"] == [CORE_USER]

    @pytest.mark.parametrize(
        "shape",
        [lambda id: id, lambda id: {"value": id}, lambda id: [{"value": id}]],
        ids=["string", "object", "array"],
    )
    def test_manager_in_every_shape_and_removal_with_empty_string(self, idp, shape):
        boss = entra_user(idp, "boss@contoso.com")
        created = entra_user(idp)
        add = patch_op({"op": "Add", "path": MANAGER, "value": shape(boss["id"])})
        response = idp.patch(f"/Users/{created['id']}", add)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()[ENTERPRISE]["manager"]["value"] == boss["id"]
        assert idp.lookup("Users", f'{MANAGER}.value eq "{boss["id"]}"')["totalResults"] == 1
        remove = patch_op({"op": "Replace", "path": MANAGER, "value": ""})
        response = idp.patch(f"/Users/{created['id']}", remove)
        assert response.status_code == 200, response.get_json()
        assert ENTERPRISE not in response.get_json()

    @pytest.mark.parametrize(
        "removal",
        [
            lambda boss: {"op": "Replace", "value": ""},
            lambda boss: {"op": "Replace", "value": []},
            lambda boss: {"op": "Remove"},
            lambda boss: {"op": "Remove", "value": [{"value": boss}]},
        ],
        ids=["empty-string", "empty-array", "remove", "remove-value"],
    )
    def test_manager_removal(self, idp, removal):
        boss = entra_user(idp, "boss@contoso.com")
        created = entra_user(idp)
        add = patch_op({"op": "Add", "path": MANAGER, "value": boss["id"]})
        assert ENTERPRISE in idp.patch(f"/Users/{created['id']}", add).get_json()
        body = patch_op({**removal(boss["id"]), "path": MANAGER})
        response = idp.patch(f"/Users/{created['id']}", body)
        assert response.status_code == 200, response.get_json()
        assert ENTERPRISE not in idp.get(f"/Users/{created['id']}").get_json()

    @pytest.mark.parametrize(
        "extra_schema",
        [MICROSOFT_GROUP, "urn:ietf:params:scim:schemas:extension:microsoft:2.0:Group"],
    )
    def test_group_with_extra_schema_and_meta(self, idp, extra_schema):
        user = entra_user(idp)
        group = entra_group(idp, "Sales", extra_schema, (user["id"],))
        assert group["schemas"] == [GROUP]
        assert group["meta"]["resourceType"] == "Group" and group["meta"]["location"]
        assert member_ids(group) == [user["id"]]

    def test_groups_read_with_excluded_members(self, idp):
        user = entra_user(idp)
        group = entra_group(idp, "Sales", members=(user["id"],))
        one = idp.get(f"/Groups/{group['id']}", query_string={"excludedAttributes": "members"})
        assert one.status_code == 200
        assert "members" not in one.get_json()
        assert one.get_json()["displayName"] == "Sales" and one.get_json()["id"] == group["id"]
        listed = idp.lookup("Groups", 'displayName eq "Sales"', excludedAttributes="members")
        assert listed["totalResults"] == 1
        assert "members" not in listed["Resources"][0]
        # The members are still there: only the response left them out.
        assert member_ids(idp.get(f"/Groups/{group['id']}").get_json()) == [user["id"]]

    def test_redundant_adds_and_removal_by_value_array(self, idp):
        ann, bob = entra_user(idp, "ann@contoso.com"), entra_user(idp, "bob@contoso.com")
        group = entra_group(idp, "Sales", members=(ann["id"],))
        add = patch_op(
            {"op": "Add", "path": "members", "value": [{"value": ann["id"]}]},
            {"op": "Add", "path": "members", "value": [{"value": bob["id"]}]},
        )
        for _ in range(2):
            response = idp.patch(f"/Groups/{group['id']}", add)
            assert response.status_code == 200, response.get_json()
            assert member_ids(response.get_json()) == [ann["id"], bob["id"]]
        remove = sample("entra-patch-group-remove-member.json")
        remove["Operations"][0]["value"][0]["value"] = ann["id"]
        for _ in range(2):
            response = idp.patch(f"/Groups/{group['id']}", remove)
            assert response.status_code == 200, response.get_json()
            assert member_ids(response.get_json()) == [bob["id"]]
        rename = patch_op({"op": "Replace", "path": "displayName", "value": "Sales EMEA"})
        assert idp.patch(f"/Groups/{group['id']}", rename).get_json()["displayName"] == "Sales EMEA"

    def test_disabled_user_stays_readable_and_filterable_until_deleted(self, idp):
        created = entra_user(idp)
        enabled = entra_user(idp, "still.active@contoso.com")
        response = idp.patch(f"/Users/{created['id']}", sample("entra-patch-user-disable.json"))
        assert response.status_code == 200
        assert idp.get(f"/Users/{created['id']}").get_json()["active"] is False
        disabled = idp.lookup("Users", "active eq false")
        assert [u["id"] for u in disabled["Resources"]] == [created["id"]]
        active = idp.lookup("Users", "active eq true")
        assert [u["id"] for u in active["Resources"]] == [enabled["id"]]

        assert idp.delete(f"/Users/{created['id']}").status_code == 204
        scim_error(idp.get(f"/Users/{created['id']}"), 404)
        assert idp.lookup("Users", "active eq false")["totalResults"] == 0

    # --- what Roster cannot honour -------------------------------------------------------------

    def test_custom_extension_path_is_ignored_like_on_create(self, idp):
        # An Entra custom mapping must not fail every update: unknown extensions are ignored.
        created = entra_user(idp)
        path = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:Badge"
        body = patch_op({"op": "Add", "path": path, "value": "42"})
        response = idp.patch(f"/Users/{created['id']}", body)
        assert response.status_code == 200
        assert "Badge" not in json.dumps(response.get_json())

    def test_unknown_core_attribute_path_is_invalid_path(self, idp):
        created = entra_user(idp)
        body = patch_op({"op": "Add", "path": "badgeNumber", "value": "42"})
        detail = scim_error(idp.patch(f"/Users/{created['id']}", body), 400, "invalidPath")
        assert "badgeNumber" in detail

    def test_renaming_onto_a_taken_user_name_is_409(self, idp):
        entra_user(idp, "taken@contoso.com")
        created = entra_user(idp)
        body = patch_op({"op": "Replace", "path": "userName", "value": "TAKEN@contoso.com"})
        scim_error(idp.patch(f"/Users/{created['id']}", body), 409, "uniqueness")
        assert idp.get(f"/Users/{created['id']}").get_json()["userName"] == created["userName"]

    def test_unparseable_string_boolean_is_invalid_value(self, idp):
        created = entra_user(idp)
        body = patch_op({"op": "Replace", "path": "active", "value": "Maybe"})
        detail = scim_error(idp.patch(f"/Users/{created['id']}", body), 400, "invalidValue")
        assert "active" in detail
        assert idp.get(f"/Users/{created['id']}").get_json()["active"] is True

    def test_replacing_a_whole_email_that_does_not_exist_is_no_target(self, idp):
        created = entra_user(idp)
        body = patch_op(
            {"op": "Replace", "path": 'emails[type eq "home"]', "value": {"value": "a@b.c"}}
        )
        scim_error(idp.patch(f"/Users/{created['id']}", body), 400, "noTarget")

    def test_adding_an_unprovisioned_member_is_invalid_value(self, idp):
        group = entra_group(idp, "Sales")
        ghost = str(uuid.uuid4())
        body = patch_op({"op": "Add", "path": "members", "value": [{"value": ghost}]})
        assert ghost in scim_error(idp.patch(f"/Groups/{group['id']}", body), 400, "invalidValue")
