"""What a consumer of the change feed does, for the tests: fold events into a state, and read
the state a store holds in the same (application) shape, to compare the two; and how a test
waits for a long-polling reader to be waiting."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lifecycle.downstream import view
from scim.core import shape
from scim.core.events import public
from storage.tinydb.store import TinyStore


@dataclass
class State:
    users: dict[str, dict] = field(default_factory=dict)  # id -> application shape, no groups
    groups: dict[str, dict] = field(default_factory=dict)  # id -> application shape
    members: dict[str, set] = field(default_factory=dict)  # group id -> member ids
    versions: dict[str, str] = field(default_factory=dict)  # resource id -> version
    # user id -> {group id: name}: each user's groups as the application API lists them.
    user_groups: dict[str, dict] = field(default_factory=dict)


def _without_groups(user: dict) -> dict:
    return {k: v for k, v in user.items() if k != "groups"}


def fold(events: list[dict], state: State | None = None) -> State:
    """Apply ``events`` in order, as a consumer does; check their seqs increase on the way.

    Nothing is inferred: a deleted user leaves its groups only through the
    ``group.members_removed`` events the store records for it."""
    state = state or State()
    last = 0
    for event in events:
        assert event["seq"] > last, f"seq {event['seq']} after {last}"
        last = event["seq"]
        rid, kind = event["resource"]["id"], event["type"]
        state.versions[rid] = event["resource"]["version"]
        if kind == "user.deleted":
            del state.users[rid], state.versions[rid]
        elif kind.startswith("user."):
            state.users[rid] = _without_groups(event["data"])
        elif kind == "group.deleted":
            del state.groups[rid], state.members[rid], state.versions[rid]
        else:
            state.groups[rid] = event["data"]
            ids = state.members.setdefault(rid, set())
            if kind == "group.members_added":
                ids.update(event["member_ids"])
            elif kind == "group.members_removed":
                ids.difference_update(event["member_ids"])
    return state


def user_groups(state: State) -> dict[str, dict]:
    """User id -> {group id: name}: each user's groups as a folded feed has them (the groups
    whose members include it)."""
    found: dict[str, dict] = {uid: {} for uid in state.users}
    for gid, ids in state.members.items():
        for uid in ids & found.keys():
            found[uid][gid] = state.groups[gid]["name"]
    return found


def held(store, idps: list[str]) -> State:
    """The state ``store`` holds for ``idps`` as the applications see it (changes the
    mass-deprovisioning guard holds left out: ``lifecycle.downstream``), in the application
    shape."""
    store = view(store)
    state = State()
    for idp in idps:
        users = store.query("User", idp)[1]
        groups = store.groups_of_each(idp, [user["id"] for user in users])
        for user in users:
            shaped = shape.user(public(user), idp, groups[user["id"]])
            state.users[user["id"]] = _without_groups(shaped)
            state.user_groups[user["id"]] = {g["id"]: g["name"] for g in shaped["groups"]}
            state.versions[user["id"]] = user["meta"]["version"]
        for group in store.query("Group", idp)[1]:
            state.groups[group["id"]] = shape.group(public(group), idp)
            state.members[group["id"]] = {m["value"] for m in group.get("members", [])}
            state.versions[group["id"]] = group["meta"]["version"]
    return state


def read_feed(store, after: int = 0) -> list[dict]:
    """Every event after ``after``, page by page, as the API reads them."""
    found: list[dict] = []
    while True:
        page, after, more = store.events(after, 1000)
        found += page
        if not more:
            return found


def waiting(store) -> int:
    """How many readers are waiting for an event in ``store`` right now."""
    if isinstance(store, TinyStore):
        return store._feed.waiting
    return store.listener().waiting


def until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)  # polling an observable state, with a deadline
