"""``GET /api/v1/users`` and ``/users/{id}``: the application shape, every filter, tenants,
404s, and a 400 problem naming the parameter for every bad one."""

from __future__ import annotations

import pytest

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class People:
    """Three users and two groups in one IdP (one group inside the other); one user of the
    same name in a second IdP."""

    def __init__(self, scim, other):
        self.scim, self.other = scim, other
        self.ann = scim.create_user(
            "ann@example.com",
            name={"givenName": "Ann", "familyName": "Lee", "formatted": "Ann Lee"},
            displayName="Annie",
            emails=[
                {"value": "ann@home.example", "type": "home"},
                {"value": "Ann.Lee@Work.example", "type": "work", "primary": True},
            ],
            externalId="ext-ann",
            active=True,
        )
        # Entra sends booleans as strings; Roster stores a boolean.
        self.bob = scim.create_user("bob", emails=[{"value": "bob@home.example"}], active="False")
        self.cy = scim.create_user("cy", displayName="Cyrus Quill")  # no "active": active
        self.staff = scim.create_group("Staff", (self.ann["id"], self.bob["id"]))
        self.admins = scim.create_group("Admins", (self.ann["id"], self.staff["id"]))
        self.elsewhere = other.create_user("ann@example.com", active=True)


@pytest.fixture
def people(scim, other) -> People:
    return People(scim, other)


def ids(items: list[dict]) -> set[str]:
    return {item["id"] for item in items}


def test_a_user_in_the_application_shape(api, people, store):
    body = api.ok(f"/users/{people.ann['id']}")
    user = body["data"]
    assert body["seq"] == store.last_seq()
    assert user["id"] == people.ann["id"] and user["idp"] == people.scim.id
    assert user["external_id"] == "ext-ann" and user["username"] == "ann@example.com"
    assert user["active"] is True
    assert user["name"] == {"given": "Ann", "family": "Lee", "formatted": "Ann Lee"}
    assert user["display_name"] == "Annie"
    assert user["primary_email"] == "Ann.Lee@Work.example"
    assert user["emails"][0] == {"value": "ann@home.example", "type": "home", "primary": False}
    groups = {g["id"]: g["name"] for g in user["groups"]}
    assert groups == {people.staff["id"]: "Staff", people.admins["id"]: "Admins"}
    assert user["created"] == people.ann["meta"]["created"]
    assert user["updated"] == people.ann["meta"]["lastModified"]
    assert user["scim"]["userName"] == "ann@example.com" and user["scim"]["id"] == user["id"]


def test_users_list_every_idp_in_id_order_each_with_its_tenant(api, people, store):
    body = api.ok("/users")
    assert body["has_more"] is False and body["next_cursor"] is None
    assert body["seq"] == store.last_seq()  # the feed's position, read before the data
    listed = body["data"]
    assert [u["id"] for u in listed] == sorted(u["id"] for u in listed)
    tenants = {u["id"]: u["idp"] for u in listed}
    assert tenants == {
        people.ann["id"]: people.scim.id,
        people.bob["id"]: people.scim.id,
        people.cy["id"]: people.scim.id,
        people.elsewhere["id"]: people.other.id,
    }
    by_id = {u["id"]: u for u in listed}
    assert by_id[people.elsewhere["id"]]["groups"] == []  # groups are per tenant
    assert {g["name"] for g in by_id[people.bob["id"]]["groups"]} == {"Staff"}


def test_the_idp_filter_keeps_one_tenant(api, people):
    mine = api.ok("/users", idp=people.scim.id)["data"]
    assert ids(mine) == {people.ann["id"], people.bob["id"], people.cy["id"]}
    theirs = api.ok("/users", idp=people.other.id)["data"]
    assert ids(theirs) == {people.elsewhere["id"]}


@pytest.mark.parametrize(
    ("active", "expected"),
    [("true", {"ann", "cy", "elsewhere"}), ("false", {"bob"})],
)
def test_the_active_filter(api, people, active, expected):
    found = api.ok("/users", active=active)["data"]
    assert ids(found) == {getattr(people, name)["id"] for name in expected}
    assert all(u["active"] is (active == "true") for u in found)


def test_the_group_filter_lists_direct_members_that_are_users(api, people):
    staff = api.ok("/users", group=people.staff["id"])["data"]
    assert ids(staff) == {people.ann["id"], people.bob["id"]}
    # Admins holds ann and the group Staff: a group is no user, and membership is direct.
    admins = api.ok("/users", group=people.admins["id"])["data"]
    assert ids(admins) == {people.ann["id"]}
    both = api.ok("/users", group=people.staff["id"], active="false", idp=people.scim.id)
    assert ids(both["data"]) == {people.bob["id"]}


def test_the_email_filter_ignores_case_and_finds_any_address(api, people):
    assert ids(api.ok("/users", email="ann.lee@WORK.example")["data"]) == {people.ann["id"]}
    assert ids(api.ok("/users", email="ann@home.example")["data"]) == {people.ann["id"]}
    assert api.ok("/users", email="ann@work.example")["data"] == []  # equality, not substring


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ANN@EX", {"ann", "elsewhere"}),  # userName
        ("annie", {"ann"}),  # displayName
        ("quill", {"cy"}),  # displayName
        ("ann lee", {"ann"}),  # name.formatted
        ("LEE", {"ann"}),  # name.familyName (and an email)
        ("home.example", {"ann", "bob"}),  # emails
        ("nobody", set()),
    ],
)
def test_q_looks_for_text_in_every_name_and_email(api, people, q, expected):
    found = api.ok("/users", q=q)["data"]
    assert ids(found) == {getattr(people, name)["id"] for name in expected}


def test_filters_combine(api, people):
    found = api.ok("/users", q="ann", active="true", idp=people.scim.id)["data"]
    assert ids(found) == {people.ann["id"]}


def test_an_unknown_or_foreign_id_is_a_404_problem(api, people):
    assert api.problem("/users/no-such-id", 404)["title"] == "Not Found"
    assert api.problem(f"/users/{people.staff['id']}", 404)  # a group is no user


def test_a_user_of_the_second_idp_is_found_by_id_alone(api, people):
    assert api.ok(f"/users/{people.elsewhere['id']}")["data"]["idp"] == people.other.id


def test_a_deleted_user_is_gone(api, people):
    assert people.scim.delete(f"/Users/{people.bob['id']}").status_code == 204
    api.problem(f"/users/{people.bob['id']}", 404)
    assert people.bob["id"] not in ids(api.ok("/users")["data"])
    staff = api.ok("/users", group=people.staff["id"])["data"]
    assert ids(staff) == {people.ann["id"]}


def snapshot(store, *tenants) -> list:
    return [store.query(kind, t.id) for t in tenants for kind in ("User", "Group")]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": "bm90IGpzb24"}, "cursor"),  # base64url of "not json"
        ({"cursor": "WyJ1c2VycyIsMV0"}, "cursor"),  # ["users",1]
        ({"cursor": "WyJncm91cHMiLCJ4Il0"}, "cursor"),  # ["groups","x"]: another list's
        ({"active": "maybe"}, "active"),
        ({"active": "True"}, "active"),
        ({"active": ""}, "active"),
        ({"idp": "no-such-idp"}, "idp"),
        ({"idp": ""}, "idp"),
        ({"group": "no-such-group"}, "group"),
        ({"email": "x" * 257}, "email"),
        ({"q": ""}, "q"),
        ({"filter": 'userName eq "ann"'}, "filter"),  # not SCIM: no such parameter
    ],
)
def test_each_bad_parameter_is_a_400_problem_naming_it(api, store, people, query, parameter):
    before = snapshot(store, people.scim, people.other)
    body = api.problem("/users", 400, **query)
    assert body["parameter"] == parameter and body["title"] == "Bad Request"
    assert body["detail"].startswith(f"{parameter}: ")
    assert snapshot(store, people.scim, people.other) == before


def test_a_parameter_given_twice_is_refused(api, people):
    body = api.problem("/users?limit=1&limit=2", 400)  # in the path: a dict cannot repeat
    assert body["parameter"] == "limit"


def test_a_group_of_another_idp_is_refused_with_its_idp(api, people):
    group = people.other.create_group("Theirs", (people.elsewhere["id"],))
    body = api.problem("/users", 400, group=group["id"], idp=people.scim.id)
    assert body["parameter"] == "group"
    assert ids(api.ok("/users", group=group["id"])["data"]) == {people.elsewhere["id"]}


def test_one_user_takes_no_parameters(api, people):
    body = api.problem(f"/users/{people.ann['id']}", 400, limit="1")
    assert body["parameter"] == "limit"


def test_seq_is_read_before_the_data(api, store, people, monkeypatch):
    calls = []
    for name in ("last_seq", "query", "get", "groups_of_each"):
        original = getattr(store, name)
        monkeypatch.setattr(
            store, name, lambda *a, _o=original, _n=name, **k: calls.append(_n) or _o(*a, **k)
        )
    for path in ("/users", f"/users/{people.ann['id']}", f"/users?group={people.staff['id']}"):
        calls.clear()
        api.ok(path)
        assert calls[0] == "last_seq" and len(calls) > 1, (path, calls)


def test_a_password_hash_never_leaves(api, scim, store):
    user = scim.create_user("pat", password="correct horse battery staple")
    stored = store.get("User", scim.id, user["id"])
    digest = stored["_password"]
    for path in (f"/users/{user['id']}", "/users"):
        body = api.get(path).get_data(as_text=True)
        assert digest not in body and "_password" not in body and "correct horse" not in body


@pytest.mark.parametrize("fetch_at_most", [0, 1000])
def test_a_filtered_group_answers_alike_by_lookups_or_by_one_pass(
    api, people, monkeypatch, fetch_at_most
):
    from appapi import reading

    monkeypatch.setattr(reading, "FETCH_AT_MOST", fetch_at_most)
    query = {"group": people.staff["id"], "limit": "1"}
    assert ids(api.walk("/users", **query, active="true")) == {people.ann["id"]}
    assert ids(api.walk("/users", **query, q="BOB")) == {people.bob["id"]}
    assert ids(api.walk("/users", **query, email="bob@HOME.example")) == {people.bob["id"]}
    assert ids(api.walk("/users", **query)) == {people.ann["id"], people.bob["id"]}
