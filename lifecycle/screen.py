"""What a SCIM write of a user does downstream: the screen the store runs inside the write.

The store answers the IdP with what the IdP did, always (its SCIM view never lies to it, so it
never sees an error or retries). What the applications learn (the change feed, the application
API) is decided here, under the store's write lock, in the same step as the write
(``Store.create``/``update``/``delete`` take it as ``screen``):

- A deletion under the "deactivate" policy records ``user.deactivated`` now and keeps the user
  for the applications (a ``kept`` entry of the ``downstream`` table, ``lifecycle.kept``) until
  ``purge`` records ``user.deleted``.
- Each deactivation or deletion counts in the guard's window (``lifecycle.guard``). Once the IdP
  crosses its threshold, a hold opens: this write and every later deactivation or deletion of
  that IdP, and every later write of a user already held, record no event. Their events wait
  in the ``held`` table, in order, and the applications keep seeing each user as it was (a
  ``held`` entry of the ``downstream`` table: ``lifecycle.holding``). ``lifecycle.holds``
  applies or discards them.
- A user whose held changes were discarded is ``diverged``: the applications still see it as
  it was. When the IdP writes it again the mark clears, and the events recorded are those from
  what the applications saw to what the IdP now says (``lifecycle.kept``).

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
from datetime import datetime
from functools import cached_property, partial

from durations import iso
from lifecycle import guard, holding, kept, membership, policy
from lifecycle.policy import Policy
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


def for_request(store: Store, idp: str, now: datetime, source: dict | None) -> Callable:
    """Return the screen of one SCIM write of ``idp``: ``screen(kind, before, after, drafts)``
    returns ``(drafts to record, record writes)``."""
    context = Context(store, idp, now, source)
    return lambda kind, before, after, drafts: screen(context, kind, before, after, drafts)


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
    if entry is not None and entry["reason"] in kept.ADOPTABLE:
        # The IdP writes the user again (or creates it again: ``kept.Adoptable``): the mark
        # clears, and the applications learn the change from what they saw.
        known = {**entry["data"]["scim"], **kept.internal(before)}
        drafts = kept.redraft(known, after, drafts, context.idp)
        drafts += kept.left_groups(context, entry)
        writes.append(("downstream", uid, None))
        before, entry = known, None
        if not drafts:
            return [], writes
    keep = None
    if after is None and before is not None and context.policy.on_delete == "deactivate":
        drafts, version = kept.kept_drafts(drafts)
        keep = kept.kept_entry(context, before, version)
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
        if keep is not None:
            writes.append(("downstream", uid, keep))
        return drafts, writes
    writes += holding.held_records(context, hold, entry, before, after, drafts, keep)
    return [], writes


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
