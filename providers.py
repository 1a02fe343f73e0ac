"""Identity providers: the tenants of Roster. Shared by the CLI and the console."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import storage
import tokens
from lifecycle import holds
from lifecycle.policy import Policy

KINDS = {
    "jumpcloud": "JumpCloud",
    "okta": "Okta",
    "entra": "Microsoft Entra ID",
    "onelogin": "OneLogin",
    "google": "Google Workspace",
    "pingfederate": "PingFederate",
    "generic": "Generic SCIM client",
}


def endpoint(values: dict, idp: str) -> str:
    """Return the SCIM Service Provider Endpoint the admin pastes into the IdP."""
    public = values["public_url"] or f"http://{values['host']}:{values['port']}"
    return f"{public}/scim/v2/{idp}"


def summary(store: storage.Store, record: dict, now: datetime | None = None) -> dict:
    """Return an IdP's row: id, name, kind, synchronized counts, token state and what to warn
    about its tokens (one about to stop, an old one still in use)."""
    now = now or datetime.now(UTC)
    history = tokens.tokens_of(store, record["id"])
    return {
        "id": record["id"],
        "name": record["name"],
        "kind": record["kind"],
        "users": store.count("User", record["id"]),
        "groups": store.count("Group", record["id"]),
        "token": tokens.state(store, record["id"], now),
        "token_warnings": tokens.warnings(history, now),
    }


# Held from the name check to the write, so that two requests of this process (a form sent
# twice) cannot both create one name. Processes sharing a PostgreSQL database do not share it.
_NAMING = threading.Lock()


def create_idp(store: storage.Store, name: str, kind: str) -> dict:
    """Create an IdP record; names are unique (case-insensitive) so admins can tell them apart."""
    name = name.strip()
    if not name:
        raise ValueError("the name must not be empty")
    record = {
        "id": uuid.uuid4().hex[:12],
        "name": name,
        "kind": kind,
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    with _NAMING:
        if store.records("idps", lambda r: r["name"].casefold() == name.casefold()):
            raise ValueError(f"an identity provider named {name!r} already exists")
        store.put_record("idps", record["id"], record)
    return record


def update_idp(store: storage.Store, idp: str, name: str, kind: str) -> dict | None:
    """Rename an IdP or change its kind; return the record, or None if there is no such IdP."""
    name = name.strip()
    if not name:
        raise ValueError("the name must not be empty")
    with _NAMING:
        if store.records(
            "idps", lambda r: r["id"] != idp and r["name"].casefold() == name.casefold()
        ):
            raise ValueError(f"an identity provider named {name!r} already exists")
        return store.update_record("idps", idp, lambda r: {**r, "name": name, "kind": kind})


def set_policy(store: storage.Store, idp: str, policy: Policy) -> dict | None:
    """Save an IdP's deprovisioning policy; return the record, or None if there is no such
    IdP."""
    return store.update_record("idps", idp, lambda r: {**r, "deprovisioning": policy.to_record()})


def delete_idp(
    store: storage.Store, idp: str, source: dict | None = None, now: datetime | None = None
) -> None:
    """Delete the IdP, its tokens, everything it provisioned and its request log.

    ``source``: what asked for it, for the change events of the deletion (a console request;
    the CLI's is ``{"method": "CLI", ...}``)."""
    # The users only the applications still have (kept or held) are deleted for them first.
    holds.forget(store, idp, now or datetime.now(UTC), source)
    store.delete_idp(idp, source=source)
    storage.get_request_log().forget(idp)
