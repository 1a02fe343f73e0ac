"""The HTTP edge: media types, malformed bodies, paths, limits, errors (RFC 7644 §3.1, §3.12)."""

from __future__ import annotations

import json

import pytest

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
USER = json.dumps({"schemas": [CORE], "userName": "ann"})


def snapshot(scim) -> dict:
    return scim.get("/Users").get_json() | {"groups": scim.get("/Groups").get_json()}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/scim+json",
        "application/json",
        "application/json; charset=utf-8",
        "application/scim+json; charset=utf-8",
        None,
    ],
)
def test_accepted_content_types(scim, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = scim.client.post(
        f"{scim.base}/Users", data=USER, headers={**scim.headers, **headers}
    )
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/scim+json; charset=utf-8"


@pytest.mark.parametrize(
    "body, content_type, status, scim_type",
    [
        (b"{not json", "application/json", 400, "invalidSyntax"),
        (b"[1, 2]", "application/json", 400, "invalidSyntax"),
        (b"", "application/json", 400, "invalidSyntax"),
        (
            b'{"userName": "a", "userName": "b", "schemas": []}',
            "application/json",
            400,
            "invalidSyntax",
        ),
        (
            b'{"schemas": ["' + CORE.encode() + b'"], "userName": "\xff\xfe"}',
            "application/json",
            400,
            "invalidSyntax",
        ),
        (
            b'{"schemas": ["' + CORE.encode() + b'"], "userName": NaN}',
            "application/json",
            400,
            "invalidSyntax",
        ),
        (b"[" * 100000 + b"]" * 100000, "application/json", 400, "invalidSyntax"),
        (b"userName=ann", "application/x-www-form-urlencoded", 415, None),
        (b'{"schemas": ["' + CORE.encode() + b'"]}', "application/json", 400, "invalidValue"),
        (b'{"userName": "ann"}', "application/json", 400, None),
        (
            b'{"schemas": ["' + CORE.encode() + b'"], "userName": 42}',
            "application/json",
            400,
            "invalidValue",
        ),
    ],
)
def test_malformed_bodies_get_scim_errors_and_change_nothing(
    scim, body, content_type, status, scim_type
):
    before = snapshot(scim)
    response = scim.client.post(
        f"{scim.base}/Users", data=body, headers={**scim.headers, "Content-Type": content_type}
    )
    assert response.status_code == status
    error = response.get_json()
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert error["status"] == str(status)
    if scim_type:
        assert error["scimType"] == scim_type
    assert "Traceback" not in response.get_data(as_text=True)
    assert snapshot(scim) == before


def test_body_over_the_limit_is_413(scim, app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    body = json.dumps({"schemas": [CORE], "userName": "a" * 2000})
    response = scim.client.post(f"{scim.base}/Users", data=body, headers=scim.headers)
    assert response.status_code == 413
    assert response.get_json()["status"] == "413"


@pytest.mark.parametrize("path", ["/Users/", "//Users", "/Users//", "//Users/"])
def test_trailing_and_doubled_slashes(scim, path):
    response = scim.client.get(scim.base + path, headers=scim.headers)
    assert response.status_code == 200
    assert response.get_json()["totalResults"] == 0


def test_unknown_endpoint_is_scim_404(scim):
    response = scim.get("/Widgets")
    assert response.status_code == 404
    assert response.get_json()["status"] == "404"


def test_wrong_method_is_scim_405(scim):
    response = scim.request("DELETE", "/Users")
    assert response.status_code == 405
    assert response.get_json()["status"] == "405"
    assert "GET" in response.headers["Allow"]


def test_me_is_501(scim):
    response = scim.post("/Me", {"schemas": []})
    assert response.status_code == 501
    assert response.get_json()["status"] == "501"


def test_unexpected_errors_are_500_without_traceback(scim, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("scim.resources.project", explode)
    response = scim.post("/Users", {"schemas": [CORE], "userName": "ann"})
    assert response.status_code == 500
    body = response.get_json()
    assert body["status"] == "500"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
