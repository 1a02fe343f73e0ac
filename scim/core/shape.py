"""The application shape: Users and Groups as the apps behind Roster read them.

SCIM's wire format serves identity providers; the apps that rely on Roster want something
flatter and stable (snake_case names, one primary email, a user's groups by id and name). The
application API answers in this shape, and each change-feed event carries the resource in it,
so a consumer reads one vocabulary whether it polls, follows the feed or reads a page.

Plain functions over dicts: no web, no storage.
"""

from __future__ import annotations

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _meta(resource: dict) -> dict:
    meta = resource.get("meta") or {}
    return {"created": meta.get("created"), "updated": meta.get("lastModified")}


def public(resource: dict) -> dict:
    """Return ``resource`` without its internal fields: those starting with "_" (a password
    hash) never leave the server, here as in SCIM answers (``scim.resources.render``)."""
    if not any(key.startswith("_") for key in resource):
        return resource
    return {k: v for k, v in resource.items() if not k.startswith("_")}


def primary_email(emails: list | None) -> str | None:
    """Return the primary email's value, else the first one's (RFC 7643 §2.4: at most one
    value of a multi-valued attribute is primary)."""
    values = [e for e in emails or () if isinstance(e, dict) and e.get("value")]
    for email in values:
        if email.get("primary") is True:
            return email["value"]
    return values[0]["value"] if values else None


def user(resource: dict, idp: str, groups: list[dict]) -> dict:
    """Return a stored SCIM User in the application shape.

    ``groups`` are the Groups the user belongs to (each with ``id`` and ``displayName``), as
    ``Store.groups_of`` returns them. ``active`` is true unless the IdP set it false: RFC 7643
    §4.1.1 leaves its absence to the service provider, and a user an IdP created without it is
    one it means to be active.
    """
    name = resource.get("name") or {}
    emails = resource.get("emails") or []
    return {
        "id": resource["id"],
        "idp": idp,
        "external_id": resource.get("externalId"),
        "username": resource.get("userName"),
        "active": resource.get("active") is not False,
        "name": {
            "given": name.get("givenName"),
            "family": name.get("familyName"),
            "formatted": name.get("formatted"),
        },
        "display_name": resource.get("displayName"),
        "primary_email": primary_email(emails),
        "emails": [
            {"value": e.get("value"), "type": e.get("type"), "primary": e.get("primary") is True}
            for e in emails
            if isinstance(e, dict)
        ],
        "groups": [{"id": g["id"], "name": g.get("displayName")} for g in groups],
        **_meta(resource),
        "scim": public(resource),
    }


def group(resource: dict, idp: str) -> dict:
    """Return a stored SCIM Group in the application shape, without its members.

    A group may have 100,000 members: they are read page by page (``/groups/{id}/members``),
    and the feed reports their changes as ``group.members_added`` / ``group.members_removed``
    events. ``scim`` is the SCIM resource without ``members`` for the same reason.
    """
    members = resource.get("members") or []
    return {
        "id": resource["id"],
        "idp": idp,
        "external_id": resource.get("externalId"),
        "name": resource.get("displayName"),
        "member_count": len(members),
        **_meta(resource),
        "scim": {k: v for k, v in public(resource).items() if k != "members"},
    }
