"""Fixtures in the Flask tutorial's shape: ``app``, ``client``, ``runner``, plus tenants (an IdP
with its bearer token) and ``scim``, a client that talks to one tenant.

Every test that uses ``app`` (and so ``client``, ``store``, ``scim``…) runs once per storage
backend, as TinyDB's tests run against each of its storages: ``[tinydb]`` in a fresh data
folder, ``[postgres]`` in emptied tables of a schema made for the session. PostgreSQL is the
server named by ``ROSTER_TEST_DATABASE_URL``, else a throwaway cluster on loopback
(``tests/pgcluster.py``); without either the postgres half is skipped, saying why, except
under ``CI=true``, where it fails. ``ROSTER_TEST_PG_BIN=none`` acts out a machine without
PostgreSQL.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

import clock
import storage
import tokens
from app import create_app
from providers import create_idp
from storage.postgres import pg_schema
from tests import pgcluster

SAMPLES = Path(__file__).parent / "samples"
BACKENDS = ("tinydb", "postgres")


def sample(name: str) -> dict:
    """Return a JSON sample from tests/samples (RFC examples and IdP captures)."""
    return json.loads((SAMPLES / name).read_text())


def pytest_configure(config):
    config.addinivalue_line("markers", "backends(*names): run only on these storage backends")


def pytest_collection_modifyitems(config, items):
    """Deselect the backend variants a ``@pytest.mark.backends(...)`` test is not meant for."""
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("backends")
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec else None
        (dropped if marker and backend and backend not in marker.args else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def stored_text(app) -> str:
    """Return everything the app's store, request log and audit trail keep, as text, to prove
    what they never keep (a token, a plaintext password)."""
    values = app.config["ROSTER"]
    if values["backend"] == "postgres":
        with psycopg.connect(values["database_url"]) as conn:
            rows = conn.execute(
                "SELECT data::text FROM resources UNION ALL SELECT data::text FROM records"
                " UNION ALL SELECT entry::text FROM request_log"
                " UNION ALL SELECT entry::text FROM audit_log"
                " UNION ALL SELECT doc::text FROM events"
            ).fetchall()
        return "\n".join(row[0] for row in rows)
    files = Path(values["data_dir"]).rglob("*")
    return "".join(path.read_text(errors="replace") for path in files if path.is_file())


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """Keep a developer's config.toml and ROSTER_* variables out of the tests."""
    for name in list(os.environ):
        # ROSTER_TEST_* configure the test run itself (see the module docstring).
        if name.startswith("ROSTER_") and not name.startswith("ROSTER_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def postgres_server():
    """Return the DSN of a database the tests may create schemas in."""
    given = os.environ.get("ROSTER_TEST_DATABASE_URL")
    if given:
        yield given
        return
    try:
        cluster = pgcluster.Cluster().start()
    except pgcluster.Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs both backends, but PostgreSQL is unavailable: {exc}")
        pytest.skip(f"PostgreSQL is unavailable ({exc}); only the TinyDB half runs")
    try:
        yield cluster.create_database("roster_test")
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_schema(postgres_server):
    """Create a schema with Roster's tables for this session; yield (DSN, admin connection)."""
    schema = f"roster_test_{os.getpid()}"
    conn = psycopg.connect(postgres_server, autocommit=True)
    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    conn.execute(f"CREATE SCHEMA {schema}")
    conn.execute(f"SET search_path TO {schema}")
    pg_schema.migrate(conn)
    try:
        yield make_conninfo(postgres_server, options=f"-c search_path={schema}"), conn
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


@pytest.fixture
def database_url(postgres_schema):
    """Return the DSN of the session's schema with every table emptied."""
    dsn, conn = postgres_schema
    # DELETE, not TRUNCATE: on tables this small it is several times faster.
    conn.execute("; ".join(f"DELETE FROM {table}" for table in pg_schema.TABLES))
    conn.execute("UPDATE event_feed SET pruned_through = 0")
    return dsn


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


def backend_config(request, backend: str, tmp_path: Path) -> dict:
    """Return the configuration overrides that put a test's app on ``backend``."""
    config = {"data_dir": str(tmp_path / "data"), "secret_key": "test-secret"}
    if backend == "postgres":
        config.update(backend="postgres", database_url=request.getfixturevalue("database_url"))
    return config


@pytest.fixture
def app(request, backend, tmp_path):
    app = create_app(backend_config(request, backend, tmp_path))
    app.config["TESTING"] = True
    yield app
    storage.close_store(app)


class FakeClock:
    """A clock a test moves by hand (``advance``), so that nothing waits for time to pass."""

    def __init__(self, start: datetime | None = None):
        self.moment = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


@pytest.fixture
def fake_clock(app) -> FakeClock:
    """The time ``app`` goes by, moved by the test."""
    moved = FakeClock()
    clock.set_clock(app, moved)
    return moved


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


# --- the console ----------------------------------------------------------------------------

ADMIN_NAME, ADMIN_PASSWORD = "ada", "correct horse battery staple"


@pytest.fixture
def admin(store):
    """A console admin (``ADMIN_NAME`` / ``ADMIN_PASSWORD``)."""
    from console.admins import create_admin

    return create_admin(store, ADMIN_NAME, ADMIN_PASSWORD)


@pytest.fixture
def signed_in(client, admin):
    """The test client, signed in to the console as ``admin``."""
    from tests.consoletools import submit

    response = submit(client, "/sign-in", {"username": ADMIN_NAME, "password": ADMIN_PASSWORD})
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


# --- the application API --------------------------------------------------------------------


class Api:
    """A client of the application API (``/api/v1``) holding an API key."""

    PROBLEM = "application/problem+json"

    def __init__(self, client, key: str):
        self.client = client
        self.key = key
        self.headers = {"Authorization": f"Bearer {key}"}

    def get(self, path: str, **query):
        # A query in ``path`` is kept only when no ``query_string`` is given.
        return self.client.get("/api/v1" + path, headers=self.headers, query_string=query or None)

    def ok(self, path: str, **query) -> dict:
        """Return the body of a 200 answer."""
        response = self.get(path, **query)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/json"
        return response.get_json()

    def problem(self, path: str, status: int, **query) -> dict:
        """Return the RFC 9457 problem of an answer that must have ``status``."""
        response = self.get(path, **query)
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.mimetype == self.PROBLEM
        body = response.get_json()
        assert body["status"] == status and body["detail"]
        return body

    def walk(self, path: str, **query) -> list[dict]:
        """Follow ``next_cursor`` to the end of a list; return every item in order."""
        items, cursor = [], None
        while True:
            page = self.ok(path, **query, **({"cursor": cursor} if cursor else {}))
            items += page["data"]
            if not page["has_more"]:
                assert page["next_cursor"] is None
                return items
            cursor = page["next_cursor"]


@pytest.fixture
def api(client, store):
    """A client of ``/api/v1`` with a live API key."""
    from tokens import apikeys

    _, key = apikeys.issue(store, "tests")
    return Api(client, key)
