"""Three Roster processes on one PostgreSQL database, driven at once through their own ports:
uniqueness holds across processes, no update is lost, and a revoked token is refused by every
process at once."""

from __future__ import annotations

import threading
import uuid
from functools import partial
from itertools import cycle

import pytest

import tokens
from lifecycle.policy import Policy
from providers import create_idp, set_policy
from storage.postgres.store import PostgresStore
from tests.live import LiveServer, flask_cli
from tokens import apikeys

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture(scope="module")
def env(postgres_schema):
    dsn, _ = postgres_schema
    return {"ROSTER_DATABASE_URL": dsn, "ROSTER_SECRET_KEY": "shared by the processes"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def servers(data_dir, env):
    """Three processes for the whole module; each test has a tenant of its own."""
    started: list[LiveServer] = []
    try:
        for _ in range(3):
            started.append(LiveServer(data_dir, env=env))
        yield started
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def tenant(env):
    """A new IdP and its token, made straight in the database."""
    store = PostgresStore(env["ROSTER_DATABASE_URL"])
    try:
        idp = create_idp(store, f"JumpCloud {uuid.uuid4().hex[:8]}", "jumpcloud")["id"]
        return idp, tokens.issue(store, idp)
    finally:
        store.close()


def at_once(calls: list) -> list:
    """Run every ``call`` in its own thread, all released together; return their results."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_user_name_is_unique_across_processes(servers, tenant):
    idp, token = tenant
    base = f"/scim/v2/{idp}/Users"
    for round_ in range(3):
        name = f"Race{round_}@Example.com"
        # Four clients per process, each sending the same userName in one case or another.
        calls = [
            partial(s.request, "POST", base, token, {"schemas": [CORE], "userName": n})
            for s, n in zip(cycle(servers), [name.upper(), name.lower(), name] * 4)
        ]
        statuses = sorted(status for status, _, _ in at_once(calls))
        assert statuses == [201] + [409] * 11
    for server in servers:
        status, _, listing = server.request("GET", base, token)
        assert status == 200 and listing["totalResults"] == 3


def create(server: LiveServer, token: str, url: str, body: dict) -> dict:
    status, _, created = server.request("POST", url, token, body)
    assert status == 201, created
    return created


def test_no_update_is_lost_across_processes(servers, tenant):
    idp, token = tenant
    base = f"/scim/v2/{idp}"
    users = [f"{base}/Users", {"schemas": [CORE]}]
    ids = [create(servers[i % 3], token, users[0], {**users[1], "userName": f"u{i}"})["id"]
           for i in range(30)]  # fmt: skip
    gid = create(servers[0], token, f"{base}/Groups", {"schemas": [GROUP], "displayName": "All"})[
        "id"
    ]

    def add(server: LiveServer, uid: str) -> int:
        op = {"op": "add", "path": "members", "value": [{"value": uid}]}
        body = {"schemas": [PATCH], "Operations": [op]}
        return server.request("PATCH", f"{base}/Groups/{gid}", token, body)[0]

    # Thirty read-modify-writes of one document, ten through each process, all at once.
    assert at_once([partial(add, s, u) for s, u in zip(cycle(servers), ids)]) == [200] * 30
    for server in servers:
        members = server.request("GET", f"{base}/Groups/{gid}", token)[2]["members"]
        assert sorted(m["value"] for m in members) == sorted(ids)


def test_if_match_has_one_winner_across_processes(servers, tenant):
    idp, token = tenant
    url = f"/scim/v2/{idp}/Users"
    _, headers, user = servers[0].request(
        "POST", url, token, {"schemas": [CORE], "userName": "ann"}
    )
    etag = headers["ETag"]

    def put(server: LiveServer, title: str) -> int:
        body = {"schemas": [CORE], "userName": "ann", "title": title}
        return server.request("PUT", f"{url}/{user['id']}", token, body, {"If-Match": etag})[0]

    # Six writers holding the same ETag: the first to commit wins, the others are told 412.
    results = at_once([partial(put, s, f"t{i}") for i, s in enumerate(servers * 2)])
    assert sorted(results) == [200] + [412] * 5


def test_revoked_token_is_refused_by_every_process_at_once(servers, tenant, data_dir, env):
    idp, token = tenant
    path = f"/scim/v2/{idp}/Users"
    assert [s.request("GET", path, token)[0] for s in servers] == [200, 200, 200]
    revoked = flask_cli(data_dir, "token", "revoke", idp, **env)
    assert revoked.returncode == 0, revoked.stderr
    assert [s.request("GET", path, token)[0] for s in servers] == [401, 401, 401]
    issued = flask_cli(data_dir, "token", "generate", idp, "--json", **env)
    assert issued.returncode == 0, issued.stderr
    fresh = issued.stdout.split('"token": "')[1].split('"')[0]
    assert [s.request("GET", path, fresh)[0] for s in servers] == [200, 200, 200]


def test_request_log_is_shared(servers, tenant, data_dir, env):
    idp, token = tenant
    for server in servers:
        server.request("GET", f"/scim/v2/{idp}/Users/{server.port}", token)
    shown = flask_cli(data_dir, "log", idp, "--json", **env)
    assert shown.returncode == 0, shown.stderr
    paths = {s.port: f"/scim/v2/{idp}/Users/{s.port}" for s in servers}
    assert all(path in shown.stdout for path in paths.values())


def new_tenant(dsn: str) -> tuple[str, str]:
    store = PostgresStore(dsn)
    try:
        idp = create_idp(store, f"Okta {uuid.uuid4().hex[:8]}", "okta")["id"]
        # Its 25 deactivations would cross the mass-deprovisioning guard, which would hold
        # them back from the feed (tests/lifecycle/test_hold.py); here the feed's order is
        # under test.
        set_policy(store, idp, Policy(guard=False))
        return idp, tokens.issue(store, idp)
    finally:
        store.close()


def test_a_reader_sees_every_event_once_and_never_behind_its_cursor(servers, env):
    """Three processes commit events at once (each for its own IdP, so no tenant lock orders
    them); a reader follows the feed through all three processes in turn, long-polling. It
    must see every event exactly once, each above its cursor."""
    dsn = env["ROSTER_DATABASE_URL"]
    store = PostgresStore(dsn)
    try:
        key = apikeys.issue(store, "follower")[1]
        start = store.last_seq()
    finally:
        store.close()
    tenants = [new_tenant(dsn) for _ in servers]
    acknowledged: list[str] = []
    seen: list[dict] = []
    failures: list[str] = []
    final: list[int] = []

    def write(server: LiveServer, idp: str, token: str) -> None:
        base = f"/scim/v2/{idp}"
        for i in range(25):
            status, headers, user = server.request(
                "POST", f"{base}/Users", token, {"schemas": [CORE], "userName": f"u{i}"}
            )
            assert status == 201
            acknowledged.append(headers["X-Request-Id"])
            op = {"op": "replace", "path": "active", "value": False}
            status, headers, _ = server.request(
                "PATCH",
                f"{base}/Users/{user['id']}",
                token,
                {"schemas": [PATCH], "Operations": [op]},
            )
            assert status == 200
            acknowledged.append(headers["X-Request-Id"])

    def follow() -> None:
        after, turn = start, 0
        while not (final and after >= final[0]):
            server = servers[turn % len(servers)]
            turn += 1
            query = f"/api/v1/events?after={after}&limit=7&wait=2"
            status, _, body = server.request("GET", query, key)
            if status != 200:
                failures.append(f"{status} {body}")
                return
            for event in body["data"]:
                if event["seq"] <= after:
                    failures.append(f"seq {event['seq']} at or behind the cursor {after}")
                after = event["seq"]
                seen.append(event)
            after = body["next_after"]

    reader = threading.Thread(target=follow)
    reader.start()
    writers = [
        threading.Thread(target=write, args=(s, *t)) for s, t in zip(servers, tenants, strict=True)
    ]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    store = PostgresStore(dsn)
    try:
        final.append(store.last_seq())
        everything = store.events(start, 1000)[0]
    finally:
        store.close()
    reader.join(timeout=60)
    assert not failures, failures[:5]
    assert len(acknowledged) == 150
    ids = [e["id"] for e in seen]
    assert len(ids) == len(set(ids)), "an event was seen twice"
    assert ids == [e["id"] for e in everything]
    assert set(acknowledged) <= {e["source"]["request_id"] for e in seen}
