"""Per-IdP provisioning tokens: issue, hash, verify, revoke.

A token is ``roster_scim_`` followed by 256 random bits (``secrets``); the prefix lets secret
scanners recognise a leaked one. Only its SHA-256 digest is stored, as the key of its record,
so verifying finds it without scanning and without the plaintext ever touching the disk. A
fast hash is right here (unlike for passwords): the token is random, not guessable.

Records live in the store's ``tokens`` table under their digest:
``{"digest", "idp", "prefix", "created", "last_used", "revoked"}``. Several records may name
one IdP; today issuing a new token revokes the others at once (two live tokens for rotation can
come later without changing the record).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from storage.errors import StoreUnavailable
from storage.interface import Store

PREFIX = "roster_scim_"
# Provisioning tokens and API keys (tokens/apikeys.py) alike, so neither is ever written down.
_SHAPE = re.compile(r"(roster_scim_|roster_key_)[A-Za-z0-9_-]+")
# Persist "last used" at most this often per token, so that every read does not become a write.
TOUCH_EVERY = timedelta(seconds=60)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def redact(text: str) -> str:
    """Return ``text`` with anything shaped like a token replaced, for logs and error messages.

    A client may put its token where it does not belong (a URL, a User-Agent, a body); the
    prefix makes it recognisable, so it is never written down or echoed back."""
    return _SHAPE.sub(r"\1[redacted]", text)


def digest(token: str) -> str:
    """Return the hex SHA-256 digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue(store: Store, idp: str) -> str:
    """Create a token for ``idp``, revoke its previous ones at once, and return the plaintext.

    The plaintext exists only in the return value: show it once."""
    token = PREFIX + secrets.token_urlsafe(32)  # 32 bytes = 256 bits
    revoke(store, idp)
    key = digest(token)
    record = {
        "digest": key,
        "idp": idp,
        "prefix": token[: len(PREFIX) + 4],
        "created": _iso(_now()),
        "last_used": None,
        "revoked": None,
    }
    store.put_record("tokens", key, record)
    return token


def revoke(store: Store, idp: str) -> int:
    """Revoke every live token of ``idp``; return how many were live."""
    live = tokens_of(store, idp, live_only=True)
    for record in live:
        store.update_record(
            "tokens", record["digest"], lambda cur: {**cur, "revoked": _iso(_now())}
        )
    return len(live)


def tokens_of(store: Store, idp: str, *, live_only: bool = False) -> list[dict]:
    """Return the token records of ``idp`` (never a plaintext), newest first."""
    found = store.records(
        "tokens", lambda r: r["idp"] == idp and (r["revoked"] is None or not live_only)
    )
    return sorted(found, key=lambda r: r["created"], reverse=True)


def state(store: Store, idp: str) -> str:
    """Return ``"active"``, ``"revoked"`` or ``"none"`` for the console and the CLI."""
    records = tokens_of(store, idp)
    if any(r["revoked"] is None for r in records):
        return "active"
    return "revoked" if records else "none"


def verify(store: Store, idp: str, token: str) -> bool:
    """Return whether ``token`` is a live token of ``idp``; record when it was last used.

    The lookup is by digest (no scan); the comparisons that decide are constant-time, and a
    token of another IdP is refused exactly like an unknown one.
    """
    if not token.startswith(PREFIX):
        return False
    key = digest(token)
    record = store.get_record("tokens", key)
    if record is None or record["revoked"] is not None:
        return False
    same_idp = hmac.compare_digest(record["idp"].encode(), idp.encode("utf-8", "surrogatepass"))
    if not (hmac.compare_digest(record["digest"], key) and same_idp):
        return False
    _touch(store, record)
    return True


def _touch(store: Store, record: dict) -> None:
    moment = _now()
    last = record["last_used"]
    if last is None or moment - datetime.fromisoformat(last.replace("Z", "+00:00")) >= TOUCH_EVERY:
        # "Last used" is a hint: a read must keep working while the disk is full or read-only
        # (writes are refused then, and say so themselves).
        with contextlib.suppress(StoreUnavailable):
            # Read-modify-write in one step, so that a revocation made meanwhile is kept.
            store.update_record(
                "tokens", record["digest"], lambda cur: {**cur, "last_used": _iso(moment)}
            )
