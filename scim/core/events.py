"""Change events: what the feed records for a write, derived from the resource before and after.

The stores call ``drafts`` inside their write step and persist what it returns with the write
(the same journal line, the same transaction), then ``stamp`` each draft with its ``id``,
``seq``, time, IdP and source. One vocabulary whatever the IdP sends:

- Okta deactivates with ``active: false`` and never deletes; Entra deactivates, then deletes.
  Both record ``user.deactivated``; a DELETE of a user still active records
  ``user.deactivated`` first, then ``user.deleted``, so an app that acts on deactivation alone
  never misses one.
- Okta re-sends whole users (PUT) and Entra re-sends memberships it already set: a write that
  changes nothing records nothing (``unchanged``; the stores then skip the write, so
  ``meta.version`` stays as it was).
- Membership changes name member ids, at most ``CHUNK`` per event, one event per direction and
  write (a group created with members records ``group.created``, then ``group.members_added``).

``data`` is the resource in the application shape (``scim.core.shape``); for a deletion, its last
state. Plain functions over dicts: no web, no storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress
from operator import itemgetter, not_

from scim.core import shape

USER_TYPES = (
    "user.created",
    "user.updated",
    "user.deactivated",
    "user.reactivated",
    "user.deleted",
)
GROUP_TYPES = (
    "group.created",
    "group.updated",
    "group.deleted",
    "group.members_added",
    "group.members_removed",
)
TYPES = frozenset(USER_TYPES + GROUP_TYPES)
# The most member ids one membership event names: a PUT of 100,000 members is 100 events.
CHUNK = 1000
# SCIM attributes that have a field of their own in the application shape (``changed`` names
# the field; any other attribute is named as ``scim.<attribute>``, where ``data`` holds it).
_USER_FIELDS = {
    "userName": "username",
    "externalId": "external_id",
    "active": "active",
    "name": "name",
    "displayName": "display_name",
    "emails": "emails",
}
_GROUP_FIELDS = {"displayName": "name", "externalId": "external_id"}
_value = itemgetter("value")


def unchanged(before: dict, after: dict) -> bool:
    """Whether ``after`` holds exactly what ``before`` holds, ``meta`` aside (a no-op write).

    Members count as unchanged in another order (RFC 7643 §2.4: multi-valued attributes have
    no order; a PUT may list them differently each time). Compared in C where it can be: the
    members a membership PATCH keeps are the stored objects themselves, so a 10,000-member
    group compares by identity."""
    if before.keys() - {"meta"} != after.keys() - {"meta"}:
        return False
    for key, value in before.items():
        if key == "meta" or value == after[key]:
            continue
        if key != "members" or not _same_members(value, after[key]):
            return False
    return True


def _same_members(before: object, after: object) -> bool:
    """Whether two member lists hold the same members, in any order."""
    if not isinstance(before, list) or not isinstance(after, list) or len(before) != len(after):
        return False
    try:
        # The ids first, in C: a membership PATCH that swaps one member for another on a
        # 10,000-member group is told apart here, without building 20,000 tuples.
        if set(map(_value, before)) != set(map(_value, after)):
            return False
        return sorted(map(_member_key, before)) == sorted(map(_member_key, after))
    except (AttributeError, KeyError, TypeError):  # not objects of strings: in order only
        return False


def _member_key(member: dict) -> tuple:
    return tuple(sorted(member.items()))


def public(resource: dict) -> dict:
    """The resource without internal fields (a password hash never leaves the server)."""
    return {k: v for k, v in resource.items() if not k.startswith("_")}


def _active(user: dict) -> bool:
    # RFC 7643 §4.1.1 leaves an absent ``active`` to the server: absent means active.
    return user.get("active") is not False


def _resource(kind: str, resource: dict, version: str | None) -> dict:
    """The event's ``resource``: what it is about, and its version after the change."""
    ref = {
        "type": "user" if kind == "User" else "group",
        "id": resource["id"],
        "version": version or (resource.get("meta") or {}).get("version"),
        "external_id": resource.get("externalId"),
    }
    if kind == "User":
        ref["username"] = resource.get("userName")
    else:
        ref["display_name"] = resource.get("displayName")
    return ref


def changed(kind: str, before: dict, after: dict) -> list[str]:
    """Name what differs between two states of a resource (``meta`` and, for Groups,
    ``members`` aside), as paths into the event's ``data``: the application shape's field
    where it has one, else ``scim.<attribute>`` (an extension's attributes one by one, as
    ``scim.<urn>:<name>``, RFC 7644 §3.10). A new password is ``password``."""
    fields = _USER_FIELDS if kind == "User" else _GROUP_FIELDS
    names = set()
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if key in ("meta", "id", "members") or old == new:
            continue
        if key == "_password":
            names.add("password")
        elif key.startswith("_"):
            continue
        elif key.startswith("urn:") and isinstance(old or {}, dict) and isinstance(new or {}, dict):
            subs = (old or {}).keys() | (new or {}).keys()
            names.update(
                f"scim.{key}:{sub}" for sub in subs if (old or {}).get(sub) != (new or {}).get(sub)
            )
        else:
            names.add(fields.get(key, f"scim.{key}"))
    primary = shape.primary_email
    if "emails" in names and primary(before.get("emails")) != primary(after.get("emails")):
        names.add("primary_email")
    return sorted(names)


def member_values(group: dict | None) -> list:
    """The ``value`` of each member of a Group, in order (gathered in C when all have one)."""
    members = (group or {}).get("members") or ()
    try:
        return list(map(_value, members))
    except (KeyError, TypeError):
        return [m.get("value") for m in members if isinstance(m, dict) and "value" in m]


def member_change(before: dict | None, after: dict | None) -> tuple[list, list]:
    """Return (ids added, ids removed) between two states of a Group, each in list order.

    The stores pass what their write already knows instead (the journal's membership delta):
    this is for writes that replace the members wholesale, and it runs in C all the same."""
    old, new = member_values(before), member_values(after)
    try:
        old_set, new_set = set(old), set(new)
    except TypeError:  # an unhashable value: no id an app can use
        return [], []
    added = compress(new, map(not_, map(old_set.__contains__, new)))
    removed = compress(old, map(not_, map(new_set.__contains__, old)))
    return list(dict.fromkeys(added)), list(dict.fromkeys(removed))


def _chunks(kind: str, ids: list, draft: dict) -> list[dict]:
    return [
        {**draft, "type": kind, "member_ids": ids[at : at + CHUNK]}
        for at in range(0, len(ids), CHUNK)
    ]


def _user_drafts(
    before: dict | None, after: dict | None, idp: str, groups: Sequence, version: str | None
) -> list[dict]:
    if before is None:
        assert after is not None  # a write has a before or an after, never neither
        data = shape.user(public(after), idp, list(groups))
        return [{"type": "user.created", "resource": _resource("User", after, None), "data": data}]
    if after is None:
        last = public(before)
        ref = _resource("User", before, version)
        if not _active(before):
            data = shape.user(last, idp, list(groups))
            return [{"type": "user.deleted", "resource": ref, "data": data}]
        # One vocabulary: a user deleted while active is deactivated first (as Entra does it
        # in two requests), so its last state is an inactive one.
        data = shape.user({**last, "active": False}, idp, list(groups))
        return [
            {"type": "user.deactivated", "resource": ref, "data": data, "changed": ["active"]},
            {"type": "user.deleted", "resource": ref, "data": data},
        ]
    names = changed("User", before, after)
    if not names:
        return []
    was, now = _active(before), _active(after)
    kind = "user.updated" if was == now else "user.reactivated" if now else "user.deactivated"
    data = shape.user(public(after), idp, list(groups))
    ref = _resource("User", after, None)
    return [{"type": kind, "resource": ref, "data": data, "changed": names}]


def _group_drafts(
    before: dict | None,
    after: dict | None,
    idp: str,
    added: list | None,
    removed: list | None,
    version: str | None,
) -> list[dict]:
    current = after if after is not None else before
    assert current is not None  # a write has a before or an after, never neither
    ref = _resource("Group", current, version if after is None else None)
    data = shape.group(public(current), idp)
    if after is None:  # its members go with it: no membership events
        return [{"type": "group.deleted", "resource": ref, "data": data}]
    if added is None or removed is None:
        added, removed = member_change(before, after)
    base = {"resource": ref, "data": data}
    if before is None:
        return [{"type": "group.created", **base}] + _chunks("group.members_added", added, base)
    drafts = []
    names = changed("Group", before, after)
    if not (names or added or removed):
        if unchanged(before, after):
            return []
        names = ["members"]  # the same ids, told apart otherwise (a display name)
    if names:
        drafts.append({"type": "group.updated", **base, "changed": names})
    drafts += _chunks("group.members_removed", list(removed), base)
    drafts += _chunks("group.members_added", list(added), base)
    return drafts


def drafts(
    kind: str,
    before: dict | None,
    after: dict | None,
    idp: str,
    *,
    groups: Sequence[dict] = (),
    added: list | None = None,
    removed: list | None = None,
    version: str | None = None,
) -> list[dict]:
    """Return the events a write of one resource records, in order, without their ``id``,
    ``seq``, time, IdP and source (``stamp`` adds them).

    ``before`` is None for a creation, ``after`` None for a deletion. ``groups``: a User's
    Groups (``id``, ``displayName``) for its ``data``. ``added``/``removed``: a Group's member
    ids the write added and removed, when the store already knows them (else they are worked
    out from the two states). ``version``: a deleted resource's version after the change (a
    new one, so that an app that has seen its last version does not drop the deletion).

    A write that changes nothing (``unchanged``) records nothing; the stores do not make it.
    """
    if kind == "User":
        return _user_drafts(before, after, idp, groups, version)
    return _group_drafts(before, after, idp, added, removed, version)


def removal_drafts(before: dict, after: dict, idp: str, member_id: str) -> list[dict]:
    """Return the events of a Group losing ``member_id`` because that member was deleted, each
    carrying ``was``: the group's ``meta`` before (``lifecycle.membership`` keeps it when the
    deletion is held). ``stamp`` leaves ``was`` out of the event."""
    found = drafts("Group", before, after, idp, added=[], removed=[member_id])
    return [{**draft, "was": before["meta"]} for draft in found]


def stamp(
    draft: dict,
    *,
    id: str,
    seq: int | None,
    occurred_at: str,
    idp: dict | None,
    source: dict | None,
) -> dict:
    """Return the event a draft becomes once stored, its fields in the documented order.

    ``seq`` None leaves it out (PostgreSQL assigns it at commit); ``idp`` is the IdP's
    ``{"id", "name", "kind"}``."""
    event: dict = {"id": id}
    if seq is not None:
        event["seq"] = seq
    event.update(type=draft["type"], occurred_at=occurred_at, idp=idp)
    event.update(resource=draft["resource"], data=draft["data"])
    for optional in ("changed", "member_ids"):
        if optional in draft:
            event[optional] = draft[optional]
    # A write made outside any request (a script on the store) names no source.
    event["source"] = source or {"method": None, "path": None, "request_id": None}
    return event


def idp_ref(idp: str, record: dict | None) -> dict:
    """The event's ``idp``: the IdP's id, name and kind as they were at the time."""
    record = record or {}
    return {"id": idp, "name": record.get("name"), "kind": record.get("kind")}
