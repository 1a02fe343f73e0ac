"""Groups as the applications see them while a user its IdP deleted is held or diverged.

Deleting a user takes it out of its groups in the store, and the ``group.members_removed``
events of that are held with the deletion (``lifecycle.screen``). Until they reach the
applications (Apply), or for good (Discard: the user is ``diverged``), the applications keep
seeing each of those groups as they last learned it. Two things keep the change feed and the
application API (``lifecycle.downstream``) telling the same story:

- ``downstream_groups`` (key: group id): ``{"id", "idp", "meta"}``, the group's ``meta`` as the
  applications last saw it (its version and time), written when a held deletion first rewrites
  the group behind their back, and dropped as soon as an event about the group reaches them.
- Every group event that reaches the applications counts, in ``member_count``, the members they
  still see in it (the held or diverged deleted users), not only those the store holds. A
  deleted user is in no group of the store (the store takes it out of all of them, and a write
  cannot name a member that does not exist), so those members simply add up.
"""

from __future__ import annotations

from scim.core import shape
from scim.core.events import public
from storage.interface import Store

TABLE = "downstream_groups"
# The reasons a deleted user's entry keeps it in its groups for the applications.
RESTORES_MEMBERSHIP = ("held", "diverged")
Write = tuple[str, str, dict | None]


def restored(entries: list[dict]) -> dict[str, list[dict]]:
    """Group id -> the members the applications still see in it that the IdP deleted (its
    deletion took them out of their groups), from ``downstream`` entries."""
    found: dict[str, list[dict]] = {}
    for entry in entries:
        if not entry.get("gone") or entry["reason"] not in RESTORES_MEMBERSHIP:
            continue
        member = {"value": entry["id"], "type": "User"}
        if entry["data"].get("display_name"):
            member["display"] = entry["data"]["display_name"]
        for group in entry["data"]["groups"]:
            found.setdefault(group["id"], []).append(member)
    return found


def _groups_named(drafts: list[dict]) -> list[str]:
    return list(dict.fromkeys(d["resource"]["id"] for d in drafts if _is_group(d)))


def _is_group(draft: dict) -> bool:
    return draft["resource"]["type"] == "group"


def left(drafts: list[dict]) -> list[dict]:
    """The groups (``id``, ``name``, as a user's application shape lists them) a deleted
    user's deletion took it out of, from its drafts."""
    found = {}
    for draft in drafts:
        if _is_group(draft) and "was" in draft:
            gid = draft["resource"]["id"]
            found[gid] = {"id": gid, "name": draft["resource"]["display_name"]}
    return list(found.values())


def held(store: Store, idp: str, drafts: list[dict]) -> list[Write]:
    """The record writes that go with holding ``drafts`` (before they are stamped): the
    ``meta`` the applications last saw of each group they rewrite, unless an earlier held
    change already keeps it (the applications have not seen the group since)."""
    writes: list[Write] = []
    for draft in drafts:
        gid = draft["resource"]["id"]
        if not _is_group(draft) or "was" not in draft or any(w[1] == gid for w in writes):
            continue
        if store.get_record(TABLE, gid) is None:
            writes.append((TABLE, gid, {"id": gid, "idp": idp, "meta": draft["was"]}))
    return writes


def told(
    store: Store, idp: str, events: list[dict], writes: list[Write]
) -> tuple[list[dict], list[Write]]:
    """Return ``events`` (drafts, or held events being released) as the applications are to
    get them, and ``writes`` with what their telling changes.

    Each group event counts the members the applications still see in the group, as ``writes``
    (the step's own record writes) leave the ``downstream`` entries; each group named is
    seen afresh, so the ``meta`` kept of it goes."""
    gids = _groups_named(events)
    if not gids:
        return events, writes
    entries = {e["id"]: e for e in store.records("downstream", idp=idp)}
    if not entries and not any(table == "downstream" for table, _, _ in writes):
        # The common case: nothing differs downstream, so no group is kept as it was either
        # (its ``meta`` is kept only beside a held user's entry, and goes no later than it).
        return events, writes
    for table, key, doc in writes:
        if table != "downstream":
            continue
        if doc is None:
            entries.pop(key, None)
        else:
            entries[key] = doc
    extra = restored(list(entries.values()))
    out = []
    for event in events:
        more = len(extra.get(event["resource"]["id"], ())) if _is_group(event) else 0
        if more and event["type"] != "group.deleted":
            data = {**event["data"], "member_count": event["data"]["member_count"] + more}
            event = {**event, "data": data}
        out.append(event)
    kept = {r["id"] for r in store.records(TABLE, lambda r: r["idp"] == idp)}
    return out, [*writes, *((TABLE, gid, None) for gid in gids if gid in kept)]


def released(store: Store, idp: str, events: list[dict]) -> list[dict]:
    """Return held ``events`` as they reach the applications now (Apply): a group event names
    the group as it is now (a later change of it may have reached them meanwhile, and the
    fold of the feed must not go back to an older version); one of a group deleted meanwhile
    is left out (its deletion reached them, which is the last word about it)."""
    current = store.get_each("Group", idp, _groups_named(events))
    out = []
    for event in events:
        doc = current.get(event["resource"]["id"]) if _is_group(event) else None
        if doc is not None:
            resource = {
                **event["resource"],
                "version": doc["meta"]["version"],
                "external_id": doc.get("externalId"),
                "display_name": doc.get("displayName"),
            }
            event = {**event, "resource": resource, "data": shape.group(public(doc), idp)}
        if doc is not None or not _is_group(event):
            out.append(event)
    return out
