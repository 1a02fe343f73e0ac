"""``/Users`` (RFC 7644 §3, RFC 7643 §4.1): the User-specific rules on top of
``scim.resources``: passwords are hashed, ``groups`` is derived from group membership."""

from __future__ import annotations

from flask import Blueprint, g

from scim import resources
from scim.projection import Shown
from scim.resources import Kind, base_url
from scim.schemas import ENTERPRISE_USER_URN, USER_TYPE
from storage import get_store
from tokens.passwords import hash_password

bp = Blueprint("users", __name__, url_prefix="/Users")


def seal(new: dict) -> dict:
    """Hash a new password into the internal ``_password`` (RFC 7643 §4.1.1: writeOnly).

    POST and PUT call it before taking the store's lock (scrypt takes tens of milliseconds);
    PATCH learns the password only inside the lock, through ``prepare``."""
    password = new.pop("password", None)
    if password is not None:
        new["_password"] = hash_password(password)
    return new


def prepare(new: dict, current: dict | None, added: list | None = None) -> dict:
    """Hash a password a PATCH set (POST and PUT bodies arrive sealed)."""
    return seal(new)


def decorate(user: dict, shown: Shown) -> dict:
    """Add ``groups``, derived from membership (RFC 7643 §4.1.2: readOnly), and the manager's
    ``$ref``, on a new dict."""
    base = base_url()
    user = dict(user)
    enterprise = user.get(ENTERPRISE_USER_URN) or {}
    manager = enterprise.get("manager")
    if manager and manager.get("value"):
        # RFC 7643 §4.3: manager.$ref is the URI of the manager's User resource. Like members'
        # $ref, it is computed from value (scim.models drops the client's).
        manager = {**manager, "$ref": f"{base}/Users/{manager['value']}"}
        user[ENTERPRISE_USER_URN] = {**enterprise, "manager": manager}
    groups = get_store().groups_of(g.idp, user["id"]) if shown("groups") else []
    if groups:
        user["groups"] = [
            {
                "value": group["id"],
                "$ref": f"{base}/Groups/{group['id']}",
                "display": group["displayName"],
                "type": "direct",
            }
            for group in groups
        ]
    return user


KIND = Kind(USER_TYPE, prepare, decorate, seal)

resources.add_routes(bp, KIND)
