"""``GET /api/v1/groups``, ``/groups/{id}`` and ``/groups/{id}/members``: the application
shape without members, the idp and member filters, members page by page, 404s and 400s."""

from __future__ import annotations

import pytest


class Teams:
    """Two users and three groups in one IdP (Leads inside Staff); one group in another."""

    def __init__(self, scim, other):
        self.scim, self.other = scim, other
        self.ann = scim.create_user("ann", displayName="Ann Lee")
        self.bob = scim.create_user("bob")
        self.leads = scim.create_group("Leads", (self.ann["id"],))
        self.staff = scim.create_group("Staff", (self.ann["id"], self.bob["id"], self.leads["id"]))
        self.empty = scim.create_group("Empty")
        self.carol = other.create_user("carol")
        self.theirs = other.create_group("Staff", (self.carol["id"],))


@pytest.fixture
def teams(scim, other) -> Teams:
    return Teams(scim, other)


def ids(items: list[dict]) -> set[str]:
    return {item["id"] for item in items}


def test_a_group_in_the_application_shape_has_no_members(api, teams, store):
    body = api.ok(f"/groups/{teams.staff['id']}")
    group = body["data"]
    assert body["seq"] == store.last_seq()
    assert group["id"] == teams.staff["id"] and group["idp"] == teams.scim.id
    assert group["name"] == "Staff" and group["member_count"] == 3
    assert group["external_id"] is None
    assert group["created"] == teams.staff["meta"]["created"]
    assert group["updated"] == teams.staff["meta"]["lastModified"]
    assert "members" not in group["scim"] and group["scim"]["displayName"] == "Staff"


def test_groups_list_every_idp_in_id_order(api, teams):
    body = api.ok("/groups")
    listed = body["data"]
    assert [g["id"] for g in listed] == sorted(g["id"] for g in listed)
    assert {g["id"]: g["idp"] for g in listed} == {
        teams.leads["id"]: teams.scim.id,
        teams.staff["id"]: teams.scim.id,
        teams.empty["id"]: teams.scim.id,
        teams.theirs["id"]: teams.other.id,
    }
    assert body["has_more"] is False and body["next_cursor"] is None


def test_the_idp_filter(api, teams):
    assert ids(api.ok("/groups", idp=teams.other.id)["data"]) == {teams.theirs["id"]}


@pytest.mark.parametrize(
    ("member", "expected"),
    [("ann", {"leads", "staff"}), ("bob", {"staff"}), ("leads", {"staff"}), ("carol", {"theirs"})],
)
def test_the_member_filter_lists_direct_memberships(api, teams, member, expected):
    found = api.ok("/groups", member=getattr(teams, member)["id"])["data"]
    assert ids(found) == {getattr(teams, name)["id"] for name in expected}


def test_the_member_filter_pages(api, teams):
    first = api.ok("/groups", member=teams.ann["id"], limit="1")
    assert len(first["data"]) == 1 and first["has_more"] is True
    rest = api.ok("/groups", member=teams.ann["id"], cursor=first["next_cursor"])
    assert rest["has_more"] is False
    assert ids(first["data"] + rest["data"]) == {teams.leads["id"], teams.staff["id"]}


def test_members_with_their_type_and_display(api, teams, scim, store):
    # An IdP may send a member's display; otherwise it is the member's own name.
    robert = {"value": teams.bob["id"], "display": "Robert"}
    response = scim.patch(
        f"/Groups/{teams.staff['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "remove", "path": f'members[value eq "{teams.bob["id"]}"]'},
                {"op": "add", "path": "members", "value": [robert]},
            ],
        },
    )
    assert response.status_code == 200, response.get_json()
    body = api.ok(f"/groups/{teams.staff['id']}/members")
    assert body["seq"] == store.last_seq() and body["has_more"] is False
    assert [m["id"] for m in body["data"]] == sorted(m["id"] for m in body["data"])
    assert {m["id"]: (m["type"], m["display"]) for m in body["data"]} == {
        teams.ann["id"]: ("user", "Ann Lee"),
        teams.bob["id"]: ("user", "Robert"),
        teams.leads["id"]: ("group", "Leads"),
    }


def test_members_page_by_page(api, teams):
    walked = api.walk(f"/groups/{teams.staff['id']}/members", limit="1")
    assert [m["id"] for m in walked] == sorted(
        [teams.ann["id"], teams.bob["id"], teams.leads["id"]]
    )
    assert api.ok(f"/groups/{teams.empty['id']}/members")["data"] == []


@pytest.mark.parametrize("path", ["/groups/{}", "/groups/{}/members"])
def test_an_unknown_group_or_a_user_is_a_404_problem(api, teams, path):
    api.problem(path.format("no-such-id"), 404)
    api.problem(path.format(teams.ann["id"]), 404)


def snapshot(store, *tenants) -> list:
    return [store.query(kind, t.id) for t in tenants for kind in ("User", "Group")]


@pytest.mark.parametrize(
    ("path", "query", "parameter"),
    [
        ("/groups", {"limit": "0"}, "limit"),
        ("/groups", {"limit": "100000"}, "limit"),
        ("/groups", {"cursor": "not a cursor"}, "cursor"),
        ("/groups", {"cursor": "WyJ1c2VycyIsIngiXQ"}, "cursor"),  # ["users","x"]
        ("/groups", {"idp": "no-such-idp"}, "idp"),
        ("/groups", {"member": "no-such-id"}, "member"),
        ("/groups", {"active": "true"}, "active"),  # users only
        ("/groups/{staff}/members", {"limit": "-1"}, "limit"),
        ("/groups/{staff}/members", {"cursor": "WyJncm91cHMiLCJ4Il0"}, "cursor"),
        ("/groups/{staff}/members", {"idp": "x"}, "idp"),
        ("/groups/{staff}", {"limit": "1"}, "limit"),
        ("/idps", {"limit": "1"}, "limit"),
    ],
)
def test_each_bad_parameter_is_a_400_problem_naming_it(api, store, teams, path, query, parameter):
    before = snapshot(store, teams.scim, teams.other)
    body = api.problem(path.format(staff=teams.staff["id"]), 400, **query)
    assert body["parameter"] == parameter
    assert snapshot(store, teams.scim, teams.other) == before


def test_a_member_of_another_idp_is_refused_with_its_idp(api, teams):
    body = api.problem("/groups", 400, member=teams.carol["id"], idp=teams.scim.id)
    assert body["parameter"] == "member"


def test_idps_say_their_seq_and_counts(api, teams, store):
    body = api.ok("/idps")
    assert body["seq"] == store.last_seq()
    counts = {i["id"]: (i["users"], i["groups"]) for i in body["data"]}
    assert counts == {teams.scim.id: (2, 3), teams.other.id: (1, 1)}
