"""Webhooks from real Roster processes: ``kill -9`` in the middle of deliveries loses nothing
and repeats only the attempts it interrupted (both backends), and three processes on one
PostgreSQL database deliver every event, never the same one twice at once. The receiver
verifies every signature with ``standardwebhooks``."""

from __future__ import annotations

import threading
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest

import storage
import tokens
from app import create_app
from providers import create_idp
from storage.postgres.store import PostgresStore
from tests.live import LiveServer
from tests.webhook_receiver import Answer, Receiver
from webhooks import endpoints

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CONFIG = """
[webhooks]
allow_private_networks = true
timeout = 1
lease_seconds = 4
retry_schedule = [0.05, 0.1, 0.2, 0.5, 1]
"""
# Attempts in flight at once per endpoint (the default of ``[webhooks] in_flight``): the most
# that a crash can interrupt.
IN_FLIGHT = 8


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def config_file(tmp_path: Path) -> str:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return str(path)


def provision(server: LiveServer, idp: str, token: str, count: int, acknowledged: list) -> None:
    """Create ``count`` users and rename each: two events per user. (Not deactivations: so
    many at once would trip the mass-deprovisioning guard, which holds them from the feed.)"""
    base = f"/scim/v2/{idp}"
    for i in range(count):
        status, _, user = server.request(
            "POST", f"{base}/Users", token, {"schemas": [CORE], "userName": f"u{i}@{idp}"}
        )
        assert status == 201
        op = {"op": "replace", "path": "displayName", "value": f"User {i}"}
        body = {"schemas": [PATCH], "Operations": [op]}
        status, _, _ = server.request("PATCH", f"{base}/Users/{user['id']}", token, body)
        assert status == 200
        acknowledged.append(user["id"])


def check_order(receiver: Receiver, events: list[dict]) -> None:
    """Every event arrived, signed; each resource's events first arrived in seq order; a
    repeat carries the same webhook-id as its event."""
    assert {d.webhook_id for d in receiver.arrived} == {e["id"] for e in events}
    assert all(d.verified for d in receiver.deliveries)
    assert all(d.webhook_id == d.event["id"] for d in receiver.arrived)
    first: dict[str, list[int]] = defaultdict(list)
    seen: set[str] = set()
    for delivery in receiver.arrived:
        if delivery.webhook_id not in seen:
            seen.add(delivery.webhook_id)
            first[delivery.event["resource"]["id"]].append(delivery.event["seq"])
    for seqs in first.values():
        assert seqs == sorted(seqs)


def check_exact(receiver: Receiver, log: list[dict], before_restart: int) -> None:
    """Compare what the receiver got with the delivery log: an attempt the log does not know
    is one a crash interrupted. There is at most one per event, at most ``IN_FLIGHT`` in all,
    each made before the restart; and no event was answered 2xx twice but such a one."""
    assert all(d["state"] == "succeeded" for d in log)
    unknown = {d["event_id"]: receiver.arrivals[d["event_id"]] - len(d["attempts"]) for d in log}
    assert set(unknown.values()) <= {0, 1}, unknown
    interrupted = {wid for wid, count in unknown.items() if count}
    assert len(interrupted) <= IN_FLIGHT, interrupted
    before = Counter(d.webhook_id for d in receiver.arrived[:before_restart])
    assert all(before[wid] for wid in interrupted)
    succeeded = Counter(d.webhook_id for d in receiver.deliveries if d.status == 200)
    assert {wid for wid, count in succeeded.items() if count > 1} <= interrupted
    assert set(succeeded) == set(unknown)


def arrived_before_now(receiver: Receiver) -> int:
    """After a kill: wait until the receiver has answered (or dropped) every request it has
    taken in, so that what the killed process sent is counted; return how many arrived."""
    receiver.until(lambda r: not any(r.in_flight.values()), what="requests in hand answered")
    return len(receiver.arrived)


def answered_ok(count: int):
    """A condition on the receiver: ``count`` events have been answered 200."""
    return lambda r: len({d.webhook_id for d in r.deliveries if d.status == 200}) >= count


def open_store(backend: str, data_dir: Path, request):
    """Return (store, close) on ``backend``, outside any server, and the server's env."""
    if backend == "postgres":
        url = request.getfixturevalue("database_url")
        env = {"ROSTER_DATABASE_URL": url, "ROSTER_SECRET_KEY": "k"}
        store = PostgresStore(url)
        return store, store.close, env
    app = create_app({"data_dir": str(data_dir), "secret_key": "k"})
    return storage.get_store(app), lambda: storage.close_store(app), {}


@pytest.mark.parametrize("backend", ["tinydb", "postgres"])
def test_kill_9_repeats_only_the_attempts_it_interrupted(
    request, backend, tmp_path, config_file, receiver
):
    data_dir = tmp_path / "data"
    store, close, env = open_store(backend, data_dir, request)
    try:
        idp = create_idp(store, "Okta", "okta")["id"]
        token = tokens.issue(store, idp)
        _, secret = endpoints.add(store, receiver.url, allow_private=True)
    finally:
        close()
    receiver.secrets.append(secret)
    # Slow, and failing some first attempts: retries are queued when the process dies.
    receiver.script = lambda d, count: Answer(
        500 if count == 0 and d.event["seq"] % 4 == 0 else 200, slow=0.03
    )
    acknowledged: list[str] = []
    server = LiveServer(data_dir, "--config", config_file, env=env)
    try:
        provision(server, idp, token, 30, acknowledged)
        receiver.until(lambda r: len(r.arrived) >= 15, what="deliveries before the kill")
    finally:
        server.kill()
    assert len({d.webhook_id for d in receiver.arrived}) < 60  # killed in the middle
    before_restart = arrived_before_now(receiver)
    with LiveServer(data_dir, "--config", config_file, env=env):
        receiver.until(answered_ok(60), seconds=60)
    # Stopped with SIGTERM: the attempts in flight finished and are in the log.
    store, close, _ = open_store(backend, data_dir, request)
    try:
        events = store.events(0, 1000)[0]
        log = store.records("webhook_deliveries")
    finally:
        close()
    assert len(events) == 60
    check_order(receiver, events)
    check_exact(receiver, log, before_restart)


def test_sigterm_stops_cleanly_and_gives_the_endpoints_back(tmp_path, config_file, receiver):
    data_dir = tmp_path / "data"
    app = create_app({"data_dir": str(data_dir), "secret_key": "k"})
    store = storage.get_store(app)
    idp = create_idp(store, "Okta", "okta")["id"]
    token = tokens.issue(store, idp)
    record, secret = endpoints.add(store, receiver.url, allow_private=True)
    storage.close_store(app)
    receiver.secrets.append(secret)
    server = LiveServer(data_dir, "--config", config_file)
    try:
        provision(server, idp, token, 1, [])
        receiver.until(lambda r: len(r.arrived) >= 2, what="deliveries: the endpoint is held")
    finally:
        code = server.stop()  # SIGTERM
    assert code == 0, "".join(server.output)
    assert "Traceback" not in "".join(server.output)
    app = create_app({"data_dir": str(data_dir), "secret_key": "k"})
    lease = storage.get_store(app).get_record(endpoints.TABLE, record["id"])["lease"]
    storage.close_store(app)
    assert lease is None  # another process may take the endpoint now, not in lease_seconds


def test_three_processes_share_the_deliveries(database_url, tmp_path, config_file, receiver):
    store = PostgresStore(database_url)
    try:
        tenants = []
        for _ in range(3):
            idp = create_idp(store, f"Okta {uuid.uuid4().hex[:8]}", "okta")["id"]
            tenants.append((idp, tokens.issue(store, idp)))
        _, secret = endpoints.add(store, receiver.url, allow_private=True)
    finally:
        store.close()
    receiver.secrets.append(secret)
    receiver.script = lambda d, count: Answer(slow=0.01)
    env = {"ROSTER_DATABASE_URL": database_url, "ROSTER_SECRET_KEY": "shared"}
    servers = [LiveServer(tmp_path / "data", "--config", config_file, env=env) for _ in range(3)]
    acknowledged: list[str] = []
    try:
        writers = [
            threading.Thread(target=provision, args=(s, *t, 15, acknowledged))
            for s, t in zip(servers, tenants, strict=True)
        ]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        assert len(acknowledged) == 45
        receiver.until(lambda r: len({d.webhook_id for d in r.arrived}) >= 90, seconds=60)
    finally:
        for server in servers:
            server.stop()
    store = PostgresStore(database_url)
    try:
        events = store.events(0, 1000)[0]
    finally:
        store.close()
    assert len(events) == 90
    check_order(receiver, events)
    assert receiver.overlaps == 0
    assert len(receiver.arrived) == 90  # no crash, so no repeat


def test_another_process_takes_over_from_one_killed(database_url, tmp_path, config_file, receiver):
    store = PostgresStore(database_url)
    try:
        idp = create_idp(store, "Okta", "okta")["id"]
        token = tokens.issue(store, idp)
        record, secret = endpoints.add(store, receiver.url, allow_private=True)
    finally:
        store.close()
    receiver.secrets.append(secret)
    # Slow enough that the deliveries outlast the kill.
    receiver.script = lambda d, count: Answer(slow=0.2)
    env = {"ROSTER_DATABASE_URL": database_url, "ROSTER_SECRET_KEY": "shared"}
    servers = [LiveServer(tmp_path / "data", "--config", config_file, env=env) for _ in range(3)]
    try:
        store = PostgresStore(database_url)
        try:
            owner = lambda: (store.get_record("webhooks", record["id"])["lease"] or {}).get("owner")  # noqa: E731
            receiver.until(lambda _: owner() is not None, what="a process holding the endpoint")
            pid = int(owner().split(":")[1])
        finally:
            store.close()
        holder = next(s for s in servers if s.process.pid == pid)
        others = [s for s in servers if s is not holder]
        acknowledged: list[str] = []
        provision(others[0], idp, token, 20, acknowledged)
        receiver.until(lambda r: len(r.arrived) >= 5, what="deliveries before the kill")
        holder.kill()
        assert len({d.webhook_id for d in receiver.arrived}) < 40  # killed in the middle
        # Another process takes the endpoint only once the killed one's timeout has passed.
        before_takeover = arrived_before_now(receiver)
        receiver.until(lambda r: len({d.webhook_id for d in r.arrived}) >= 40, seconds=60)
        store = PostgresStore(database_url)
        try:
            done = lambda _: len(store.records("webhook_deliveries")) >= 40  # noqa: E731
            receiver.until(done, what="every delivery settled in the log")
        finally:
            store.close()
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.stop()
    store = PostgresStore(database_url)
    try:
        events = store.events(0, 1000)[0]
        log = store.records("webhook_deliveries")
    finally:
        store.close()
    assert len(events) == 40
    check_order(receiver, events)
    assert receiver.overlaps == 0
    assert len({d.webhook_id for d in receiver.arrived}) == 40
    check_exact(receiver, log, before_takeover)
    # The log names who made each attempt: another process finished the work.
    makers = {a["by"].split(":")[1] for d in log for a in d["attempts"]}
    assert makers - {str(pid)}
