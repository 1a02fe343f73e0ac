"""Crashes and races against the real server (waitress in a subprocess, as in production).

The crash test: several threads write (creates, PUTs, PATCHes, deletes, group membership) while
the server is killed with SIGKILL at a random moment; then it is restarted, and every thread's
resources must be exactly in the state of its last acknowledged write, or in the state its one
unacknowledged request would have made. Anything else (a lost write, a write half applied, a
user deleted but still a member, a store that does not load) fails. Several rounds run on the
same folder, each starting from what the previous one left. After each restart the change
feed must hold the events of exactly the acknowledged writes (found by the request id each
answer carries), plus perhaps those of the requests in flight, and folding it must give the
state the server answers with. The writers' deletions cross the mass-deprovisioning guard now
and then: what it held is applied before each restart, so the held events too must all be
there, none lost to the kill.
"""

from __future__ import annotations

import http.client
import itertools
import json
import random
import signal
import subprocess
import sys
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

import tokens
from cli import create_idp
from lifecycle import holds
from lifecycle.policy import Policy
from providers import set_policy
from scim.core.filter import parse_filter
from storage import backup
from storage.postgres.store import PostgresStore
from storage.tinydb.store import TinyStore
from tests.feedtools import fold, held, read_feed
from tests.live import ROOT, LiveServer
from tokens import apikeys

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WRITERS = 4
ROUNDS = 5


def provision(data_dir, dsn: str | None = None) -> tuple[str, str, str]:
    """Create an IdP, its token and an API key directly in the store (the server is not
    running yet); return them."""
    store = PostgresStore(dsn) if dsn else TinyStore(data_dir)
    try:
        idp = create_idp(store, "Crash", "generic")["id"]
        # A guard that trips on a few deletions: kills land while writes are being held too.
        set_policy(store, idp, Policy(guard_users=3, guard_percent=5))
        return idp, tokens.issue(store, idp), apikeys.issue(store, "crash test")[1]
    finally:
        store.close()


def apply_holds(data_dir, dsn: str | None = None) -> int:
    """Apply every hold of the mass-deprovisioning guard (the server is down): the deletions
    it held since the last round, killed or not, reach the feed now, in their order. Return
    how many changes were released."""
    store = PostgresStore(dsn) if dsn else TinyStore(data_dir)
    try:
        released = 0
        for hold in holds.holds(store, open_only=True):
            released += holds.apply(store, hold["id"], datetime.now(UTC), "crash test")["changes"]
        return released
    finally:
        store.close()


class Connection:
    """One keep-alive HTTP connection, as an IdP's sync worker holds one."""

    def __init__(self, server: LiveServer, idp: str, token: str):
        self.base = f"/scim/v2/{idp}"
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.request_id: str | None = None  # of the last answer

    def send(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/scim+json"
        self.conn.request(method, self.base + path, body=data, headers=headers)
        response = self.conn.getresponse()
        raw = response.read()
        self.request_id = response.getheader("X-Request-Id")
        return response.status, json.loads(raw) if raw else None

    def close(self) -> None:
        self.conn.close()


# A writer's world: its users ({userName: title}) and its group's members (userNames).
State = tuple[frozenset, frozenset]


@dataclass
class Writer:
    """One client thread with resources no other thread touches, so that the state of its
    last acknowledged write, and of its one request in flight, are known exactly."""

    n: int
    group_id: str
    users: dict[str, str] = field(default_factory=dict)  # userName -> title, acknowledged
    members: set[str] = field(default_factory=set)  # userNames, acknowledged
    ids: dict[str, str] = field(default_factory=dict)  # userName -> id
    pending: State | None = None  # the state the request in flight would leave
    requests: set[str] = field(default_factory=set)  # ids of the acknowledged writes
    writes: int = 0
    failure: str | None = None

    def state(self) -> State:
        return frozenset(self.users.items()), frozenset(self.members)

    def run(self, conn: Connection, rng: random.Random, stop: threading.Event, tick) -> None:
        """Write until stopped; ``tick()`` after each acknowledged write, and at the end."""
        try:
            while not stop.is_set():
                self._one(conn, rng)
                tick()
        except (OSError, http.client.HTTPException) as exc:
            if not stop.is_set():
                self.failure = f"writer {self.n}: {exc!r} before the kill"
        except AssertionError as exc:
            self.failure = f"writer {self.n}: {exc}"
        finally:
            conn.close()
            tick()

    def _one(self, conn: Connection, rng: random.Random) -> None:
        """Send one write; the acknowledged state changes only once its answer has arrived."""
        self.writes += 1
        tag = f"r{rng.random():.6f}"
        names = sorted(self.users)
        outside = [u for u in names if u not in self.members]
        choice = rng.random()
        if len(names) < 3 or (choice < 0.25 and len(names) < 8):
            name = f"w{self.n}-{self.writes}-{tag}"
            self._send(
                conn,
                ({**self.users, name: "new"}, self.members),
                "POST",
                "/Users",
                {"schemas": [CORE], "userName": name, "title": "new"},
                name,
            )
        elif choice < 0.4:
            name = rng.choice(names)
            body = {"schemas": [CORE], "userName": name, "title": f"put-{tag}"}
            self._send(
                conn,
                ({**self.users, name: f"put-{tag}"}, self.members),
                "PUT",
                f"/Users/{self.ids[name]}",
                body,
            )
        elif choice < 0.55:
            name = rng.choice(names)
            op = {"op": "replace", "path": "title", "value": f"patch-{tag}"}
            self._send(
                conn,
                ({**self.users, name: f"patch-{tag}"}, self.members),
                "PATCH",
                f"/Users/{self.ids[name]}",
                {"schemas": [PATCH_OP], "Operations": [op]},
            )
        elif choice < 0.65:
            name = rng.choice(names)
            # Deleting a user also takes it out of the group, in the same write.
            users = {u: t for u, t in self.users.items() if u != name}
            self._send(conn, (users, self.members - {name}), "DELETE", f"/Users/{self.ids[name]}")
        elif choice < 0.85 and outside:
            name = rng.choice(outside)
            op = {"op": "add", "path": "members", "value": [{"value": self.ids[name]}]}
            self._send(
                conn,
                (self.users, self.members | {name}),
                "PATCH",
                f"/Groups/{self.group_id}",
                {"schemas": [PATCH_OP], "Operations": [op]},
            )
        elif self.members:
            name = rng.choice(sorted(self.members))
            op = {"op": "remove", "path": f'members[value eq "{self.ids[name]}"]'}
            self._send(
                conn,
                (self.users, self.members - {name}),
                "PATCH",
                f"/Groups/{self.group_id}",
                {"schemas": [PATCH_OP], "Operations": [op]},
            )

    def _send(self, conn, after, method, path, body=None, created: str | None = None) -> None:
        users, members = after
        self.pending = (frozenset(users.items()), frozenset(members))
        status, answer = conn.send(method, path, body)
        assert status in (200, 201, 204), f"{method} {path} answered {status}: {answer}"
        if created is not None:
            self.ids[created] = answer["id"]
        self.requests.add(conn.request_id)
        self.users, self.members, self.pending = dict(users), set(members), None


def observe(conn: Connection, writer: Writer) -> State:
    """Read the writer's world back from the server; map member ids back to userNames."""
    query = urllib.parse.quote(f'userName sw "w{writer.n}-"')
    status, listing = conn.send("GET", f"/Users?filter={query}&count=1000")
    assert status == 200
    users = {r["userName"]: r.get("title") for r in listing["Resources"]}
    writer.ids.update({r["userName"]: r["id"] for r in listing["Resources"]})
    names = {r["id"]: r["userName"] for r in listing["Resources"]}
    status, group = conn.send("GET", f"/Groups/{writer.group_id}")
    assert status == 200
    members = {names.get(m["value"], f"dangling {m['value']}") for m in group.get("members", [])}
    return frozenset(users.items()), frozenset(members)


def check_and_adopt(conn: Connection, writer: Writer) -> None:
    """The writer's world must be its acknowledged state or its in-flight one; continue from
    whichever it is."""
    seen = observe(conn, writer)
    allowed = [writer.state()] + ([writer.pending] if writer.pending else [])
    assert seen in allowed, (
        f"writer {writer.n} after the crash:\n  seen      {sorted(seen[0])} {sorted(seen[1])}\n"
        + "\n".join(f"  allowed   {sorted(a[0])} {sorted(a[1])}" for a in allowed)
    )
    writer.users, writer.members, writer.pending = dict(seen[0]), set(seen[1]), None


def read_events(server: LiveServer, key: str) -> list[dict]:
    found, after = [], 0
    while True:
        status, _, body = server.request("GET", f"/api/v1/events?after={after}&limit=1000", key)
        assert status == 200, body
        found += body["data"]
        after = body["next_after"]
        if not body["has_more"]:
            return found


def check_feed(server: LiveServer, key: str, conn: Connection, writers: list[Writer]) -> None:
    """The feed holds the events of every acknowledged write, and only others of requests
    that were in flight; folded, it gives each writer's world as the server shows it."""
    events = read_events(server, key)
    recorded = {e["source"]["request_id"] for e in events}
    acknowledged = set().union(*(w.requests for w in writers))
    assert acknowledged <= recorded, f"events lost: {acknowledged - recorded}"
    in_flight = recorded - acknowledged
    assert len(in_flight) <= sum(w.pending is not None for w in writers), in_flight
    folded = fold(events)
    for writer in writers:
        prefix = f"w{writer.n}-"
        users = {u["username"]: u["scim"].get("title") for u in folded.users.values()}
        users = {name: title for name, title in users.items() if name.startswith(prefix)}
        names = {uid: u["username"] for uid, u in folded.users.items()}
        members = {names.get(m, f"dangling {m}") for m in folded.members[writer.group_id]}
        assert (frozenset(users.items()), frozenset(members)) == observe(conn, writer)
    for writer in writers:  # whichever wrote them, they are history now
        writer.requests |= in_flight


def test_acknowledged_writes_survive_sigkill_at_random_moments(tmp_path, backend, request):
    data_dir = tmp_path / "data"
    dsn = request.getfixturevalue("database_url") if backend == "postgres" else None
    idp, token, key = provision(data_dir, dsn)
    rng = random.Random()
    writers: list[Writer] = []
    released = 0
    for round_ in range(ROUNDS + 1):
        if round_:
            released += apply_holds(data_dir, dsn)
        with LiveServer(data_dir, env={"ROSTER_DATABASE_URL": dsn} if dsn else None) as server:
            conn = Connection(server, idp, token)
            if round_ == 0:
                for n in range(WRITERS):
                    body = {"schemas": [GROUP], "displayName": f"crash group {n}"}
                    status, group = conn.send("POST", "/Groups", body)
                    assert status == 201
                    writers.append(Writer(n, group["id"], requests={conn.request_id}))
            check_feed(server, key, conn, writers)
            for writer in writers:
                check_and_adopt(conn, writer)
            conn.close()
            if round_ == ROUNDS:
                break
            crash_while_writing(server, idp, token, writers, rng)
    assert sum(w.writes for w in writers) >= ROUNDS * 10
    assert released, "the guard never held a deletion: the rounds proved nothing of holds"


def crash_while_writing(server, idp, token, writers: list[Writer], rng) -> None:
    """Start the writers, SIGKILL the server once a random number of writes were
    acknowledged (the others are mid-request), and wait for the writers to notice."""
    target = rng.randint(10, 120)
    done = threading.Condition()
    count = [0]
    stop = threading.Event()

    def tick() -> None:
        with done:
            count[0] += 1
            done.notify_all()

    threads = [
        threading.Thread(
            target=w.run,
            args=(Connection(server, idp, token), random.Random(rng.random()), stop, tick),
        )
        for w in writers
    ]
    for t in threads:
        t.start()
    with done:
        reached = done.wait_for(
            lambda: count[0] >= target or any(w.failure for w in writers), timeout=60
        )
    # Killing right after an answer would favour the moments between writes (a long write
    # holds the others back): kill a random instant later, mid-commit as often as not. The
    # wait only picks the moment; nothing depends on what happened during it.
    stop.wait(rng.uniform(0, 0.05))
    stop.set()
    server.kill()
    for t in threads:
        t.join(timeout=60)
    failures = [w.failure for w in writers if w.failure]
    assert not failures, failures
    assert reached, "the writers stalled"


CREATORS = 8


@pytest.mark.backends("tinydb")
def test_creates_of_concurrent_clients_acknowledged_before_sigkill_are_all_there(tmp_path):
    """Group commit under a kill: CREATORS clients create users at once, so their fsyncs are
    shared (``storage.tinydb.durable``), and the server is killed mid-stream. After a restart
    every user answered 201 is there with its user.created event, and at most one user more
    per client (its request in flight)."""
    data_dir = tmp_path / "data"
    idp, token, key = provision(data_dir)
    rng = random.Random()
    acknowledged: dict[str, str] = {}  # request id -> user id
    for round_ in range(4):
        with LiveServer(data_dir) as server:
            conn = Connection(server, idp, token)
            status, listing = conn.send("GET", "/Users?count=10000")
            assert status == 200
            present = {r["id"] for r in listing["Resources"]}
            assert set(acknowledged.values()) <= present, "acknowledged creates lost"
            assert len(present) <= len(acknowledged) + round_ * CREATORS
            created = {
                e["source"]["request_id"]
                for e in read_events(server, key)
                if e["type"] == "user.created"
            }
            assert set(acknowledged) <= created, "events of acknowledged creates lost"
            conn.close()
            if round_ < 3:
                acknowledged.update(create_until_killed(server, idp, token, rng, round_))
    assert len(acknowledged) >= 3 * 20


def create_until_killed(server, idp: str, token: str, rng, round_: int) -> dict[str, str]:
    """CREATORS threads POST new users until the server is SIGKILLed, a random number of
    acknowledged creates (and a random instant) after they began; return {request id: id}
    of the acknowledged ones."""
    target, acknowledged = rng.randint(20, 200), {}
    done, stop = threading.Condition(), threading.Event()
    failures: list[str] = []

    def create(n: int) -> None:
        conn = Connection(server, idp, token)
        try:
            for i in itertools.count():
                body = {"schemas": [CORE], "userName": f"c{round_}-{n}-{i}"}
                status, answer = conn.send("POST", "/Users", body)
                if status != 201:
                    failures.append(f"POST answered {status}: {answer}")
                    return
                with done:
                    acknowledged[conn.request_id] = answer["id"]
                    done.notify_all()
        except (OSError, http.client.HTTPException) as exc:
            if not stop.is_set():
                failures.append(f"creator {n}: {exc!r} before the kill")
        finally:
            conn.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(CREATORS)]
    for thread in threads:
        thread.start()
    with done:
        reached = done.wait_for(lambda: len(acknowledged) >= target or failures, timeout=60)
    stop.wait(rng.uniform(0, 0.02))  # picks the moment only (mid-commit as often as not)
    stop.set()
    server.kill()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert reached, "the creators stalled"
    return dict(acknowledged)


@pytest.mark.parametrize("attempt", range(3))
def test_racing_creates_over_http_have_one_winner(tmp_path, attempt):
    """RFC 7644 §3.3: of 8 clients creating the same userName at once, one gets 201 and the
    others 409 uniqueness, never two 201s."""
    data_dir = tmp_path / "data"
    idp, token, _ = provision(data_dir)
    with LiveServer(data_dir) as server:
        connections = [Connection(server, idp, token) for _ in range(8)]
        barrier = threading.Barrier(8)
        answers: list[tuple[int, dict | None]] = []
        lock = threading.Lock()

        def race(conn: Connection) -> None:
            body = {"schemas": [CORE], "userName": f"Race{attempt}@example.com"}
            barrier.wait()
            answer = conn.send("POST", "/Users", body)
            with lock:
                answers.append(answer)

        threads = [threading.Thread(target=race, args=(c,)) for c in connections]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        for conn in connections:
            conn.close()
        statuses = sorted(status for status, _ in answers)
        assert statuses == [201] + [409] * 7
        assert all(b["scimType"] == "uniqueness" for s, b in answers if s == 409)
        check = Connection(server, idp, token)
        status, listing = check.send("GET", "/Users")
        check.close()
        assert listing["totalResults"] == 1


# --- the storage layer alone, killed mid-compaction -------------------------------------------


@dataclass
class Model:
    """What the crash writer's acknowledged writes say the store holds."""

    users: dict[str, str] = field(default_factory=dict)  # userName -> title
    members: set[str] = field(default_factory=set)
    group: str | None = None  # displayName, once the group exists
    record: str | None = None

    def state(self) -> tuple:
        return (frozenset(self.users.items()), frozenset(self.members), self.group, self.record)

    def after(self, op: dict) -> Model:
        """Return the model with ``op`` applied (the writer's ops, see crash_writer.py)."""
        new = Model(dict(self.users), set(self.members), self.group, self.record)
        kind, name = op["op"], op.get("name")
        if kind in ("create", "title"):
            new.users[name] = op["title"]
        elif kind == "delete":
            new.users.pop(name)
            new.members.discard(name)
        elif kind == "add":
            new.members.add(name)
        elif kind == "remove":
            new.members.discard(name)
        elif kind in ("rename", "group"):
            new.group = op.get("title", "group")
        elif kind == "record":
            new.record = op["title"]
        return new


def observe_store(store: TinyStore) -> Model:
    """Read the crash writer's world from a reopened store, checking its indexes on the way."""
    idp = "crash"
    _, users = store.query("User", idp)
    names = {u["id"]: u["userName"] for u in users}
    _, groups = store.query("Group", idp)
    group = groups[0] if groups else {}
    members = [m["value"] for m in group.get("members", [])]
    for user in users:  # the indexes were rebuilt from the snapshot and the journal
        found = store.query("User", idp, filter=parse_filter(f'userName eq "{user["userName"]}"'))
        assert found[0] == 1
        assert [g["id"] for g in store.groups_of(idp, user["id"])] == (
            [group["id"]] if user["id"] in members else []
        )
    assert store.count("User", idp) == len(users)
    record = store.get_record("settings", "crash")
    return Model(
        {u["userName"]: u["title"] for u in users},
        {names.get(m, f"dangling {m}") for m in members},
        group.get("displayName"),
        record["value"] if record else None,
    )


def check_events(store: TinyStore, folder, acked: set, pending: dict | None) -> None:
    """The events are exactly those of the acknowledged writes, and perhaps of the one in
    flight, whole: folded, they give what the store holds. Adopt the one in flight if it is
    there."""
    events = read_feed(store)
    recorded = {e["source"]["request_id"] for e in events}
    maybe = {pending["rid"]} if pending else set()
    assert acked <= recorded, f"events lost: {sorted(acked - recorded)[:5]}"
    assert recorded <= acked | maybe, f"events of no write: {sorted(recorded - acked - maybe)}"
    acked |= recorded
    folded, expected = fold(events), held(store, ["crash"])
    assert (folded.users, folded.groups) == (expected.users, expected.groups)
    assert (folded.members, folded.versions) == (expected.members, expected.versions)
    assert len(backup.read_folder(folder).get("events", {})) == len(events)


def test_store_survives_sigkill_mid_write_and_mid_compaction(tmp_path):
    folder = tmp_path / "data"
    rng = random.Random()
    model = Model()
    recorded: set[str] = set()  # request ids of acknowledged writes that recorded events
    for _ in range(6):
        writer = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.storage.crash_writer",
                str(folder),
                str(rng.randrange(1 << 30)),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        target, acked, pending = rng.randint(5, 300), None, None
        with writer.stdout:
            for line in writer.stdout:
                kind, _, payload = line.partition(" ")
                op = json.loads(payload)
                if kind == "R":
                    acked = 0
                elif kind == "P":
                    pending = op
                elif kind == "A":
                    model, pending = model.after(op), None
                    if op.get("recorded"):
                        recorded.add(op["rid"])
                    acked = None if acked is None else acked + 1
                if acked == target:
                    writer.kill()  # the writer is somewhere in its next write, or compacting
                    # Lines already in the pipe were written before the kill: they count.
        assert writer.wait() == -signal.SIGKILL
        store = TinyStore(folder)
        try:
            seen = observe_store(store)
            allowed = [model.state()] + ([model.after(pending).state()] if pending else [])
            assert seen.state() in allowed, f"after the crash: {seen}, pending {pending}"
            # The backup reader (storage.backup) replays the folder to the same documents.
            tables = backup.read_folder(folder)
            assert {u["data"]["userName"] for u in tables["User"].values()} == set(seen.users)
            check_events(store, folder, recorded, pending)
        finally:
            store.close()
        model = seen
    assert len(model.users) >= 16 and model.group
