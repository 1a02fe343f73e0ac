"""PingFederate: users are created by POST and updated only by PUT, groups by PATCH, and groups
are found by listing every page of ``/Groups`` (docs/idp/behaviour.md#pingfederate)."""

from __future__ import annotations

import pytest

from tests.conftest import patch_op
from tests.idps import CORE_USER, list_response, member_ids, scim_error

PAGE = 10


def ping_user(user_name: str, **attributes) -> dict:
    return {
        "schemas": [CORE_USER],
        "userName": user_name,
        "name": {"givenName": "Pat", "familyName": "Ping"},
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
        **attributes,
    }


def all_groups(idp, **params) -> tuple[list[dict], set[int]]:
    """Page through ``/Groups`` as PingFederate does; return the groups and the totals seen."""
    seen, totals, start = [], set(), 1
    while True:
        query = {"startIndex": start, "count": PAGE, **params}
        body = list_response(idp.get("/Groups", query_string=query))
        assert body["startIndex"] == start
        totals.add(body["totalResults"])
        seen += body["Resources"]
        start += PAGE
        if start > body["totalResults"]:
            return seen, totals


class TestPingFederate:
    NAME = "PingFederate"
    KIND = "pingfederate"
    HEADERS = {"User-Agent": "PingFederate-SCIM-Connector/11.3", "Accept": "application/json"}
    CONTENT_TYPE = "application/json"

    def test_users_are_created_by_post_and_updated_by_put(self, idp):
        response = idp.post("/Users", ping_user("pat@example.com"))
        assert response.status_code == 201, response.get_json()
        created = response.get_json()
        path = f"/Users/{created['id']}"

        changed = ping_user("pat@example.com", title="Analyst", phoneNumbers=[{"value": "+1 555"}])
        response = idp.put(path, changed)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["title"] == "Analyst"

        renamed = ping_user("patricia@example.com", title="Analyst")
        response = idp.put(path, renamed)
        body = response.get_json()
        assert body["userName"] == "patricia@example.com"
        assert "phoneNumbers" not in body  # PUT replaces: what is not sent is gone
        assert idp.lookup("Users", 'userName eq "pat@example.com"')["totalResults"] == 0

        response = idp.put(path, {**renamed, "active": False})
        assert response.get_json()["active"] is False
        assert idp.get(path).get_json()["active"] is False
        assert body["meta"]["created"] == created["meta"]["created"]

    def test_put_to_a_deleted_user_is_404(self, idp):
        created = idp.create_user("pat@example.com")
        assert idp.delete(f"/Users/{created['id']}").status_code == 204
        scim_error(idp.put(f"/Users/{created['id']}", ping_user("pat@example.com")), 404)

    def test_put_without_user_name_is_invalid_value(self, idp):
        created = idp.create_user("pat@example.com")
        body = ping_user("pat@example.com")
        del body["userName"]
        detail = scim_error(idp.put(f"/Users/{created['id']}", body), 400, "invalidValue")
        assert "userName" in detail

    def test_groups_are_patched(self, idp):
        pat, sam = idp.create_user("pat@example.com"), idp.create_user("sam@example.com")
        group = idp.create_group("Analysts", (pat["id"],))
        body = patch_op(
            {"op": "add", "path": "members", "value": [{"value": sam["id"]}]},
            {"op": "remove", "path": f'members[value eq "{pat["id"]}"]'},
        )
        response = idp.patch(f"/Groups/{group['id']}", body)
        assert response.status_code == 200, response.get_json()
        assert member_ids(response.get_json()) == [sam["id"]]
        rename = patch_op({"op": "replace", "path": "displayName", "value": "Data Analysts"})
        assert idp.patch(f"/Groups/{group['id']}", rename).get_json()["displayName"] == (
            "Data Analysts"
        )

    @pytest.mark.parametrize("params", [{}, {"attributes": "displayName"}])
    def test_listing_every_group_sees_each_once(self, idp, params):
        created = [idp.create_group(f"Group {i:02}") for i in range(25)]
        seen, totals = all_groups(idp, **params)
        assert totals == {25}
        assert [g["id"] for g in seen] == [g["id"] for g in created]
        assert seen == all_groups(idp, **params)[0]  # stable across listings
        if params:
            assert all(set(g) == {"schemas", "id", "displayName"} for g in seen)

    def test_listing_stays_in_creation_order_while_groups_change(self, idp):
        user = idp.create_user("pat@example.com")
        created = [idp.create_group(f"Group {i:02}") for i in range(25)]
        add = patch_op({"op": "add", "path": "members", "value": [{"value": user["id"]}]})
        seen, start = [], 1
        while start <= 25:
            page = idp.get("/Groups", query_string={"startIndex": start, "count": PAGE})
            seen += list_response(page)["Resources"]
            # PingFederate's own PATCHes land between the pages it reads.
            assert idp.patch(f"/Groups/{seen[0]['id']}", add).status_code == 200
            start += PAGE
        assert [g["id"] for g in seen] == [g["id"] for g in created]
