"""Users the applications keep seeing otherwise than their IdP left them, outside a hold: kept
after a deletion under the "deactivate" policy, or ``diverged`` after a discard
(``lifecycle.screen``'s ``downstream`` entries); and what the applications learn when the IdP
writes (or creates) such a user again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from durations import iso
from lifecycle.holding import app_view, groups_in
from scim.core import events as changes
from storage.interface import Store

if TYPE_CHECKING:
    from lifecycle.screen import Context


# A user only the applications still have may be given back by its IdP: kept after a deletion,
# or deleted by the IdP while its change was discarded. (One held is still the hold's.)
ADOPTABLE = ("kept", "diverged")


class Adoptable:
    """The users an IdP may give back, read from the store once for several creates: a /Bulk
    request of thousands of POSTs asks once, not once each (on PostgreSQL a query each).
    ``forget()`` after anything that may change them (a deletion, an adoption): the next
    create reads them again."""

    def __init__(self, store: Store, idp: str):
        self._store, self._idp = store, idp
        self._ids: dict[str, str] | None = None  # casefolded userName -> id

    def id_for(self, new: dict) -> str | None:
        """Return the id to give a User the IdP is creating, when the applications still
        have a user of that IdP with its ``userName`` (case-insensitive, RFC 7643 §4.1.1)
        that the IdP deleted: the IdP is giving it back (re-assigned within the keep period,
        or after a discard), and the applications see it come back (``user.reactivated``)
        rather than a stranger arrive. None otherwise."""
        name = new.get("userName")
        if not isinstance(name, str):
            return None
        if self._ids is None:
            self._ids = {}
            for entry in self._store.records("downstream", _given_back, idp=self._idp):
                known = entry["data"]["scim"]["userName"]
                self._ids.setdefault(known.casefold(), entry["id"])  # the first, as before
        return self._ids.get(name.casefold())

    def forget(self) -> None:
        self._ids = None


def _given_back(entry: dict) -> bool:
    """Whether ``entry`` is a user its IdP deleted that it may create again."""
    if not entry.get("gone") or entry["reason"] not in ADOPTABLE:
        return False
    return isinstance(entry["data"]["scim"].get("userName"), str)


def internal(resource: dict | None) -> dict:
    return {k: v for k, v in (resource or {}).items() if k.startswith("_")}


def redraft(known: dict, after: dict | None, drafts: list[dict], idp: str) -> list[dict]:
    """The events from what the applications saw (``known``) to ``after``: the user's own,
    around the group events the store drafted (those of a deletion)."""
    groups = groups_in(drafts)
    group_drafts = [d for d in drafts if d["resource"]["type"] != "user"]
    version = drafts[-1]["resource"]["version"] if after is None else None
    own = changes.drafts("User", known, after, idp, groups=groups, version=version)
    if after is None and own:
        return own[:-1] + group_drafts + own[-1:]
    return own + group_drafts


def left_groups(context: Context, entry: dict) -> list[dict]:
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


def kept_drafts(drafts: list[dict]) -> tuple[list[dict], str | None]:
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


def kept_entry(context: Context, before: dict, version: str | None) -> dict:
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
