"""How many times a SCIM write waits for PostgreSQL, counted on the wire.

A proxy (``tests.storage.pgproxy``) sits between Roster and the database and counts round
trips: each time the client speaks after the server has, on any connection. A client that
waits for an answer does so at most once per round trip, and a held transaction, whose
statements and COMMIT go out together in one message (``storage.postgres.pg_tx.Held``), is
one.

The request log is written behind the request (``storage.behind``), by a thread of its own on
a connection of its own: the request never waits for it. The test holds that thread back
while it counts the requests, then counts the log's writes on their own."""

from __future__ import annotations

import threading

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

import storage
from app import create_app
from tests.conftest import Tenant
from tests.storage.pgproxy import Proxy

# The token check, the look for a deleted user of that userName the applications still have
# (``lifecycle.kept.Adoptable``), and the write's own transaction with its events.
POST_USERS = 3
WARM_UP = 20


@pytest.fixture
def proxy(database_url):
    proxy = Proxy(int(conninfo_to_dict(database_url).get("port") or 5432))
    yield proxy
    proxy.close()


@pytest.fixture
def app(tmp_path, database_url, proxy):
    dsn = make_conninfo(database_url, host="127.0.0.1", port=str(proxy.port))
    config = {"backend": "postgres", "database_url": dsn, "secret_key": "test-secret"}
    app = create_app({**config, "data_dir": str(tmp_path / "data")})
    app.config["TESTING"] = True
    yield app
    storage.close_store(app)


@pytest.fixture
def held_log(app):
    """The request log's writer, held back until the test releases it."""
    behind = storage.get_request_log(app)
    released = threading.Event()
    append, append_many = behind.log.append, behind.log.append_many

    def held(idp: str, entry: dict) -> None:
        assert released.wait(60)
        append(idp, entry)

    def held_many(items: list) -> None:
        assert released.wait(60)
        append_many(items)

    behind.log.append, behind.log.append_many = held, held_many
    yield behind, released
    released.set()


def test_a_post_of_a_user_takes_three_round_trips(app, proxy, held_log):
    behind, released = held_log
    scim = Tenant(app.test_client(), storage.get_store(app), "Counted IdP")
    # The token's first use is recorded, the pools have their connections, and psycopg has
    # prepared each statement on the server (on its fifth run on a connection: a round trip of
    # its own, once per connection).
    for n in range(WARM_UP):
        scim.create_user(f"warm-up-{n}")
    counts = []
    for n in range(5):
        before = proxy.round_trips
        scim.create_user(f"user-{n}")
        counts.append(proxy.round_trips - before)
    assert counts == [POST_USERS] * 5
    # The log's entries are then written, behind the requests: those that queued meanwhile
    # in one statement, a round trip for all (plus the connection's set-up, the first time).
    before = proxy.round_trips
    released.set()
    behind.flush()
    assert 1 <= proxy.round_trips - before < WARM_UP + 5
    assert [e["status"] for e in behind.entries(scim.id)] == [201] * (WARM_UP + 5)


def test_a_refused_duplicate_leaves_the_transaction_closed(app, proxy, held_log):
    scim = Tenant(app.test_client(), storage.get_store(app), "Counted IdP")
    scim.create_user("ann")
    # The held INSERT fails inside the transaction's one message: the transaction is rolled
    # back and the connection goes back to the pool idle, ready for the next write.
    assert scim.post("/Users", {"userName": "ANN", "schemas": [CORE]}).status_code == 409
    scim.create_user("bob")
    assert scim.get("/Users").get_json()["totalResults"] == 2


CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
