"""``/Groups`` (RFC 7644 §3, RFC 7643 §4.2): members must be Users or Groups of the same IdP;
their ``type`` and ``$ref`` are the server's to set."""

from __future__ import annotations

from flask import Blueprint, current_app, g

from scim import errors, resources
from scim.resources import Kind, base_url
from scim.schemas import GROUP_TYPE
from storage import get_store

bp = Blueprint("groups", __name__, url_prefix="/Groups")


def prepare(new: dict, current: dict | None) -> dict:
    """Check that new members exist in this IdP and record their type.

    Runs under the store's write lock, so a member cannot vanish between check and write.
    """
    members = new.get("members", [])
    limit = current_app.config["ROSTER"]["max_members"]
    if len(members) > limit:
        raise errors.InvalidValue(f"A group may have at most {limit} members per request.")
    known = {m["value"]: m.get("type") for m in (current or {}).get("members", [])}
    fresh = [m["value"] for m in members if m["value"] not in known]
    found = get_store().existing_ids(g.idp, fresh)
    missing = [value for value in fresh if value not in found]
    if missing:
        raise errors.InvalidValue(
            f"members: {', '.join(missing[:5])} {'is' if len(missing) == 1 else 'are'} "
            "not a User or Group of this identity provider."
        )
    if current is not None and current["id"] in fresh:
        raise errors.InvalidValue("members: a group cannot be a member of itself.")
    for member in members:
        member["type"] = found.get(member["value"]) or known.get(member["value"]) or "User"
    return new


def decorate(group: dict) -> dict:
    """Add each member's ``$ref`` (RFC 7643 §4.2)."""
    base = base_url()
    for member in group.get("members", []):
        member["$ref"] = f"{base}/{member.get('type', 'User')}s/{member['value']}"
    return group


KIND = Kind(GROUP_TYPE, prepare, decorate)

resources.add_routes(bp, KIND)
