"""Tenant isolation: IdP A can neither read, list, search, filter, patch nor delete anything of
IdP B's, through any endpoint or any id guess, and gets the same answer whether B's resource
exists or not. Counts in one tenant never include the other's."""

from __future__ import annotations

import json
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

import providers
from storage import get_request_log
from tests.security import CORE_GROUP, CORE_USER, PATCH_OP, assert_scim_error, http_examples
from tests.security.test_fuzz_http import ENDPOINTS

NOBODY = "11111111-2222-3333-4444-555555555555"


def _b_only(world) -> dict:
    """Give B resources whose names and ids exist nowhere in A."""
    b = world.b
    user = b.create_user("only-b@example.com", externalId="only-b-ext", title="B's secret")
    group = b.create_group("Only B", (user["id"], b.ann["id"]))
    return {"user": user, "group": group}


def _tenant_state(store, idp: str) -> dict:
    return {kind: store.query(kind, idp) for kind in ("User", "Group")}


def _answer(response, *ids: str) -> tuple:
    """What a response tells: status, scimType and detail with the ids asked about blanked."""
    body = response.get_json(silent=True) or {}
    detail = body.get("detail", "")
    for id in ids:
        detail = detail.replace(id, "<id>")
    return response.status_code, body.get("scimType"), detail


def _unthrottled(app) -> None:
    """Let one address fail authentication without limit (the throttle has its own tests)."""
    app.config["ROSTER"]["auth_failures_per_minute"] = 10**6
    app.extensions.pop("roster.auth_throttle", None)


def test_a_token_is_refused_on_every_endpoint_of_another_tenant(world, client, store, app):
    _unthrottled(app)
    secret = _b_only(world)
    before = _tenant_state(store, world.b.id)
    unknown = "/scim/v2/000000000000"
    for method, path in ENDPOINTS:
        path = path.format(user=secret["user"]["id"], group=secret["group"]["id"])
        for base in (world.b.base, f"/scim/v2/{world.b.id.upper()}", unknown):
            response = client.open(base + path, method=method, headers=world.a.headers)
            assert_scim_error(response, 401)
            # The same answer as for an IdP that does not exist at all.
            elsewhere = client.open(unknown + path, method=method, headers=world.a.headers)
            assert response.get_json() == elsewhere.get_json(), (method, path)
    assert _tenant_state(store, world.b.id) == before


def _attempts(resource: str, id: str, version: str | None) -> list:
    body = {"schemas": [CORE_USER if resource == "Users" else CORE_GROUP]}
    body |= {"userName": "taken"} if resource == "Users" else {"displayName": "taken"}
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": 1}]}
    if_match = {"If-Match": version} if version else {}
    return [
        ("GET", f"/{resource}/{id}", None, {}),
        ("GET", f"/{resource}/{id}", None, {"If-None-Match": version or "*"}),
        ("PUT", f"/{resource}/{id}", body, if_match),
        ("PATCH", f"/{resource}/{id}", patch, if_match),
        ("DELETE", f"/{resource}/{id}", None, if_match),
        ("DELETE", f"/{resource}/{id}", None, {"If-Match": "*"}),
    ]


def test_ids_of_another_tenant_look_exactly_like_missing_ones(world, store):
    secret = _b_only(world)
    before = _tenant_state(store, world.b.id)
    for resource, theirs in (("Users", secret["user"]), ("Groups", secret["group"])):
        version = theirs["meta"]["version"]
        guesses = zip(
            _attempts(resource, theirs["id"], version),
            _attempts(resource, NOBODY, version),
            strict=True,
        )
        for (method, path, body, headers), (_, missing, _, _) in guesses:
            response = world.a.request(method, path, body, headers=headers)
            assert_scim_error(response, 404)
            nobody = world.a.request(method, missing, body, headers=headers)
            assert _answer(response, theirs["id"]) == _answer(nobody, NOBODY), (method, path)
    assert _tenant_state(store, world.b.id) == before


FILTERS = [
    'id eq "{user}"',
    'userName eq "only-b@example.com"',
    "userName eq only-b@example.com",
    'userName sw "only"',
    'externalId eq "only-b-ext"',
    'title co "secret"',
    'displayName eq "Only B"',
    'members.value eq "{user}"',
    'members[value eq "{user}"]',
    'members[value eq "{user}"] or id eq "{group}"',
    'meta.resourceType eq "User" and userName ew "@example.com"',
    "userName pr",
    "id pr",
]


def test_filters_and_searches_never_reach_another_tenant(world, store):
    secret = _b_only(world)
    ids = {secret["user"]["id"], secret["group"]["id"], world.b.ann["id"], world.b.team["id"]}
    mine = {
        "/Users": store.count("User", world.a.id),
        "/Groups": store.count("Group", world.a.id),
        "": store.count("User", world.a.id) + store.count("Group", world.a.id),
    }
    for text in FILTERS:
        text = text.format(user=secret["user"]["id"], group=secret["group"]["id"])
        for path in mine:
            for response in (
                world.a.get(path, query_string={"filter": text, "count": "1000"}),
                world.a.post(f"{path}/.search", {"filter": text, "count": 1000}),
            ):
                assert response.status_code == 200, (text, path, response.get_json())
                page = response.get_json()
                assert page["totalResults"] <= mine[path], (text, path)
                found = json.dumps(page)
                assert not any(id in found for id in ids), (text, path)
                assert "only-b" not in found and "Only B" not in found


def test_members_from_another_tenant_are_unknown_ids(world, store):
    secret = _b_only(world)
    before = _tenant_state(store, world.b.id)
    theirs, nobody = secret["user"]["id"], NOBODY
    for member in (theirs, nobody):
        body = {"schemas": [CORE_GROUP], "displayName": "Mixed", "members": [{"value": member}]}
        add = {"Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}]}
        answers = [
            world.a.post("/Groups", body),
            world.a.put(f"/Groups/{world.a.team['id']}", body),
            world.a.patch(f"/Groups/{world.a.team['id']}", add),
        ]
        for response in answers:
            assert_scim_error(response, 400, "invalidValue")
        if member == theirs:
            refused = [_answer(r, theirs) for r in answers]
        else:
            assert refused == [_answer(r, nobody) for r in answers]
    assert _tenant_state(store, world.b.id) == before


def test_names_taken_in_another_tenant_are_free_here(world):
    # A 409 here would tell A that B has a user of that name.
    _b_only(world)
    assert world.a.create_user("only-b@example.com")["userName"] == "only-b@example.com"
    assert world.a.create_group("Only B")["displayName"] == "Only B"


def test_counts_in_one_tenant_never_include_the_other(world, store):
    _b_only(world)
    for n in range(3):
        world.b.create_user(f"more-{n}@example.com")
    a_users, a_groups = store.count("User", world.a.id), store.count("Group", world.a.id)
    assert (a_users, a_groups) == (2, 1)
    assert world.a.get("/Users").get_json()["totalResults"] == a_users
    assert world.a.get("/Groups").get_json()["totalResults"] == a_groups
    assert world.a.get("").get_json()["totalResults"] == a_users + a_groups
    assert world.a.get("/Users", query_string={"count": "0"}).get_json()["totalResults"] == 2
    summary = providers.summary(store, world.a.record)
    assert (summary["users"], summary["groups"]) == (2, 1)
    assert world.b.get("/Users").get_json()["totalResults"] == 2 + 1 + 3


def test_deletes_cascade_only_inside_the_tenant(world, store):
    before = _tenant_state(store, world.b.id)
    assert world.a.delete(f"/Users/{world.a.ann['id']}").status_code == 204
    assert world.a.delete(f"/Groups/{world.a.team['id']}").status_code == 204
    assert _tenant_state(store, world.b.id) == before


def test_request_logs_are_per_tenant(world, app):
    secret = _b_only(world)
    world.a.get(f"/Users/{secret['user']['id']}")
    world.a.client.get(f"{world.b.base}/Users", headers=world.a.headers)
    with app.app_context():
        a_log, b_log = get_request_log().entries(world.a.id), get_request_log().entries(world.b.id)
    assert all(e["idp"] == world.a.id for e in a_log)
    assert all(e["idp"] == world.b.id for e in b_log)
    assert not any(world.a.id in e["path"] for e in b_log if e["status"] != 401)
    assert not any(secret["user"]["userName"] in json.dumps(e) for e in a_log)


def _guesses(world) -> st.SearchStrategy:
    theirs = [world.b.ann["id"], world.b.bob["id"], world.b.team["id"]]
    known = st.sampled_from(theirs)
    return (
        known
        | known.map(str.upper)
        | known.map(lambda i: i.replace("-", ""))
        | known.map(lambda i: f" {i}")
        | known.map(lambda i: i + "%20")
        | known.map(lambda i: i[:-1])
        | st.uuids().map(str)
        | st.text(alphabet="0123456789abcdef-", min_size=1, max_size=40)
    )


def test_any_id_guess_answers_like_a_missing_resource(world, store):
    before = _tenant_state(store, world.b.id)

    @settings(max_examples=http_examples())
    @given(guess=_guesses(world), kind=st.sampled_from(["Users", "Groups"]))
    def guess_from_a(guess, kind):
        for method in ("GET", "DELETE"):
            response = world.a.request(method, f"/{kind}/{guess}")
            nobody = world.a.request(method, f"/{kind}/{uuid.uuid4()}")
            assert response.status_code == nobody.status_code == 404, (method, guess)

    guess_from_a()
    assert _tenant_state(store, world.b.id) == before
