"""Fixtures in the Flask tutorial's shape: ``app``, ``client``, ``runner``, plus tenants (an IdP
with its bearer token) and ``scim``, a client that talks to one tenant."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import storage
import tokens
from app import create_app
from providers import create_idp

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> dict:
    """Return a JSON sample from tests/samples (RFC examples and IdP captures)."""
    return json.loads((SAMPLES / name).read_text())


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """Keep a developer's config.toml and ROSTER_* variables out of the tests."""
    for name in list(os.environ):
        if name.startswith("ROSTER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def app(tmp_path):
    app = create_app({"data_dir": str(tmp_path / "data"), "secret_key": "test-secret"})
    app.config["TESTING"] = True
    yield app
    storage.close_store(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def store(app):
    return storage.get_store(app)


class Tenant:
    """An IdP as a SCIM client sees it: its base path and its bearer token."""

    def __init__(self, client, store, name: str, kind: str = "generic"):
        self.client = client
        self.record = create_idp(store, name, kind)
        self.id = self.record["id"]
        self.token = tokens.issue(store, self.id)
        self.base = f"/scim/v2/{self.id}"
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, body=None, headers=None, **kwargs):
        merged = {**self.headers, **(headers or {})}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            merged.setdefault("Content-Type", "application/scim+json")
        return self.client.open(self.base + path, method=method, headers=merged, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def create_user(self, user_name: str, **attributes) -> dict:
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name}
        response = self.post("/Users", {**body, **attributes})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def create_group(self, name: str, members: tuple[str, ...] = ()) -> dict:
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "members": [{"value": m} for m in members],
        }
        response = self.post("/Groups", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()


@pytest.fixture
def scim(client, store):
    """A tenant with a fresh IdP and token."""
    return Tenant(client, store, "Primary IdP")


@pytest.fixture
def other(client, store):
    """A second tenant, to prove isolation."""
    return Tenant(client, store, "Other IdP")


def patch_op(*operations: dict) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": list(operations),
    }
