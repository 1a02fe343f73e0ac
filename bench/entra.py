"""An initial sync as Microsoft Entra ID runs it, and the same load through /Bulk: the client
side of ``bench/sync.py``, for any SCIM server (Roster or scim2-server) at ``base``.

Entra provisions each user with a lookup then a create (``GET /Users?filter=userName eq "…"``,
then ``POST /Users``), and each group with a lookup, a create without members, then PATCHes
adding members 100 at a time (``docs/idp/behaviour.md``, Entra). With several threads, each
takes every n-th user, then every n-th group.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from bench.client import Client, Series

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BATCH = 100  # members per PATCH, as Entra sends them


@dataclass
class Directory:
    """The users and groups to provision: ``groups`` are (name, indexes of their members)."""

    users: list[str]
    groups: list[tuple[str, list[int]]]

    @property
    def memberships(self) -> int:
        return sum(len(members) for _, members in self.groups)


def directory(users: int = 5000, groups: int = 100, memberships: int = 10_000) -> Directory:
    """A directory shaped like a company's: one group holds everyone; the other memberships
    are spread over the remaining groups, one small group per user at most."""
    names = [f"user{i}@contoso.example" for i in range(users)]
    spread: list[list[int]] = [[] for _ in range(groups - 1)]
    for m in range(min(memberships - users, users)):
        spread[m % (groups - 1)].append(m)
    return Directory(
        names,
        [("Everyone", list(range(users)))]
        + [(f"Team {k:03}", spread[k]) for k in range(len(spread))],
    )


def user_body(name: str, i: int) -> dict:
    """A User as Entra creates it (tests/samples/entra-create-user.json)."""
    given, family = f"Given{i}", f"Family{i}"
    return {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": f"00000000-0000-4000-8000-{i:012}",
        "userName": name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        "displayName": f"{given} {family}",
        ENTERPRISE: {"department": "Sales", "employeeNumber": str(i)},
    }


def group_body(name: str) -> dict:
    return {
        "schemas": [CORE_GROUP],
        "displayName": name,
        "members": [],
        "meta": {"resourceType": "Group"},
    }


def add_members(ids: list[str]) -> dict:
    value = [{"value": member} for member in ids]
    return {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": value}]}


def _filter(attribute: str, value: str) -> str:
    return urllib.parse.quote(f'{attribute} eq "{value}"')


@dataclass
class Outcome:
    """What a phase measured; ``failures`` holds the first unexpected answers."""

    series: dict[str, Series] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, seconds: float, ok: bool, what: str = "") -> None:
        with self.lock:
            self.series.setdefault(name, Series(name)).add(seconds, ok)
            if not ok and len(self.failures) < 5:
                self.failures.append(what)

    def summary(self) -> dict:
        return {name: s.summary() for name, s in self.series.items()} | {"failures": self.failures}


def _threads(count: int, work) -> float:
    """Run ``work(n)`` on ``count`` threads; return the wall time."""
    workers = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started


def sync(port: int, token: str, base: str, data: Directory, threads: int) -> dict:
    """Provision ``data`` request by request as Entra does; return the timings."""
    ids: list[str | None] = [None] * len(data.users)
    outcome = Outcome()

    def users(n: int) -> None:
        client = Client(port, token)
        for i in range(n, len(data.users), threads):
            name = data.users[i]
            seconds, status, raw = client.timed(
                "GET", f"{base}/Users?filter={_filter('userName', name)}"
            )
            outcome.add(
                "lookup user",
                seconds,
                status == 200 and json.loads(raw)["totalResults"] == 0,
                f"GET {status}",
            )
            seconds, status, raw = client.timed("POST", f"{base}/Users", user_body(name, i))
            outcome.add(
                "POST /Users", seconds, status == 201, f"POST /Users {status} {raw[:200]!r}"
            )
            if status == 201:
                ids[i] = json.loads(raw)["id"]
        client.close()

    def groups(n: int) -> None:
        client = Client(port, token)
        for k in range(n, len(data.groups), threads):
            name, members = data.groups[k]
            query = f"excludedAttributes=members&filter={_filter('displayName', name)}"
            seconds, status, raw = client.timed("GET", f"{base}/Groups?{query}")
            outcome.add(
                "lookup group",
                seconds,
                status == 200 and json.loads(raw)["totalResults"] == 0,
                f"GET {status}",
            )
            seconds, status, raw = client.timed("POST", f"{base}/Groups", group_body(name))
            outcome.add(
                "POST /Groups", seconds, status == 201, f"POST /Groups {status} {raw[:200]!r}"
            )
            if status != 201:
                continue
            group = json.loads(raw)["id"]
            member_ids = [ids[i] for i in members if ids[i] is not None]
            for at in range(0, len(member_ids), BATCH):
                body = add_members(member_ids[at : at + BATCH])
                seconds, status, raw = client.timed("PATCH", f"{base}/Groups/{group}", body)
                outcome.add(
                    "PATCH members", seconds, status in (200, 204), f"PATCH {status} {raw[:200]!r}"
                )
        client.close()

    users_s = _threads(threads, users)
    groups_s = _threads(threads, groups)
    return {
        "threads": threads,
        "users_s": round(users_s, 3),
        "groups_s": round(groups_s, 3),
        "total_s": round(users_s + groups_s, 3),
        **outcome.summary(),
    }


def bulk_load(port: int, token: str, base: str, data: Directory, per_request: int = 1000) -> dict:
    """Load ``data`` through /Bulk, ``per_request`` operations a request: the users' POSTs,
    then each group's POST and its member PATCHes (100 at a time, naming the group by bulkId)."""
    client, outcome = Client(port, token, timeout=600), Outcome()
    ids: list[str | None] = [None] * len(data.users)
    started = time.perf_counter()
    for at in range(0, len(data.users), per_request):
        chunk = range(at, min(at + per_request, len(data.users)))
        operations = [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": f"u{i}",
                "data": user_body(data.users[i], i),
            }
            for i in chunk
        ]
        answers = _bulk(client, base, operations, outcome, "users")
        for i, answer in zip(chunk, answers, strict=False):
            if answer.get("status") == "201":
                ids[i] = answer["location"].rsplit("/", 1)[1]
    users_s = time.perf_counter() - started
    batch: list[dict] = []
    for k, (name, members) in enumerate(data.groups):
        ops = [{"method": "POST", "path": "/Groups", "bulkId": f"g{k}", "data": group_body(name)}]
        member_ids = [ids[i] for i in members if ids[i] is not None]
        ops += [
            {
                "method": "PATCH",
                "path": f"/Groups/bulkId:g{k}",
                "data": add_members(member_ids[m : m + BATCH]),
            }
            for m in range(0, len(member_ids), BATCH)
        ]
        if batch and len(batch) + len(ops) > per_request:  # a group's operations stay together
            _bulk(client, base, batch, outcome, "groups")
            batch = []
        batch += ops
    if batch:
        _bulk(client, base, batch, outcome, "groups")
    total = time.perf_counter() - started
    client.close()
    return {
        "users_s": round(users_s, 3),
        "groups_s": round(total - users_s, 3),
        "total_s": round(total, 3),
        **outcome.summary(),
    }


def _bulk(
    client: Client, base: str, operations: list[dict], outcome: Outcome, phase: str
) -> list[dict]:
    body = {"schemas": [BULK], "Operations": operations}
    seconds, status, raw = client.timed("POST", f"{base}/Bulk", body)
    answers = json.loads(raw).get("Operations", []) if status == 200 else []
    ok = (
        status == 200
        and len(answers) == len(operations)
        and all(a.get("status", "").startswith("2") for a in answers)
    )
    bad = next((a for a in answers if not a.get("status", "").startswith("2")), None)
    outcome.add(f"Bulk ({phase})", seconds, ok, f"Bulk {status} {bad or raw[:300]!r}")
    return answers


def verify(port: int, token: str, base: str, data: Directory) -> str | None:
    """Return what the server holds that differs from ``data`` after a load, or None."""
    client = Client(port, token, timeout=600)
    try:
        status, raw, _ = client.request("GET", f"{base}/Users?count=1")
        users = json.loads(raw)["totalResults"] if status == 200 else None
        status, raw, _ = client.request("GET", f"{base}/Groups?count={len(data.groups)}")
        listed = json.loads(raw) if status == 200 else {}
    finally:
        client.close()
    groups = listed.get("Resources", [])
    held = sum(len(g.get("members") or []) for g in groups)
    if (users, len(groups), held) != (len(data.users), len(data.groups), data.memberships):
        return f"holds {users} users, {len(groups)} groups, {held} memberships"
    return None
