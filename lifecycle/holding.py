"""Holding one SCIM write of a user (``lifecycle.screen`` decides to): its events wait in the
``held`` table, the hold counts it, and the ``downstream`` entry keeps the user as the
applications last saw it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from durations import iso
from lifecycle import membership
from scim.core import events as changes
from scim.core import shape

if TYPE_CHECKING:
    from lifecycle.screen import Context

Write = tuple[str, str, dict | None]


def moment(at: datetime) -> str:
    """RFC 3339 UTC with milliseconds, as events' ``occurred_at`` are written."""
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def groups_in(drafts: list[dict]) -> list[dict]:
    """The user's groups (``id``, ``displayName``) as its events' data names them."""
    for draft in drafts:
        if draft["resource"]["type"] == "user":
            return [{"id": g["id"], "displayName": g["name"]} for g in draft["data"]["groups"]]
    return []


def app_view(user: dict, idp: str, groups: list[dict]) -> dict:
    """A user in the application shape, as a ``downstream`` entry keeps it."""
    return shape.user(changes.public(user), idp, groups)


def _what(drafts: list[dict], after: dict | None) -> str:
    if after is None:
        return "deleted"
    types = [d["type"] for d in drafts if d["resource"]["type"] == "user"]
    return types[-1].removeprefix("user.") if types else "updated"


def held_records(
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
