"""Console sessions kept on the server, so that signing out really ends one.

The cookie (Flask's signed session, see ``security``) names the admin and carries a random
session id. The admin's record keeps, under ``sessions``, the SHA-256 digest of each live id
with the time it signed in. A request counts as signed in only while its id's digest is there
and younger than ``SESSION_LIFETIME``: signing out removes the entry, changing a password
keeps only the session that changed it, deleting the admin drops them all. A copy of the
cookie is worth nothing after any of these, and neither is the CSRF token it carries
(``security`` empties a session that is no longer live before it checks a form).

Digests, not ids, are stored, so that the store and its backups hold no usable session. Each
sign-in drops the admin's expired entries and keeps the newest ``MAX_SESSIONS``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import timedelta

import storage

SESSION_LIFETIME = timedelta(hours=12)
MAX_SESSIONS = 20


def digest(sid: str) -> str:
    """Return the form in which a session id is stored."""
    return hashlib.sha256(sid.encode()).hexdigest()


def _fresh(entries: dict, now: float) -> dict:
    limit = SESSION_LIFETIME.total_seconds()
    return {k: since for k, since in entries.items() if now - since <= limit}


def start(store: storage.Store, key: str) -> str | None:
    """Record a new session of the admin ``key``; return its id, or None if there is no such
    admin (deleted since the password was checked)."""
    sid = secrets.token_urlsafe(32)
    now = time.time()  # not rounded: the newest sessions are told apart by it

    def add(record: dict) -> dict:
        entries = _fresh(record.get("sessions", {}), now)
        entries[digest(sid)] = now
        newest = sorted(entries.items(), key=lambda item: item[1])[-MAX_SESSIONS:]
        return {**record, "sessions": dict(newest)}

    return sid if store.update_record("admins", key, add) is not None else None


def end(store: storage.Store, key: str, sid: str) -> None:
    """Forget one session of the admin ``key`` (nothing happens if it is already gone)."""
    gone = digest(sid)

    def drop(record: dict) -> dict:
        entries = record.get("sessions", {})
        return {**record, "sessions": {k: v for k, v in entries.items() if k != gone}}

    store.update_record("admins", key, drop)


def live_count(entries: dict) -> int:
    """Return how many of these session entries have not expired."""
    return len(_fresh(entries, time.time()))


def is_live(record: dict, sid: object) -> bool:
    """Return whether ``sid`` is a session of this admin that has not ended or expired."""
    if not isinstance(sid, str):
        return False
    since = record.get("sessions", {}).get(digest(sid))
    return (
        isinstance(since, int | float) and time.time() - since <= SESSION_LIFETIME.total_seconds()
    )
