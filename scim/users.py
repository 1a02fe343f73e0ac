"""``/Users`` (RFC 7644 §3, RFC 7643 §4.1): the User-specific rules on top of
``scim.resources``: passwords are hashed, ``groups`` is derived from group membership."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from flask import Blueprint, g

from scim import resources
from scim.core.attributes import last_name
from scim.core.projection import Shown
from scim.core.schemas import ENTERPRISE_USER_URN, USER_TYPE
from scim.resources import Kind, base_url
from storage import get_store
from tokens.passwords import hash_password

bp = Blueprint("users", __name__, url_prefix="/Users")


def seal(new: dict, hashes: dict[str, str] | None = None) -> dict:
    """Hash a new password into the internal ``_password`` (RFC 7643 §4.1.1: writeOnly).

    POST and PUT call it before taking the store's lock (scrypt takes tens of milliseconds).
    ``hashes``: passwords already hashed, by plain text (a PATCH's, see ``seal_operations``).
    """
    password = new.pop("password", None)
    if password is not None:
        known = (hashes or {}).get(password) if isinstance(password, str) else None
        new["_password"] = known or hash_password(password)
    return new


# A PATCH's passwords, hashed per request before the lock; more than this are hashed under it.
_PRESEALED = 4


def seal_operations(operations: list[dict]) -> Callable[[dict], dict]:
    """Hash, before the store's lock is taken, the passwords a PATCH may set; return the seal
    of the patched user.

    Which operation sets the password is only known inside the lock, once they are applied to
    the stored user (RFC 7644 §3.5.2); hashing there held every writer of every IdP back for
    the length of a scrypt. So every string a ``password`` path or key carries is hashed here,
    and the seal returned takes the hash of the one that was set."""
    found: list[object] = []
    for operation in operations:
        value, path = operation.get("value"), operation.get("path")
        if path is not None:
            found += [value] if last_name(path) == "password" else []
        elif isinstance(value, dict):
            found += [v for k, v in value.items() if last_name(k) == "password"]
    found = [plain for plain in found if isinstance(plain, str)]
    hashes = {plain: hash_password(plain) for plain in dict.fromkeys(found[:_PRESEALED])}
    return partial(seal, hashes=hashes)


def decorate(user: dict, shown: Shown) -> dict:
    """Add ``groups``, derived from membership (RFC 7643 §4.1.2: readOnly), and the manager's
    ``$ref``, on a new dict."""
    base = base_url()
    user = dict(user)
    enterprise = user.get(ENTERPRISE_USER_URN) or {}
    manager = enterprise.get("manager")
    if manager and manager.get("value"):
        # RFC 7643 §4.3: manager.$ref is the URI of the manager's User resource. Like members'
        # $ref, it is computed from value (scim.core.models drops the client's).
        manager = {**manager, "$ref": f"{base}/Users/{manager['value']}"}
        user[ENTERPRISE_USER_URN] = {**enterprise, "manager": manager}
    groups = _groups_of(user["id"]) if shown("groups") else []
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


def prefetch(users: list[dict], shown: Shown) -> None:
    """Look up the groups of a page of users at once (one query on PostgreSQL, not one per
    user), for ``decorate`` to find."""
    if shown("groups") and len(users) > 1:
        g.user_groups = get_store().groups_of_each(g.idp, [user["id"] for user in users])


def created(user: dict) -> None:
    """A User just created belongs to no Group yet: ``decorate`` asks the store nothing (on
    PostgreSQL, one query less per POST)."""
    g.user_groups = {user["id"]: []}


def _groups_of(user_id: str) -> list[dict]:
    prefetched = g.get("user_groups")
    if prefetched is not None and user_id in prefetched:
        return prefetched[user_id]
    return get_store().groups_of(g.idp, user_id)


KIND = Kind(
    USER_TYPE,
    decorate=decorate,
    seal=seal,
    seal_operations=seal_operations,
    prefetch=prefetch,
    created=created,
)

resources.add_routes(bp, KIND)
