"""The writing side of the storage crash test (``tests/storage/test_crash.py``), run in a subprocess
that the test kills with SIGKILL: ``python -m tests.storage.crash_writer FOLDER SEED``.

It writes to a ``TinyStore`` that compacts every few kilobytes (so kills land in compactions
too), with the membership-delta threshold lowered so that its group's membership changes are
journaled as deltas. Before each write it prints ``P <op>``, after the store acknowledges it
``A <op>`` (with the id of a new user), flushed: the test rebuilds from these lines what must
be in the store. ``R`` marks the end of the set-up of a fresh folder. Each op carries ``rid``,
which its change events carry as their ``source.request_id``: the test finds the events of
exactly the acknowledged writes (and perhaps of the one in flight).
"""

from __future__ import annotations

import json
import random
import sys

from storage.tinydb import store as tinydb_store
from storage.tinydb.store import TinyStore

IDP = "crash"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
DELTA_MEMBERS = 8  # instead of 64: a small group, journaled as deltas all the same


def say(kind: str, op: dict) -> None:
    sys.stdout.write(f"{kind} {json.dumps(op)}\n")
    sys.stdout.flush()


def world(store: TinyStore) -> tuple[dict[str, str], str | None]:
    """Return {userName: id} and the group's id, as the store holds them now."""
    _, users = store.query("User", IDP)
    _, groups = store.query("Group", IDP)
    return {u["userName"]: u["id"] for u in users}, groups[0]["id"] if groups else None


def next_op(rng: random.Random, ids: dict[str, str], members: set[str], step: int) -> dict:
    names = sorted(ids)
    outside = [n for n in names if n not in members]
    roll = rng.random()
    if len(names) < DELTA_MEMBERS * 2 or (roll < 0.15 and len(names) < 100):
        return {"op": "create", "name": f"u{step}-{rng.randrange(1 << 30)}", "title": "new"}
    if roll < 0.35:
        return {"op": "title", "name": rng.choice(names), "title": f"t{rng.randrange(1000)}"}
    if roll < 0.45:
        return {"op": "delete", "name": rng.choice(names)}
    if roll < 0.7 and outside:
        return {"op": "add", "name": rng.choice(outside)}
    if roll < 0.8 and members:
        return {"op": "remove", "name": rng.choice(sorted(members))}
    if roll < 0.95:
        return {"op": "rename", "title": f"group {rng.randrange(1000)}"}
    return {"op": "record", "title": f"s{rng.randrange(1000)}"}


def apply(store: TinyStore, op: dict, ids: dict, group: str = "", members: set | None = None):
    """Make the write ``op`` names; return ``op`` with what the test needs to know of it."""
    before = store.last_seq()
    op = _apply(store, op, ids, group, members)
    return {**op, "recorded": store.last_seq() > before}  # a write that changed nothing: no


def _apply(store: TinyStore, op: dict, ids: dict, group: str, members: set | None) -> dict:
    kind, source = op["op"], {"method": "TEST", "path": op["op"], "request_id": op.get("rid")}
    if kind == "create":
        user = {"schemas": [CORE], "userName": op["name"], "title": op["title"]}
        ids[op["name"]] = store.create("User", IDP, user, source=source)["id"]
        op = {**op, "id": ids[op["name"]]}
    elif kind == "title":
        uid, title = ids[op["name"]], op["title"]
        store.update("User", IDP, uid, lambda cur: {**cur, "title": title}, source=source)
    elif kind == "delete":
        store.delete("User", IDP, ids.pop(op["name"]), source=source)
        members.discard(op["name"])  # the store takes a deleted user out of its groups
    elif kind in ("add", "remove"):
        member = ids[op["name"]]

        def change(cur: dict) -> dict:
            kept = [m for m in cur.get("members", []) if m["value"] != member]
            if kind == "add":
                kept.append({"value": member, "type": "User"})
            return {**cur, "members": kept}

        store.update("Group", IDP, group, change, source=source)
        (members.add if kind == "add" else members.discard)(op["name"])
    elif kind == "rename":
        name = op["title"]
        store.update("Group", IDP, group, lambda cur: {**cur, "displayName": name}, source=source)
    else:
        store.put_record("settings", "crash", {"value": op["title"]})
    return op


def main(folder: str, seed: int) -> None:
    rng = random.Random(seed)
    tinydb_store.DELTA_MEMBERS = DELTA_MEMBERS
    store = TinyStore(folder, compact_after=16 * 1024)
    ids, group = world(store)
    members: set[str] = set()
    if group is None:  # set up a fresh folder: users, and a group holding most of them
        body = {"schemas": [GROUP], "displayName": "group"}
        source = {"method": "TEST", "path": "group", "request_id": f"{seed}-group"}
        group = store.create("Group", IDP, body, source=source)["id"]
        say("A", {"op": "group", "id": group, "rid": source["request_id"], "recorded": True})
        for step in range(DELTA_MEMBERS * 2):
            op = {"op": "create", "name": f"s{step}", "title": "new", "rid": f"{seed}-s{step}"}
            say("A", apply(store, op, ids))
        for name in sorted(ids)[: DELTA_MEMBERS + 2]:
            op = {"op": "add", "name": name, "rid": f"{seed}-a{name}"}
            say("A", apply(store, op, ids, group, members))
    current = store.get("Group", IDP, group) or {}
    names = {v: k for k, v in ids.items()}
    members = {names[m["value"]] for m in current.get("members", [])}
    say("R", {"op": "ready"})
    for step in range(10**9):
        op = {**next_op(rng, ids, members, step), "rid": f"{seed}-{step}"}
        say("P", op)
        say("A", apply(store, op, ids, group, members))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
