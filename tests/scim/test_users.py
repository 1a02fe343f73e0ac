"""/Users over HTTP: create, read, replace, patch, delete, versions (RFC 7644 §3)."""

from __future__ import annotations

import pytest

from tests.conftest import patch_op, sample, stored_text

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_create_returns_201_location_and_meta(scim):
    response = scim.post("/Users", sample("rfc7643-8.2-full-user.json"))
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Content-Type"].startswith("application/scim+json")
    assert response.headers["Location"] == body["meta"]["location"]
    assert body["meta"]["location"].endswith(f"{scim.base}/Users/{body['id']}")
    assert body["meta"]["resourceType"] == "User"
    assert body["meta"]["created"] and body["meta"]["lastModified"]
    assert response.headers["ETag"] == body["meta"]["version"]
    assert body["userName"] == "bjensen@example.com"
    assert body["name"]["givenName"] == "Barbara"
    assert "password" not in body


def test_enterprise_extension_round_trips(scim):
    manager = scim.create_user("boss")
    body = {
        "schemas": [ENTERPRISE, CORE],
        "userName": "ann",
        ENTERPRISE: {"department": "R&D", "manager": {"value": manager["id"]}},
    }
    created = scim.post("/Users", body).get_json()
    assert created["schemas"] == [CORE, ENTERPRISE]
    # RFC 7643 §4.3: the server gives the manager's $ref, the URI of the manager's User.
    reference = {"value": manager["id"], "$ref": manager["meta"]["location"]}
    assert created[ENTERPRISE] == {"department": "R&D", "manager": reference}


def test_get_returns_what_was_created(scim):
    created = scim.create_user("ann", title="Engineer")
    response = scim.get(f"/Users/{created['id']}")
    assert response.status_code == 200
    assert response.get_json() == created


def test_password_is_never_returned_nor_stored_in_plain(scim, app):
    created = scim.post("/Users", sample("okta-create-user.json")).get_json()
    assert "password" not in created
    assert "password" not in scim.get(f"/Users/{created['id']}").get_json()
    stored = stored_text(app)
    assert "1mz050nq" not in stored
    assert "scrypt$" in stored


def test_duplicate_user_name_is_409_uniqueness(scim):
    scim.create_user("Ann@Example.com")
    response = scim.post("/Users", {"schemas": [CORE], "userName": "ann@example.COM"})
    assert response.status_code == 409
    body = response.get_json()
    assert body["scimType"] == "uniqueness"
    assert body["status"] == "409"


def test_missing_user_is_404_with_string_status(scim):
    response = scim.get("/Users/does-not-exist")
    assert response.status_code == 404
    body = response.get_json()
    assert body["status"] == "404"
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_put_replaces_and_ignores_read_only(scim):
    created = scim.create_user("ann", title="Engineer", nickName="annie")
    body = {
        "schemas": [CORE],
        "id": "someone-else",
        "userName": "ann",
        "displayName": "Ann A.",
        "meta": {"created": "1999-01-01T00:00:00Z"},
    }
    response = scim.put(f"/Users/{created['id']}", body)
    assert response.status_code == 200
    replaced = response.get_json()
    assert replaced["id"] == created["id"]
    assert replaced["displayName"] == "Ann A."
    assert "title" not in replaced and "nickName" not in replaced
    assert replaced["meta"]["created"] == created["meta"]["created"]
    assert replaced["meta"]["version"] != created["meta"]["version"]


def test_put_with_null_and_empty_arrays_clears(scim):
    created = scim.post("/Users", sample("jumpcloud-create-user.json")).get_json()
    response = scim.put(f"/Users/{created['id']}", sample("jumpcloud-put-user-minimal.json"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert "emails" not in body and "addresses" not in body
    assert body["name"] == {"familyName": "lastname", "givenName": "firstname"}


def test_put_to_a_taken_user_name_is_409(scim):
    scim.create_user("ann")
    bob = scim.create_user("bob")
    response = scim.put(f"/Users/{bob['id']}", {"schemas": [CORE], "userName": "ANN"})
    assert response.status_code == 409
    assert scim.get(f"/Users/{bob['id']}").get_json()["userName"] == "bob"


def test_patch_answers_200_with_the_resource(scim):
    created = scim.create_user("ann", active=True)
    response = scim.patch(f"/Users/{created['id']}", sample("okta-patch-deactivate.json"))
    assert response.status_code == 200
    assert response.get_json()["active"] is False


def test_patch_entra_multi_operation(scim):
    created = scim.post("/Users", sample("entra-create-user.json")).get_json()
    response = scim.patch(f"/Users/{created['id']}", sample("entra-patch-user-multi.json"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["displayName"] == "Pvlo"
    assert body["name"]["givenName"] == "Gtfd"
    assert body["emails"][0]["value"] == "TestBcwqnm@test.microsoft.com"
    assert body[ENTERPRISE]["employeeNumber"] == "Eqpj"


def test_patch_with_string_boolean(scim):
    created = scim.create_user("ann", active=True)
    response = scim.patch(f"/Users/{created['id']}", sample("entra-patch-user-disable.json"))
    assert response.status_code == 200
    assert response.get_json()["active"] is False


def test_failed_patch_changes_nothing(scim):
    created = scim.create_user("ann", title="Engineer")
    body = patch_op(
        {"op": "replace", "path": "title", "value": "Boss"},
        {"op": "replace", "path": "id", "value": "new-id"},
    )
    response = scim.patch(f"/Users/{created['id']}", body)
    assert response.status_code == 400
    assert response.get_json()["scimType"] == "mutability"
    assert scim.get(f"/Users/{created['id']}").get_json() == created


@pytest.mark.parametrize(
    "operation, scim_type",
    [
        ({"op": "remove"}, "noTarget"),
        ({"op": "replace", "path": "emails[type eq", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "nosuchattribute", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "active", "value": "maybe"}, "invalidValue"),
        ({"op": "frobnicate", "path": "title", "value": "x"}, "invalidValue"),
    ],
)
def test_bad_patch_operations(scim, operation, scim_type):
    created = scim.create_user("ann")
    response = scim.patch(f"/Users/{created['id']}", patch_op(operation))
    assert response.status_code == 400
    assert response.get_json()["scimType"] == scim_type


def test_delete_then_404(scim):
    created = scim.create_user("ann")
    assert scim.delete(f"/Users/{created['id']}").status_code == 204
    assert scim.get(f"/Users/{created['id']}").status_code == 404
    assert scim.delete(f"/Users/{created['id']}").status_code == 404


def test_if_match_mismatch_is_412_and_changes_nothing(scim):
    created = scim.create_user("ann")
    stale = {"If-Match": 'W/"stale"'}
    body = patch_op({"op": "replace", "path": "title", "value": "x"})
    assert scim.patch(f"/Users/{created['id']}", body, headers=stale).status_code == 412
    assert (
        scim.put(
            f"/Users/{created['id']}", {"schemas": [CORE], "userName": "z"}, headers=stale
        ).status_code
        == 412
    )
    assert scim.delete(f"/Users/{created['id']}", headers=stale).status_code == 412
    assert scim.get(f"/Users/{created['id']}").get_json() == created


def test_if_match_current_version_succeeds(scim):
    created = scim.create_user("ann")
    current = {"If-Match": created["meta"]["version"]}
    body = patch_op({"op": "replace", "path": "title", "value": "x"})
    assert scim.patch(f"/Users/{created['id']}", body, headers=current).status_code == 200


def test_if_none_match_gives_304(scim):
    created = scim.create_user("ann")
    response = scim.get(
        f"/Users/{created['id']}", headers={"If-None-Match": created["meta"]["version"]}
    )
    assert response.status_code == 304
    assert response.data == b""
    other = scim.get(f"/Users/{created['id']}", headers={"If-None-Match": 'W/"old"'})
    assert other.status_code == 200


def test_groups_attribute_is_derived_and_read_only(scim):
    ann = scim.create_user("ann")
    group = scim.create_group("Team", (ann["id"],))
    body = scim.get(f"/Users/{ann['id']}").get_json()
    assert body["groups"] == [
        {
            "value": group["id"],
            "$ref": group["meta"]["location"],
            "display": "Team",
            "type": "direct",
        }
    ]
    # Okta sends groups: [] on create; writing groups is ignored, never an error.
    put = {"schemas": [CORE], "userName": "ann", "groups": []}
    assert scim.put(f"/Users/{ann['id']}", put).get_json()["groups"][0]["value"] == group["id"]


def test_attributes_and_excluded_attributes_on_get(scim):
    created = scim.create_user("ann", title="Engineer", name={"givenName": "Ann"})
    only = scim.get(f"/Users/{created['id']}?attributes=name.givenName").get_json()
    assert set(only) == {"schemas", "id", "name"}
    assert only["name"] == {"givenName": "Ann"}
    without = scim.get(f"/Users/{created['id']}?excludedAttributes=title").get_json()
    assert "title" not in without and without["userName"] == "ann"


def test_empty_email_values_are_not_stored(scim):
    created = scim.create_user("ann", emails=[{"value": "", "type": "work"}, {"value": "a@x.io"}])
    assert created["emails"] == [{"value": "a@x.io"}]
    body = patch_op({"op": "Add", "path": 'emails[type eq "home"].value', "value": ""})
    patched = scim.patch(f"/Users/{created['id']}", body).get_json()
    assert patched["emails"] == [{"value": "a@x.io"}]


@pytest.mark.parametrize("attribute", ["roles", "entitlements", "emails"])
def test_bare_strings_in_complex_lists_are_values(scim, attribute):
    created = scim.create_user("ann", **{attribute: ["first", "second"]})
    assert created[attribute] == [{"value": "first"}, {"value": "second"}]


def test_password_survives_put_without_one_and_changes_with_one(scim, store):
    created = scim.post("/Users", sample("okta-create-user.json")).get_json()
    first = store.get("User", scim.id, created["id"])["_password"]
    put = {"schemas": [CORE], "userName": created["userName"], "title": "x"}
    scim.put(f"/Users/{created['id']}", put)
    assert store.get("User", scim.id, created["id"])["_password"] == first
    scim.put(f"/Users/{created['id']}", {**put, "password": "new-secret-1"})
    second = store.get("User", scim.id, created["id"])["_password"]
    assert second != first and second.startswith("scrypt$")
    scim.patch(
        f"/Users/{created['id']}",
        patch_op({"op": "replace", "path": "password", "value": "third-secret"}),
    )
    third = store.get("User", scim.id, created["id"])["_password"]
    assert third not in (first, second) and third.startswith("scrypt$")


@pytest.mark.parametrize(
    "operation, password",
    [
        ({"op": "replace", "path": "password", "value": "p-one"}, "p-one"),
        ({"op": "add", "path": f"{CORE}:password", "value": "p-two"}, "p-two"),
        ({"op": "Replace", "value": {"PASSWORD": "p-three", "title": "x"}}, "p-three"),
    ],
)
def test_patch_hashes_a_password_before_the_store_is_locked(
    scim, store, monkeypatch, operation, password
):
    from scim import users
    from tokens.passwords import check_password

    created = scim.create_user("ann")
    locked = []
    hashed_while_locked = []
    real_update, real_hash = store.update, users.hash_password

    def update(*args, **kwargs):
        locked.append(True)
        try:
            return real_update(*args, **kwargs)
        finally:
            locked.pop()

    def hash_password(plain):
        hashed_while_locked.append(bool(locked))
        return real_hash(plain)

    monkeypatch.setattr(store, "update", update)
    monkeypatch.setattr(users, "hash_password", hash_password)
    response = scim.patch(f"/Users/{created['id']}", patch_op(operation))
    assert response.status_code == 200
    assert hashed_while_locked == [False]  # hashed once, and not inside the write
    stored = store.get("User", scim.id, created["id"])["_password"]
    assert check_password(stored, password)
    assert not check_password(stored, password + "x")


def test_patch_password_set_by_a_later_operation_wins(scim, store):
    from tokens.passwords import check_password

    created = scim.create_user("ann")
    operations = [
        {"op": "replace", "path": "password", "value": "first-one"},
        {"op": "replace", "value": {"password": "second-one"}},
    ]
    response = scim.patch(f"/Users/{created['id']}", patch_op(*operations))
    assert response.status_code == 200
    stored = store.get("User", scim.id, created["id"])["_password"]
    assert check_password(stored, "second-one")


def test_a_page_of_users_looks_up_their_groups_at_once(scim, store, monkeypatch):
    ann, bob, cy = (scim.create_user(name) for name in ("ann", "bob", "cy"))
    team = scim.create_group("Team", (ann["id"], bob["id"]))
    solo = scim.create_group("Solo", (bob["id"],))

    def one_by_one(*args):
        raise AssertionError("groups_of was called once per user")

    monkeypatch.setattr(store, "groups_of", one_by_one)
    listed = scim.get("/Users?sortBy=userName").get_json()["Resources"]
    groups = {u["userName"]: sorted(g["display"] for g in u.get("groups", [])) for u in listed}
    assert groups == {"ann": ["Team"], "bob": ["Solo", "Team"], "cy": []}
    refs = {g["value"]: g["$ref"] for u in listed for g in u.get("groups", [])}
    assert refs[team["id"]].endswith(f"/Groups/{team['id']}") and solo["id"] in refs
    excluded = scim.get("/Users?excludedAttributes=groups").get_json()["Resources"]
    assert all("groups" not in u for u in excluded)


def test_a_created_user_is_answered_without_looking_up_groups(scim, store, monkeypatch):
    def looked_up(*args):
        raise AssertionError("a user just created cannot be in a group")

    monkeypatch.setattr(store, "groups_of", looked_up)
    monkeypatch.setattr(store, "groups_of_each", looked_up)
    created = scim.create_user("ann")
    assert "groups" not in created
    answer = scim.get(f"/Users/{created['id']}", query_string={"attributes": "userName"})
    assert answer.status_code == 200  # reading it, with groups not asked for, asks nothing
