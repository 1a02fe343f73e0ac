"""Standard Webhooks signatures: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.

The signed content is ``{id}.{timestamp}.{body}`` with the exact bytes sent as body; the key is
the secret's base64 part decoded (the ``whsec_`` prefix only says what it is). Every attempt is
signed again with its own timestamp, so receivers can refuse old replays. Plain functions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import orjson

PREFIX = "whsec_"
# 24 random bytes: 192 bits, within the spec's 24 to 64.
SECRET_BYTES = 24


def new_secret() -> str:
    """Return a fresh signing secret, ``whsec_`` and base64 of random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def key_of(secret: str) -> bytes:
    """Return the HMAC key a secret stands for: its base64 part, decoded."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def body(event: dict) -> bytes:
    """Return the payload sent for ``event``: ``{"type", "timestamp", "data"}``."""
    return orjson.dumps({"type": event["type"], "timestamp": event["occurred_at"], "data": event})


def signature(secret: str, msg_id: str, timestamp: int, payload: bytes) -> str:
    """Return ``v1,<base64 HMAC-SHA256>`` of ``{id}.{timestamp}.{body}`` under ``secret``."""
    content = f"{msg_id}.{timestamp}.".encode() + payload
    digest = hmac.new(key_of(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets_: list[str], msg_id: str, timestamp: int, payload: bytes) -> dict[str, str]:
    """Return the three headers of one attempt; several secrets (a rotation) sign side by side,
    space-separated, so a receiver holding either one accepts it."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, payload) for s in secrets_),
    }
