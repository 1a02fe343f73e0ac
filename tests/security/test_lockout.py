"""A lock-out that hits only attackers: failures from an address are throttled, but a request
with a live token (or API key) is served whatever failed before it from the same address, as
when an attacker and the real IdP sit behind one NAT or reverse proxy; and a correct console
password is not refused for someone else's failures."""

from __future__ import annotations

import pytest

import storage
from app import create_app
from tests.conftest import ADMIN_NAME, ADMIN_PASSWORD, Tenant, backend_config
from tests.consoletools import csrf_of
from tokens import apikeys

SHARED = {"REMOTE_ADDR": "203.0.113.9"}
BAD = {"Authorization": "Bearer roster_scim_a-wrong-guess"}


def test_200_bad_tokens_then_the_valid_one_from_the_same_address(scim):
    statuses = {
        scim.get("/Users", headers=BAD, environ_base=SHARED).status_code for _ in range(200)
    }
    assert statuses == {401, 429}  # the guesses are throttled
    assert scim.get("/Users", headers=BAD, environ_base=SHARED).status_code == 429
    served = scim.get("/Users", environ_base=SHARED)
    assert served.status_code == 200
    # Serving the IdP does not forgive the attacker: its next guess is still refused.
    assert scim.get("/Users", headers=BAD, environ_base=SHARED).status_code == 429


@pytest.mark.parametrize("missing", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_requests_without_a_token_count_as_failures(scim, missing):
    for _ in range(30):
        scim.client.get(f"{scim.base}/Users", headers=missing, environ_base=SHARED)
    refused = scim.client.get(f"{scim.base}/Users", headers=missing, environ_base=SHARED)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert scim.get("/Users", environ_base=SHARED).status_code == 200


def test_writes_too_are_served_after_a_flood(scim):
    for _ in range(50):
        scim.get("/Users", headers=BAD, environ_base=SHARED)
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ann"}
    assert scim.post("/Users", body, environ_base=SHARED).status_code == 201


def test_a_live_api_key_is_served_after_200_bad_ones(client, store):
    _, key = apikeys.issue(store, "billing")
    bad = {"Authorization": "Bearer roster_key_wrong"}
    for _ in range(200):
        client.get("/api/v1/idps", headers=bad, environ_base=SHARED)
    assert client.get("/api/v1/idps", headers=bad, environ_base=SHARED).status_code == 429
    good = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/idps", headers=good, environ_base=SHARED).status_code == 200


def test_behind_a_trusted_proxy_the_shared_client_address_is_not_locked_out(
    request, backend, tmp_path
):
    """The attacker and the IdP reach Roster through the proxy with one forwarded address."""
    config = {**backend_config(request, backend, tmp_path), "trusted_proxies": ["10.0.0.0/8"]}
    proxied = create_app(config)
    try:
        client = proxied.test_client()
        idp = Tenant(client, storage.get_store(proxied), "Behind the proxy")
        via = {"REMOTE_ADDR": "10.0.0.2"}
        forwarded = {"X-Forwarded-For": "198.51.100.20"}
        for _ in range(100):
            idp.get("/Users", headers={**BAD, **forwarded}, environ_base=via)
        assert idp.get("/Users", headers={**BAD, **forwarded}, environ_base=via).status_code == 429
        assert idp.get("/Users", headers=forwarded, environ_base=via).status_code == 200
        # Another client of the same proxy, with its own address, was never slowed.
        other = {**BAD, "X-Forwarded-For": "198.51.100.21"}
        assert idp.get("/Users", headers=other, environ_base=via).status_code == 401
    finally:
        storage.close_store(proxied)


# --- console sign-ins ---------------------------------------------------------------------------


def sign_in(client, username: str, password: str, address: str):
    page = client.get("/sign-in", environ_base={"REMOTE_ADDR": address})
    data = {"csrf_token": csrf_of(page), "username": username, "password": password}
    return client.post("/sign-in", data=data, environ_base={"REMOTE_ADDR": address})


def test_a_correct_password_is_not_refused_for_someone_elses_failures(app, admin):
    attacker, colleague = app.test_client(), app.test_client()
    statuses = [sign_in(attacker, "mallory", "guess", "203.0.113.9").status_code for _ in range(20)]
    assert statuses == [400] * 5 + [429] * 15
    assert sign_in(attacker, ADMIN_NAME, "a wrong guess", "203.0.113.9").status_code == 400
    # The admin, behind the same NAT as the attacker, signs in at once.
    assert sign_in(colleague, ADMIN_NAME, ADMIN_PASSWORD, "203.0.113.9").status_code == 303


def test_guesses_at_one_username_from_one_address_are_still_refused(app, admin):
    attacker, elsewhere = app.test_client(), app.test_client()
    for _ in range(5):
        sign_in(attacker, ADMIN_NAME, "a wrong guess", "203.0.113.9")
    # Refused before the password is checked, even a right one: a sixth guess costs nothing.
    assert sign_in(attacker, ADMIN_NAME, ADMIN_PASSWORD, "203.0.113.9").status_code == 429
    assert sign_in(elsewhere, ADMIN_NAME, ADMIN_PASSWORD, "198.51.100.7").status_code == 303
