"""``/Groups`` (RFC 7644 §3, RFC 7643 §4.2): members must be Users or Groups of the same IdP;
their ``type`` and ``$ref`` are the server's to set."""

from __future__ import annotations

from collections import deque
from functools import partial
from itertools import repeat
from operator import add, itemgetter, setitem

import orjson
from flask import Blueprint, current_app, g

from scim import rendered, resources
from scim.core import errors
from scim.core.projection import Shown, project
from scim.core.schemas import GROUP_TYPE
from scim.http import encode_json
from scim.resources import Kind, base_url
from storage import get_store

bp = Blueprint("groups", __name__, url_prefix="/Groups")
RENDERED = rendered.Rendered()


def prepare(new: dict, current: dict | None, added: list | None = None) -> dict:
    """Check that new members exist in this IdP and record their type.

    Runs under the store's write lock, so a member cannot vanish between check and write.
    ``added``: the only members that are new objects and not in ``current``, the others being
    the stored group's own (checked when they were added, never modified). A membership PATCH
    passes it, so that adding one member to a group of 10,000 checks one; without it every
    member is checked.
    """
    members = new.get("members", [])
    limit = current_app.config["ROSTER"]["max_members"]
    if len(members) > limit:
        raise errors.InvalidValue(f"A group may have at most {limit} members per request.")
    whole = added is None
    added = members if whole else added
    if not added:
        return new
    stored = (current or {}).get("members", [])
    # Given ``added``, none of them is in ``current`` (membership.apply skips those).
    stored_values = set(map(itemgetter("value"), stored)) if whole else set()
    fresh = [m["value"] for m in added if m["value"] not in stored_values]
    found = get_store().existing_ids(g.idp, fresh)
    missing = [value for value in fresh if value not in found]
    if missing:
        raise errors.InvalidValue(
            f"members: {', '.join(missing[:5])} {'is' if len(missing) == 1 else 'are'} "
            "not a User or Group of this identity provider."
        )
    if current is not None and current["id"] in fresh:
        raise errors.InvalidValue("members: a group cannot be a member of itself.")
    resent = {m["value"] for m in added} & stored_values  # a PUT names the members it keeps
    known = {m["value"]: m.get("type") for m in stored if m["value"] in resent} if resent else {}
    for member in added:
        member["type"] = found.get(member["value"]) or known.get(member["value"]) or "User"
    return new


def decorate(group: dict, shown: Shown) -> dict:
    """Add each member's ``$ref`` (RFC 7643 §4.2), on new member objects; a large group's
    members as JSON rendered ahead (``scim.rendered``)."""
    members = group.get("members")
    if not members or not shown("members"):
        return group
    base = base_url()
    if len(members) < rendered.LEAST or not shown.whole("members"):
        return {**group, "members": _with_refs(members, base)}
    data = RENDERED.members((g.idp, group["id"], base), members, partial(_encode, base))
    if data == b"[]":  # nothing a response may show
        return {k: v for k, v in group.items() if k != "members"}
    return {**group, "members": orjson.Fragment(data)}


def _encode(base: str, members: list) -> bytes:
    """The JSON of ``members`` as a response shows them when they are returned whole."""
    body = project({"members": _with_refs(members, base)}, GROUP_TYPE)
    return encode_json(body.get("members") or [])


def _with_refs(members: list, base: str) -> list:
    """Copies of ``members``, each with its ``$ref``."""
    prefixes = {"User": f"{base}/Users/", "Group": f"{base}/Groups/"}
    try:
        # Copy the members, then set each $ref; map() runs both in C, which matters with
        # 10,000 members to answer for. Every stored member has its type (``prepare``).
        copies = list(map(dict, members))
        kinds = set(map(itemgetter("type"), members))
        prefix = repeat(prefixes[kinds.pop()]) if len(kinds) == 1 else None
        types = prefix or map(prefixes.__getitem__, map(itemgetter("type"), members))
        refs = map(add, types, map(itemgetter("value"), members))
        deque(map(setitem, copies, repeat("$ref"), refs), maxlen=0)
    except (KeyError, TypeError):  # a member without a string value gets no $ref
        copies = [
            {**m, "$ref": prefixes.get(m.get("type"), prefixes["User"]) + m["value"]}
            if isinstance(m.get("value"), str)
            else dict(m)
            for m in members
        ]
    return copies


KIND = Kind(GROUP_TYPE, prepare, decorate)

resources.add_routes(bp, KIND)
