"""Webhook endpoints: the records of the ``webhooks`` table.

A record holds the URL, a description, the event types and IdPs it wants (empty: all), whether
it is enabled (and, when Roster disabled it, why), its signing secrets, and the delivery state
the worker keeps: ``cursor`` (every event up to it is delivered, dead-lettered or queued in
``webhook_deliveries``; past it, a delivery may be settled already), ``failing_since``, the
``lease`` of the process delivering it, and ``replays`` (how many times an admin's "Replay
from" started a new pass over the log).

Secrets are kept as they are shown (``whsec_…``), because every attempt is signed with them: a
digest could not sign. See SECURITY.md for what protects them. A rotation keeps the old secret
signing beside the new one until ``expires``.
"""

from __future__ import annotations

import time
import uuid

from scim.core.events import TYPES
from storage.interface import Store
from webhooks import signing, urls

TABLE = "webhooks"
DELIVERIES = "webhook_deliveries"
# Event types an endpoint may ask for: the feed's, and the one "Send test event" sends.
TEST_TYPE = "webhook.test"


class BadEndpoint(ValueError):
    """What an admin asked for cannot be stored; the message says why."""


class NotFound(LookupError):
    """No endpoint with that id."""


def add(
    store: Store,
    url: str,
    *,
    allow_private: bool,
    description: str = "",
    types: list[str] = (),
    idps: list[str] = (),
) -> tuple[dict, str]:
    """Create an enabled endpoint that starts with the next event; return it and its secret."""
    url = url.strip()
    try:
        urls.check(url, allow_private)
    except urls.UnsafeURL as exc:
        raise BadEndpoint(str(exc)) from None
    unknown = sorted(set(types) - TYPES)
    if unknown:
        raise BadEndpoint(f"unknown event type {unknown[0]!r} (known: {', '.join(sorted(TYPES))})")
    for idp in idps:
        if store.get_record("idps", idp) is None:
            raise BadEndpoint(f"no identity provider with id {idp!r}")
    secret = signing.new_secret()
    record = {
        "id": uuid.uuid4().hex[:12],
        "url": url,
        "description": description.strip()[:200],
        "types": sorted(set(types)),
        "idps": sorted(set(idps)),
        "enabled": True,
        "disabled_reason": None,
        "secrets": [{"secret": secret, "expires": None}],
        "created": time.time(),
        # A new endpoint hears of what happens from now on; "Replay from" reaches back.
        "cursor": store.last_seq(),
        "failing_since": None,
        "lease": None,
        "requeue": 0,
        "replay_from": None,
        "replays": 0,
    }
    store.put_record(TABLE, record["id"], record)
    return record, secret


def get(store: Store, endpoint_id: str) -> dict:
    """Return the endpoint, or raise NotFound."""
    record = store.get_record(TABLE, endpoint_id)
    if record is None:
        raise NotFound(f"no webhook with id {endpoint_id!r} (see 'webhook list')")
    return record


def listing(store: Store) -> list[dict]:
    """Return every endpoint, oldest first."""
    return sorted(store.records(TABLE), key=lambda r: r["created"])


def public(record: dict) -> dict:
    """The endpoint as the CLI and console show it: never a secret."""
    hidden = {"secrets", "lease"}
    shown = {k: v for k, v in record.items() if k not in hidden}
    shown["secrets"] = len(record["secrets"])
    return shown


def change(store: Store, endpoint_id: str, edit) -> dict:
    """Apply ``edit(record) -> record`` in one step; return the result or raise NotFound."""
    record = store.update_record(TABLE, endpoint_id, edit)
    if record is None:
        raise NotFound(f"no webhook with id {endpoint_id!r} (see 'webhook list')")
    return record


def set_enabled(store: Store, endpoint_id: str, enabled: bool, reason: str | None = None) -> dict:
    """Enable or disable an endpoint; ``reason`` says why Roster disabled it (the banner)."""

    def edit(record: dict) -> dict:
        record["enabled"] = enabled
        record["disabled_reason"] = None if enabled else reason
        if enabled:
            record["failing_since"] = None
        return record

    return change(store, endpoint_id, edit)


def acknowledge(store: Store, endpoint_id: str) -> dict:
    """Note that an admin has seen why Roster disabled the endpoint (the banner goes)."""

    def edit(record: dict) -> dict:
        record["noticed"] = True
        return record

    return change(store, endpoint_id, edit)


def rotate(store: Store, endpoint_id: str, grace_seconds: float) -> tuple[dict, str]:
    """Give the endpoint a new secret; the current ones keep signing for ``grace_seconds``."""
    secret = signing.new_secret()
    until = time.time() + grace_seconds

    def edit(record: dict) -> dict:
        old = [
            {"secret": s["secret"], "expires": min(until, s["expires"] or until)}
            for s in live(record)
        ]
        record["secrets"] = [{"secret": secret, "expires": None}, *old]
        return record

    return change(store, endpoint_id, edit), secret


def live(record: dict, now: float | None = None) -> list[dict]:
    """Return the endpoint's secrets that still sign, the newest first."""
    now = time.time() if now is None else now
    return [s for s in record["secrets"] if s["expires"] is None or s["expires"] > now]


def delete(store: Store, endpoint_id: str) -> None:
    """Delete an endpoint and its delivery log."""
    if not store.delete_record(TABLE, endpoint_id):
        raise NotFound(f"no webhook with id {endpoint_id!r} (see 'webhook list')")
    for record in store.records(DELIVERIES, lambda r: r["endpoint"] == endpoint_id):
        store.delete_record(DELIVERIES, record["key"])


def wants(record: dict, event: dict) -> bool:
    """Whether the endpoint asked for this event (its types and IdPs; empty means all)."""
    idp = (event.get("idp") or {}).get("id")
    return (not record["types"] or event["type"] in record["types"]) and (
        not record["idps"] or idp in record["idps"]
    )
