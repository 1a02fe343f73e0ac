"""Bearer authentication and tenant isolation (RFC 7644 §2, RFC 6750)."""

from __future__ import annotations

import pytest

import tokens


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer roster_scim_wrong", "Token x"],
)
def test_missing_or_bad_credentials_are_401(scim, header):
    headers = {"Authorization": header} if header is not None else {}
    response = scim.client.get(f"{scim.base}/Users", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.get_json()
    assert body["status"] == "401"
    assert response.headers["Content-Type"].startswith("application/scim+json")


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_scheme_is_case_insensitive(scim, scheme):
    response = scim.client.get(
        f"{scim.base}/Users", headers={"Authorization": f"{scheme} {scim.token}"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path", ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/Users", "/Groups"]
)
def test_discovery_requires_the_token_too(scim, path):
    assert scim.client.get(scim.base + path).status_code == 401


def test_token_of_another_idp_is_refused_everywhere(scim, other):
    user = other.create_user("secret")
    group = other.create_group("Secret group")
    with_scim_token = {"Authorization": f"Bearer {scim.token}"}
    for method, path in [
        ("GET", f"/Users/{user['id']}"),
        ("GET", "/Users"),
        ("DELETE", f"/Users/{user['id']}"),
        ("PATCH", f"/Groups/{group['id']}"),
        ("GET", "/ServiceProviderConfig"),
    ]:
        response = scim.client.open(other.base + path, method=method, headers=with_scim_token)
        assert response.status_code == 401, (method, path)
    assert other.get(f"/Users/{user['id']}").status_code == 200


def test_ids_of_another_tenant_look_missing(scim, other):
    stranger = other.create_user("stranger")
    mine = scim.get(f"/Users/{stranger['id']}")
    nobody = scim.get("/Users/11111111-2222-3333-4444-555555555555")
    assert mine.status_code == nobody.status_code == 404
    assert scim.delete(f"/Users/{stranger['id']}").status_code == 404
    assert other.get(f"/Users/{stranger['id']}").status_code == 200


def test_new_token_revokes_the_old_one_at_once(scim, store):
    old = scim.token
    new = tokens.issue(store, scim.id)
    assert (
        scim.client.get(
            f"{scim.base}/Users", headers={"Authorization": f"Bearer {old}"}
        ).status_code
        == 401
    )
    assert (
        scim.client.get(
            f"{scim.base}/Users", headers={"Authorization": f"Bearer {new}"}
        ).status_code
        == 200
    )


def test_revoked_token_is_refused(scim, store):
    tokens.revoke(store, scim.id)
    assert scim.get("/Users").status_code == 401
    assert tokens.state(store, scim.id) == "revoked"


def test_token_shape_and_storage(scim, store):
    assert scim.token.startswith(tokens.PREFIX)
    assert len(scim.token) >= len(tokens.PREFIX) + 43  # 256 bits in base64url
    [record] = tokens.tokens_of(store, scim.id)
    assert scim.token not in str(record)
    assert record["digest"] == tokens.digest(scim.token)


def test_last_use_is_recorded(scim, store):
    assert tokens.tokens_of(store, scim.id)[0]["last_used"] is None
    scim.get("/Users")
    assert tokens.tokens_of(store, scim.id)[0]["last_used"] is not None


def test_non_ascii_idp_in_path_is_401_not_500(scim):
    response = scim.client.get("/scim/v2/idp-\u00e9/Users", headers=scim.headers)
    assert response.status_code == 401
