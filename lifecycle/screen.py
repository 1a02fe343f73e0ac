"""What a SCIM write of a user does downstream: the screen the store runs inside the write.

The store answers the IdP with what the IdP did, always (its SCIM view never lies to it, so it
never sees an error or retries). What the applications learn (the change feed, the application
API) is decided here, under the store's write lock, in the same step as the write
(``Store.create``/``update``/``delete`` take it as ``screen``):

- A deletion under the "deactivate" policy records ``user.deactivated`` now and keeps the user
  for the applications (a ``kept`` entry of the ``downstream`` table) until ``purge`` records
  ``user.deleted``.
- Each deactivation or deletion counts in the guard's window (``lifecycle.guard``). Once the IdP
  crosses its threshold, a hold opens: this write and every later deactivation or deletion of
  that IdP, and every later write of a user already held, record no event. Their events wait
  in the ``held`` table, in order, and the applications keep seeing each user as it was (a
  ``held`` entry of the ``downstream`` table). ``lifecycle.holds`` applies or discards them.
- A user whose held changes were discarded is ``diverged``: the applications still see it as
  it was. When the IdP writes it again the mark clears, and the events recorded are those from
  what the applications saw to what the IdP now says.

Records written here (all in the write's own step):

- ``guard`` (key: IdP id): the guard's window (``lifecycle.guard``) and ``hold``, the open one.
- ``holds`` (key: hold id): ``{"id", "idp", "state": "open" | "applied" | "discarded", "opened",
  "before", "baseline", "first_at", "last_at", "changes", "users", "closed", "closed_by"}``.
- ``held`` (key: ``<hold>-<n>``): one held write, ``{"hold", "idp", "n", "at", "user_id",
  "username", "what", "events", "gone", "kept"}``: its events stamped without a seq.
- ``downstream`` (key: user id): ``{"id", "idp", "reason": "held" | "diverged" | "kept",
  "hold", "data", "gone", "since", "purge_at"}``: the user as the applications see it
  (``data``, the application shape) while that differs from what the store holds, and
  whether the IdP deleted it (``gone``).
- ``downstream_groups`` (key: group id): the groups a held deletion took a member out of, as
  the applications last saw them (``lifecycle.membership``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property, partial

from durations import iso
from lifecycle import guard, membership, policy
from lifecycle.policy import Policy
from scim.core import events as changes
from scim.core import shape
from scim.core.filter import AttrPath, Compare
from storage.interface import Store

DEPROVISIONING = ("user.deactivated", "user.deleted")
_INACTIVE = Compare(AttrPath(None, "active"), "eq", False)
Write = tuple[str, str, dict | None]


@dataclass(frozen=True)
class Context:
    """What a screen knows besides the write: the store (read under the write's lock), the
    IdP, its policy, the time and the request that writes."""

    store: Store
    idp: str
    now: datetime
    source: dict | None

    @cached_property
    def policy(self) -> Policy:
        # Read when a deletion or a deactivation needs it, not on every write: most writes
        # (every create) never do, and on PostgreSQL the read is a round trip of its own.
        return policy.of(self.store.get_record("idps", self.idp))


def moment(at: datetime) -> str:
    """RFC 3339 UTC with milliseconds, as events' ``occurred_at`` are written."""
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def for_request(store: Store, idp: str, now: datetime, source: dict | None) -> Callable:
    """Return the screen of one SCIM write of ``idp``: ``screen(kind, before, after, drafts)``
    returns ``(drafts to record, record writes)``."""
    context = Context(store, idp, now, source)
    return lambda kind, before, after, drafts: screen(context, kind, before, after, drafts)


# A user only the applications still have may be given back by its IdP: kept after a deletion,
# or deleted by the IdP while its change was discarded. (One held is still the hold's.)
ADOPTABLE = ("kept", "diverged")


def adoptable(store: Store, idp: str, new: dict) -> str | None:
    """Return the id to give a User the IdP is creating, when the applications still have a
    user of that IdP with its ``userName`` (case-insensitive, RFC 7643 §4.1.1) that the IdP
    deleted: the IdP is giving it back (re-assigned within the keep period, or after a
    discard), and the applications see it come back (``user.reactivated``) rather than a
    stranger arrive. None otherwise."""
    name = new.get("userName")
    if not isinstance(name, str):
        return None
    wanted = name.casefold()

    def same(entry: dict) -> bool:
        if entry["idp"] != idp or not entry.get("gone") or entry["reason"] not in ADOPTABLE:
            return False
        known = entry["data"]["scim"].get("userName")
        return isinstance(known, str) and known.casefold() == wanted

    found = store.records("downstream", same)
    return found[0]["id"] if found else None


def groups_in(drafts: list[dict]) -> list[dict]:
    """The user's groups (``id``, ``displayName``) as its events' data names them."""
    for draft in drafts:
        if draft["resource"]["type"] == "user":
            return [{"id": g["id"], "displayName": g["name"]} for g in draft["data"]["groups"]]
    return []


def app_view(user: dict, idp: str, groups: list[dict]) -> dict:
    """A user in the application shape, as a ``downstream`` entry keeps it."""
    return shape.user(changes.public(user), idp, groups)


def screen(
    context: Context, kind: str, before: dict | None, after: dict | None, drafts: list[dict]
) -> tuple[list[dict], list[Write]]:
    """Decide what the applications learn of one write; see the module's docstring."""
    drafts, writes = _decide(context, kind, before, after, drafts)
    # The groups they learn of are told with the members they still see in them.
    return membership.told(context.store, context.idp, drafts, writes)


def _decide(
    context: Context, kind: str, before: dict | None, after: dict | None, drafts: list[dict]
) -> tuple[list[dict], list[Write]]:
    user = after or before
    if kind != "User" or not drafts or user is None:
        return drafts, []
    store, uid = context.store, user["id"]
    entry = store.get_record("downstream", uid)
    writes: list[Write] = []
    if entry is not None and entry["reason"] in ADOPTABLE:
        # The IdP writes the user again (or creates it again: ``adoptable``): the mark
        # clears, and the applications learn the change from what they saw.
        known = {**entry["data"]["scim"], **_internal(before)}
        drafts = _redraft(known, after, drafts, context.idp) + _left_groups(context, entry)
        writes.append(("downstream", uid, None))
        before, entry = known, None
        if not drafts:
            return [], writes
    kept = None
    if after is None and before is not None and context.policy.on_delete == "deactivate":
        drafts, version = _kept_drafts(drafts)
        kept = _kept_entry(context, before, version)
    held = entry is not None and entry["reason"] == "held"
    deprovisioning = after is None or any(d["type"] in DEPROVISIONING for d in drafts)
    hold = store.get_record("holds", entry["hold"]) if entry is not None and held else None
    if deprovisioning and not held:
        state = store.get_record("guard", context.idp)
        hold_id = (state or {}).get("hold")
        active = partial(_active, store, context.idp, uid, before)
        verdict = guard.deprovision(state, uid, context.now, context.policy, active)
        if hold_id is not None:
            hold = store.get_record("holds", hold_id)
        elif verdict.crossed:
            hold_id = f"h{uuid.uuid4().hex[:10]}"
            hold = _new_hold(context, hold_id, verdict)
        writes.append(
            ("guard", context.idp, {**verdict.state, "idp": context.idp, "hold": hold_id})
        )
    if hold is None or before is None:  # a user that did not exist is never held
        if kept is not None:
            writes.append(("downstream", uid, kept))
        return drafts, writes
    writes += _hold(context, hold, entry, before, after, drafts, kept)
    return [], writes


def _internal(resource: dict | None) -> dict:
    return {k: v for k, v in (resource or {}).items() if k.startswith("_")}


def _redraft(known: dict, after: dict | None, drafts: list[dict], idp: str) -> list[dict]:
    """The events from what the applications saw (``known``) to ``after``: the user's own,
    around the group events the store drafted (those of a deletion)."""
    groups = groups_in(drafts)
    group_drafts = [d for d in drafts if d["resource"]["type"] != "user"]
    version = drafts[-1]["resource"]["version"] if after is None else None
    own = changes.drafts("User", known, after, idp, groups=groups, version=version)
    if after is None and own:
        return own[:-1] + group_drafts + own[-1:]
    return own + group_drafts


def _left_groups(context: Context, entry: dict) -> list[dict]:
    """The ``group.members_removed`` events the applications never got for a user the IdP
    deleted after a discard (they kept it in its groups): its memberships end now, unless a
    group has it again."""
    if not entry.get("gone") or entry["reason"] != "diverged":
        return []
    ids = [g["id"] for g in entry["data"]["groups"]]
    found = context.store.get_each("Group", context.idp, ids)
    member = {"value": entry["id"], "type": "User"}
    drafts = []
    for group in found.values():
        if any(m.get("value") == entry["id"] for m in group.get("members") or ()):
            continue
        was = {**group, "members": [*(group.get("members") or []), member]}
        drafts += changes.drafts("Group", was, group, context.idp, added=[], removed=[entry["id"]])
    return drafts


def _kept_drafts(drafts: list[dict]) -> tuple[list[dict], str | None]:
    """The events of a deletion under the "deactivate" policy: without ``user.deleted``, and
    its ``user.deactivated`` (if the user was active) showing the version it gives the user
    (RFC 7644 §3.14: a new one), as the application API then does; return them and it."""
    version = None
    kept = []
    for draft in drafts:
        if draft["type"] == "user.deleted":
            continue
        if draft["type"] == "user.deactivated":
            version = draft["resource"]["version"]
            scim = draft["data"]["scim"]
            scim = {**scim, "meta": {**scim.get("meta", {}), "version": version}}
            draft = {**draft, "data": {**draft["data"], "scim": scim}}
        kept.append(draft)
    return kept, version


def _kept_entry(context: Context, before: dict, version: str | None) -> dict:
    """The ``downstream`` entry of a user deleted under the "deactivate" policy: inactive, in
    no group (its memberships ended with the deletion), at ``version`` (that of its
    ``user.deactivated``; None: the user was inactive already, and keeps its own), until
    ``purge_at``."""
    last = {**changes.public(before), "active": False}
    if version is not None:
        last["meta"] = {**last["meta"], "version": version}
    return {
        "id": before["id"],
        "idp": context.idp,
        "reason": "kept",
        "hold": None,
        "data": app_view(last, context.idp, []),
        "gone": True,
        "since": iso(context.now),
        "purge_at": iso(context.now + timedelta(days=context.policy.keep_days)),
    }


def _active(store: Store, idp: str, uid: str, before: dict | None) -> int:
    """How many users of ``idp`` were active just before this write of ``before``'s user (RFC
    7643 §4.1.1: all but those set false). Whether the store shows the write yet depends on
    the backend (PostgreSQL has made it in the transaction), so the user counts as ``before``
    says, whatever the store shows of it."""
    inactive, _ = store.query("User", idp, filter=_INACTIVE, count=0)
    active = store.count("User", idp) - inactive
    shown = store.get("User", idp, uid)
    if shown is not None and shown.get("active") is not False:
        active -= 1
    return active + (before is not None and before.get("active") is not False)


def _new_hold(context: Context, hold_id: str, verdict: guard.Verdict) -> dict:
    return {
        "id": hold_id,
        "idp": context.idp,
        "state": "open",
        "opened": iso(context.now),
        # Deprovisionings of the window that reached the applications before it crossed.
        "before": verdict.count - 1,
        "baseline": verdict.baseline,
        "first_at": iso(context.now - verdict.span),
        "last_at": iso(context.now),
        "changes": 0,
        "users": 0,
        "closed": None,
        "closed_by": None,
    }


def _what(drafts: list[dict], after: dict | None) -> str:
    if after is None:
        return "deleted"
    types = [d["type"] for d in drafts if d["resource"]["type"] == "user"]
    return types[-1].removeprefix("user.") if types else "updated"


def _hold(
    context: Context,
    hold: dict,
    entry: dict | None,
    before: dict,
    after: dict | None,
    drafts: list[dict],
    kept: dict | None,
) -> list[Write]:
    """The records that hold one write: the change, the hold's counts, the user as the
    applications keep seeing it."""
    store, uid, hold_id = context.store, before["id"], hold["id"]
    n = hold["changes"] + 1
    ref = changes.idp_ref(context.idp, store.get_record("idps", context.idp))
    at = moment(context.now)
    stamped = [
        changes.stamp(
            d, id=str(uuid.uuid4()), seq=None, occurred_at=at, idp=ref, source=context.source
        )
        for d in drafts
    ]
    change = {
        "hold": hold_id,
        "idp": context.idp,
        "n": n,
        "at": iso(context.now),
        "user_id": uid,
        "username": (after or before).get("userName"),
        "what": _what(drafts, after),
        "events": stamped,
        "gone": after is None,
        "kept": kept,
    }
    new_user = entry is None
    if entry is None:
        entry = {
            "id": uid,
            "idp": context.idp,
            "reason": "held",
            "hold": hold_id,
            "data": app_view(before, context.idp, groups_in(drafts)),
            "since": iso(context.now),
            "purge_at": None,
        }
    if after is None:
        # Its deletion took it out of these groups; the applications still see it in them.
        entry = {**entry, "data": {**entry["data"], "groups": membership.left(drafts)}}
    hold = {
        **hold,
        "changes": n,
        "users": hold["users"] + (1 if new_user else 0),
        "last_at": iso(context.now),
    }
    return [
        ("held", f"{hold_id}-{n:08d}", change),
        ("holds", hold_id, hold),
        ("downstream", uid, {**entry, "gone": after is None}),
        # The groups its deletion rewrote stay, for the applications, as they saw them.
        *membership.held(store, context.idp, drafts),
    ]
