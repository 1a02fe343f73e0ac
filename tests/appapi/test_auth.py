"""The application API's door: API keys only, problem details for every error."""

from __future__ import annotations

import pytest

from tokens import apikeys

PROBLEM = "application/problem+json"


@pytest.fixture
def api_key(store):
    _, key = apikeys.issue(store, "billing app")
    return key


def _get(client, path, key=None, **headers):
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return client.get(path, headers=headers)


def test_a_live_key_reads_the_idps(client, scim, api_key):
    response = _get(client, "/api/v1/idps", api_key)
    assert response.status_code == 200
    assert response.get_json()["data"] == [
        {"id": scim.id, "name": "Primary IdP", "kind": "generic", "users": 0, "groups": 0}
    ]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer roster_key_wrong", "Basic dXNlcjpwYXNz", "Bearer  "],
)
def test_no_or_bad_key_is_a_401_problem(client, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/api/v1/idps", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == 401 and body["title"] == "Unauthorized" and body["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_provisioning_token_never_opens_the_api(client, scim):
    assert _get(client, "/api/v1/idps", scim.token).status_code == 401


def test_an_api_key_never_opens_scim(client, scim, api_key):
    assert _get(client, f"{scim.base}/Users", api_key).status_code == 401


def test_a_console_session_opens_nothing_here(signed_in):
    assert signed_in.get("/api/v1/idps").status_code == 401


def test_a_revoked_key_is_refused(client, store, api_key):
    record = apikeys.keys(store)[0]
    assert apikeys.revoke(store, record["id"])["revoked"] is not None
    assert _get(client, "/api/v1/idps", api_key).status_code == 401
    assert apikeys.revoke(store, record["id"]) is None  # nothing live left to revoke


def test_the_store_keeps_only_a_digest(store, api_key, app):
    from tests.conftest import stored_text

    record = apikeys.keys(store)[0]
    assert record["digest"] == apikeys.digest(api_key)
    assert api_key not in stored_text(app)


def test_bad_keys_are_throttled_like_bad_tokens(app, client, api_key):
    limit = app.config["ROSTER"]["auth_failures_per_minute"]
    for _ in range(limit):
        assert _get(client, "/api/v1/idps", "roster_key_guess").status_code == 401
    refused = _get(client, "/api/v1/idps", "roster_key_guess")
    assert refused.status_code == 429 and refused.mimetype == PROBLEM
    assert int(refused.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/api/v1/nothing-here", 404), ("POST", "/api/v1/idps", 405)],
)
def test_routing_errors_are_problems(client, api_key, method, path, status):
    response = client.open(path, method=method, headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == status and response.mimetype == PROBLEM
    assert response.get_json()["status"] == status


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "tab\there"])
def test_a_key_needs_a_sensible_name(store, name):
    with pytest.raises(apikeys.BadName):
        apikeys.issue(store, name)
    assert apikeys.keys(store) == []
