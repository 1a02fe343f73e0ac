"""Listing, filtering, sorting, paging and /.search over HTTP (RFC 7644 §3.4)."""

from __future__ import annotations

import pytest

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture
def people(scim):
    rows = [
        ("alice", "Engineer", True, "alice@work.example"),
        ("bob", "Manager", False, "bob@home.example"),
        ("carol", "Engineer", True, "carol@work.example"),
        ("dave", None, True, "dave@work.example"),
    ]
    created = []
    for name, title, active, email in rows:
        extra = {"active": active, "emails": [{"value": email, "type": "work"}]}
        if title:
            extra["title"] = title
        created.append(scim.create_user(name, **extra))
    return created


def names(response) -> list[str]:
    return [r["userName"] for r in response.get_json()["Resources"]]


def test_empty_list_is_a_list_response(scim):
    body = scim.get("/Users").get_json()
    assert body == {
        "schemas": [LIST],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


@pytest.mark.parametrize(
    "query, expected",
    [
        ('userName eq "ALICE"', ["alice"]),
        ("userName eq alice", ["alice"]),
        ('title eq "Engineer" and active eq true', ["alice", "carol"]),
        ('title eq "Manager" or userName sw "d"', ["bob", "dave"]),
        ("not (title pr)", ["dave"]),
        ('emails[type eq "work" and value co "@work"]', ["alice", "carol", "dave"]),
        ('emails.value ew "home.example"', ["bob"]),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob"', ["bob"]),
        ('USERNAME eq "carol"', ["carol"]),
        ('userName eq "00000000-0000-0000-0000-000000000000"', []),
        ('meta.created gt "2000-01-01T00:00:00Z"', ["alice", "bob", "carol", "dave"]),
    ],
)
def test_filters(scim, people, query, expected):
    response = scim.get("/Users", query_string={"filter": query})
    assert response.status_code == 200
    assert names(response) == expected
    assert response.get_json()["totalResults"] == len(expected)


@pytest.mark.parametrize(
    "query", ['userName eq "x" and', "(userName eq 1", "userName zz 1", "a" * 5000]
)
def test_invalid_filter_is_400_invalid_filter(scim, query):
    response = scim.get("/Users", query_string={"filter": query})
    assert response.status_code == 400
    assert response.get_json()["scimType"] == "invalidFilter"


def test_total_counts_every_match_not_the_page(scim, people):
    body = scim.get("/Users?startIndex=2&count=2").get_json()
    assert body["totalResults"] == 4
    assert body["startIndex"] == 2
    assert body["itemsPerPage"] == 2
    assert [r["userName"] for r in body["Resources"]] == ["bob", "carol"]


def test_pages_are_stable_and_cover_everything(scim, people):
    seen = []
    for start in (1, 3):
        seen += names(scim.get(f"/Users?startIndex={start}&count=2"))
    assert seen == ["alice", "bob", "carol", "dave"]


@pytest.mark.parametrize(
    "query, total, items",
    [
        ("count=0", 4, 0),
        ("startIndex=0&count=1", 4, 1),
        ("startIndex=-5", 4, 4),
        ("count=-1", 4, 0),
        ("startIndex=99", 4, 0),
    ],
)
def test_paging_edges(scim, people, query, total, items):
    body = scim.get(f"/Users?{query}").get_json()
    assert body["totalResults"] == total
    assert len(body["Resources"]) == items == body["itemsPerPage"]


def test_count_is_capped_at_max_results(scim, people, app):
    app.config["ROSTER"]["max_results"] = 3
    body = scim.get("/Users?count=100").get_json()
    assert len(body["Resources"]) == 3 and body["totalResults"] == 4


def test_sort_by_and_order(scim, people):
    ascending = names(scim.get("/Users?sortBy=title"))
    assert ascending == ["alice", "carol", "bob", "dave"]  # no value sorts last
    descending = names(scim.get("/Users?sortBy=userName&sortOrder=descending"))
    assert descending == ["dave", "carol", "bob", "alice"]


def test_attributes_on_list(scim, people):
    body = scim.get("/Users?attributes=userName&count=1").get_json()
    assert set(body["Resources"][0]) == {"schemas", "id", "userName"}


def test_post_search(scim, people):
    body = {
        "schemas": [SEARCH],
        "filter": 'title eq "Engineer"',
        "attributes": ["userName"],
        "startIndex": 1,
        "count": 1,
    }
    response = scim.post("/Users/.search", body)
    assert response.status_code == 200
    result = response.get_json()
    assert result["totalResults"] == 2
    assert [r["userName"] for r in result["Resources"]] == ["alice"]


def test_root_search_spans_resource_types(scim, people):
    scim.create_group("Engineers")
    body = {"schemas": [SEARCH], "filter": 'userName eq "bob" or displayName eq "Engineers"'}
    result = scim.post("/.search", body).get_json()
    assert result["totalResults"] == 2
    types = sorted(r["meta"]["resourceType"] for r in result["Resources"])
    assert types == ["Group", "User"]
    assert (
        scim.get("/", query_string={"filter": 'userName eq "bob"'}).get_json()["totalResults"] == 1
    )


def test_counts_never_include_another_tenant(scim, other, people):
    other.create_user("alice")
    assert scim.get("/Users").get_json()["totalResults"] == 4
    assert other.get("/Users").get_json()["totalResults"] == 1
    assert (
        other.get("/Users", query_string={"filter": 'userName eq "bob"'}).get_json()["totalResults"]
        == 0
    )


@pytest.mark.parametrize("query", ['groups.value eq "x"', 'groups[display eq "x"]', "groups pr"])
def test_filtering_on_derived_groups_is_refused_clearly(scim, query):
    response = scim.get("/Users", query_string={"filter": query})
    assert response.status_code == 400
    body = response.get_json()
    assert body["scimType"] == "invalidFilter" and "members.value" in body["detail"]


def test_groups_whose_members_include_a_user(scim):
    ann = scim.create_user("ann")
    team = scim.create_group("Team", (ann["id"],))
    scim.create_group("Empty")
    body = scim.get("/Groups", query_string={"filter": f'members.value eq "{ann["id"]}"'})
    assert [g["id"] for g in body.get_json()["Resources"]] == [team["id"]]


@pytest.mark.parametrize("order, first", [("ascending", "User"), ("descending", "Group")])
def test_root_search_sorts_by_an_attribute_only_users_have(scim, people, order, first):
    scim.create_group("Engineers")
    body = scim.get(f"/?sortBy=userName&sortOrder={order}").get_json()
    assert body["totalResults"] == 5
    assert body["Resources"][0]["meta"]["resourceType"] == first
    users = [r["userName"] for r in body["Resources"] if "userName" in r]
    assert users == sorted(users, reverse=order == "descending")


def test_sort_by_an_attribute_nobody_has_is_400(scim, people):
    response = scim.get("/?sortBy=nonsense")
    assert response.status_code == 400
    assert response.get_json()["scimType"] == "invalidValue"
