"""Holds: what an admin does with deprovisionings the guard held (``lifecycle.screen`` writes
them), and the end of kept users.

- ``apply`` releases a hold's events to the change feed in their original order; the
  applications then see each user as the IdP left it.
- ``discard`` drops them: the applications keep seeing the users as they were, and each is
  marked ``diverged`` from its IdP until the IdP writes it again.
- ``purge`` deletes, for the applications, the users kept under the "deactivate" policy whose
  time is up (``user.deleted``).

Each runs in one step of the store (``Store.commit``), holding the IdP's writers back, so that
a SCIM write of that IdP lands wholly before or after it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from durations import iso, parse_iso, say
from lifecycle import membership
from lifecycle.holding import moment
from scim.core import events as changes
from storage.interface import Store

Write = tuple[str, str, dict | None]


class HoldError(ValueError):
    """There is no open hold with this id; the message says so."""


def holds(store: Store, *, open_only: bool = False) -> list[dict]:
    """Return the holds, newest first (only the open ones with ``open_only``)."""
    found = store.records("holds", lambda r: r["state"] == "open" or not open_only)
    return sorted(found, key=lambda r: r["opened"], reverse=True)


def changes_of(store: Store, hold_id: str) -> list[dict]:
    """Return a hold's held changes in their original order."""
    return sorted(store.records("held", lambda r: r["hold"] == hold_id), key=lambda r: r["n"])


def headline(hold: dict, idp_name: str) -> str:
    """The banner's sentence: ``Okta deactivated or deleted 60 of 100 users in 3 minutes: 50
    changes held for your review.``"""
    users = hold["before"] + hold["users"]
    span = parse_iso(hold["last_at"]) - parse_iso(hold["first_at"])
    minutes = max(1, round(span.total_seconds() / 60))
    of = f" of {hold['baseline']:,}" if hold.get("baseline") else ""
    held = f"{hold['changes']:,} change{'s' if hold['changes'] != 1 else ''}"
    return (
        f"{idp_name} deactivated or deleted {users:,}{of} users in"
        f" {say(timedelta(minutes=minutes))}: {held} held for your review."
    )


def audit_detail(hold: dict, idp_name: str) -> str:
    """What the audit trail says of an applied or discarded hold (console and CLI alike)."""
    return f"{idp_name}: {hold['changes']:,} held changes of {hold['users']:,} users"


def _get(store: Store, hold_id: str) -> dict:
    hold = store.get_record("holds", hold_id)
    if hold is None:
        raise HoldError(f"there is no hold with id {hold_id!r} (see 'hold list')")
    return hold


def _open(store: Store, hold_id: str) -> dict:
    hold = _get(store, hold_id)
    if hold["state"] != "open":
        raise HoldError(f"hold {hold_id} was {hold['state']} {hold['closed']}: it is not open")
    return hold


def _close(store: Store, hold: dict, state: str, now: datetime, who: str) -> list[Write]:
    """The writes that close ``hold``: its state, and the guard's window starts afresh."""
    guard_state = store.get_record("guard", hold["idp"]) or {}
    fresh = {"acts": [], "baseline": None, "baseline_at": None, "idp": hold["idp"], "hold": None}
    writes: list[Write] = [("holds", hold["id"], {**hold, "state": state,
                           "closed": iso(now), "closed_by": who})]  # fmt: skip
    if guard_state.get("hold") == hold["id"]:
        writes.append(("guard", hold["idp"], fresh))
    return writes


def _last_per_user(held: list[dict]) -> dict[str, dict]:
    last: dict[str, dict] = {}
    for change in held:
        last[change["user_id"]] = change
    return last


def apply(store: Store, hold_id: str, now: datetime, who: str) -> dict:
    """Release the hold's events to the feed, in their original order; return the hold.

    Raises HoldError when there is no open hold with this id (nothing is written)."""
    idp = _open(store, hold_id)["idp"]

    def work() -> tuple[list[Write], list[dict]]:
        hold = _open(store, hold_id)  # again, under the lock: it may have closed meanwhile
        held = changes_of(store, hold_id)
        writes: list[Write] = [("held", _key(c), None) for c in held]
        for uid, change in _last_per_user(held).items():
            writes.append(("downstream", uid, change["kept"]))
        events = [event for change in held for event in change["events"]]
        events = membership.released(store, idp, events)
        # The groups they rewrote are seen afresh, with the members other holds still keep.
        events, writes = membership.told(store, idp, events, writes)
        return writes + _close(store, hold, "applied", now, who), events

    store.commit(idp, work)
    return _get(store, hold_id)


def discard(store: Store, hold_id: str, now: datetime, who: str) -> dict:
    """Drop the hold's events: the applications keep the users as they were, each marked
    diverged from its IdP (unless the IdP's state came back to it meanwhile); return the hold.

    Raises HoldError when there is no open hold with this id (nothing is written)."""
    idp = _open(store, hold_id)["idp"]

    def work() -> tuple[list[Write], list[dict]]:
        hold = _open(store, hold_id)
        held = changes_of(store, hold_id)
        writes: list[Write] = [("held", _key(c), None) for c in held]
        for uid in _last_per_user(held):
            entry = store.get_record("downstream", uid)
            if entry is None:  # the user's entry went with it: nothing to mark
                continue
            current = store.get("User", idp, uid)
            if current is not None and changes.unchanged(
                entry["data"]["scim"], changes.public(current)
            ):
                writes.append(("downstream", uid, None))  # the IdP undid it itself
            else:
                diverged = {**entry, "reason": "diverged", "since": iso(now)}
                writes.append(("downstream", uid, diverged))
        return writes + _close(store, hold, "discarded", now, who), []

    store.commit(idp, work)
    return _get(store, hold_id)


def _key(change: dict) -> str:
    return f"{change['hold']}-{change['n']:08d}"


def diverged(store: Store, idp: str | None = None) -> list[dict]:
    """Return the users marked diverged from their IdP (of ``idp`` only, if given)."""
    return store.records(
        "downstream",
        lambda r: r["reason"] == "diverged" and (idp is None or r["idp"] == idp),
    )


def _due(store: Store, now: datetime, idp: str | None = None) -> list[dict]:
    """The kept users whose time is up (of ``idp`` only, if given)."""

    def due(entry: dict) -> bool:
        if entry["reason"] != "kept" or (idp is not None and entry["idp"] != idp):
            return False
        return parse_iso(entry["purge_at"]) <= now

    return store.records("downstream", due)


# How often requests look for kept users whose time is up.
PURGE_EVERY = timedelta(minutes=1)


def purge_now_and_then(store: Store, now: datetime, memory: dict) -> int:
    """``purge`` at most once per ``PURGE_EVERY`` (``memory``: where the app keeps when it
    last did); return how many users it deleted."""
    due = memory.get("roster.next_purge")
    if due is not None and now < due:
        return 0
    memory["roster.next_purge"] = now + PURGE_EVERY
    return purge(store, now)


def purge(store: Store, now: datetime) -> int:
    """Delete, for the applications, every kept user whose time is up: record
    ``user.deleted``; return how many."""
    done = 0
    for idp in sorted({entry["idp"] for entry in _due(store, now)}):

        def work(idp: str = idp) -> tuple[list[Write], list[dict]]:
            entries = _due(store, now, idp)  # again, under the lock
            nonlocal done
            done += len(entries)
            events = [event for e in entries for event in _deleted(store, e, now)]
            return [("downstream", e["id"], None) for e in entries], events

        store.commit(idp, work)
    return done


def _new_version() -> str:
    # RFC 7644 §3.14: the deletion is a new version of the user, as the stores write them.
    return f'W/"{uuid.uuid4().hex[:16]}"'


def _deleted(store: Store, entry: dict, now: datetime, source: dict | None = None) -> list:
    """The events of deleting, for the applications, a user the store no longer holds (kept,
    or held or discarded after the IdP deleted it), stamped without seq: ``user.deleted``,
    after ``user.deactivated`` if the applications saw it active."""
    ref = changes.idp_ref(entry["idp"], store.get_record("idps", entry["idp"]))
    source = source or {"method": "PURGE", "path": None, "request_id": None}
    drafts = changes.drafts(
        "User", entry["data"]["scim"], None, entry["idp"], version=_new_version()
    )
    return [
        changes.stamp(
            draft, id=str(uuid.uuid4()), seq=None, occurred_at=moment(now), idp=ref, source=source
        )
        for draft in drafts
    ]


def forget(store: Store, idp: str, now: datetime, source: dict | None = None) -> int:
    """Before an IdP is deleted: record the deletion of the users only the applications still
    have (kept, or deleted by the IdP while held or after a discard); return how many. The
    store's ``delete_idp`` then deletes the rest, and every record naming the IdP."""
    count = 0

    def work() -> tuple[list[Write], list[dict]]:
        nonlocal count
        ghosts = store.records("downstream", lambda r: bool(r.get("gone")), idp=idp)
        count = len(ghosts)
        events = [event for entry in ghosts for event in _deleted(store, entry, now, source)]
        return [("downstream", entry["id"], None) for entry in ghosts], events

    store.commit(idp, work)
    return count
