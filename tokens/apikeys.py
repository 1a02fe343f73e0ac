"""API keys: what an application presents to read ``/api/v1/`` (the application API and the
change feed).

A key is ``roster_key_`` followed by 256 random bits; like a provisioning token, only its
SHA-256 digest is stored, as the key of its record in the ``apikeys`` table:
``{"digest", "id", "name", "prefix", "created", "last_used", "revoked"}``. ``id`` is a short
public handle for listing and revoking; it reveals nothing of the key. A key opens only
``/api/v1/``; a provisioning token never does (its prefix differs and it lives in another
table), and a key never opens SCIM.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from storage.interface import Store
from tokens import TOUCH_EVERY, _iso, _now, digest

PREFIX = "roster_key_"
NAME_MAX = 100


class BadName(ValueError):
    """The key's name is empty, too long or holds control characters."""


def check_name(name: str) -> str:
    """Return ``name`` stripped, or raise BadName saying why it cannot name a key."""
    name = (name or "").strip()
    if not name:
        raise BadName("A name is required.")
    if len(name) > NAME_MAX:
        raise BadName(f"A name has at most {NAME_MAX} characters.")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise BadName("A name cannot hold control characters.")
    return name


def issue(store: Store, name: str) -> tuple[dict, str]:
    """Create a key named ``name``; return its record and the plaintext (show it once)."""
    key = PREFIX + secrets.token_urlsafe(32)
    key_digest = digest(key)
    record = {
        "digest": key_digest,
        "id": secrets.token_hex(6),
        "name": check_name(name),
        "prefix": key[: len(PREFIX) + 4],
        "created": _iso(_now()),
        "last_used": None,
        "revoked": None,
    }
    store.put_record("apikeys", key_digest, record)
    return record, key


def keys(store: Store, *, live_only: bool = False) -> list[dict]:
    """Return the key records (never a plaintext), newest first."""
    found = store.records("apikeys", lambda r: r["revoked"] is None or not live_only)
    return sorted(found, key=lambda r: r["created"], reverse=True)


def revoke(store: Store, key_id: str) -> dict | None:
    """Revoke the key whose public ``id`` is ``key_id``; return its record, or None if there
    is no live key with that id."""
    for record in keys(store, live_only=True):
        if hmac.compare_digest(record["id"], key_id):
            return store.update_record(
                "apikeys", record["digest"], lambda cur: {**cur, "revoked": _iso(_now())}
            )
    return None


def verify(store: Store, key: str) -> dict | None:
    """Return the record of ``key`` if it is a live API key, else None; note its last use.

    The lookup is by digest (no scan) and the comparison that decides is constant-time."""
    if not key.startswith(PREFIX):
        return None
    wanted = digest(key)
    record = store.get_record("apikeys", wanted)
    if record is None or record["revoked"] is not None:
        return None
    if not hmac.compare_digest(record["digest"], wanted):
        return None
    moment = _now()
    last = record["last_used"]
    if last is None or moment - datetime.fromisoformat(last.replace("Z", "+00:00")) >= TOUCH_EVERY:
        store.update_record(
            "apikeys", record["digest"], lambda cur: {**cur, "last_used": _iso(moment)}
        )
    return record
