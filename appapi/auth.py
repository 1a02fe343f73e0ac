"""API-key authentication for ``/api/v1/`` (RFC 6750 bearer tokens).

Only an API key opens the application API: a provisioning token is refused like an unknown
key, and a console session cookie is never read here. Failures count against the client
address in the same throttle as failed provisioning tokens, so guessing at either costs the
same.
"""

from __future__ import annotations

from flask import current_app, g, request

from appapi.problems import Problem
from storage import get_store
from throttle import for_app
from tokens import apikeys

WINDOW = 60.0
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="Roster API"'}


def _bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def require_key() -> None:
    """Refuse the request with 401 (or 429 after too many failures) unless it carries a live
    API key; remember the key's record in ``g.api_key``.

    A live key is always served, whatever failed before it from the same address (an
    attacker behind the same NAT or proxy must not lock an application out); failures alone
    are throttled."""
    key = _bearer()
    record = apikeys.verify(get_store(), key) if key else None
    if record is not None:
        g.api_key = record
        return
    limit = current_app.config["ROSTER"]["auth_failures_per_minute"]
    throttle = for_app(current_app.extensions, "roster.auth_throttle", limit, WINDOW)
    client = request.remote_addr or "unknown"
    wait = throttle.retry_after(client)
    if wait:
        raise Problem(
            429,
            f"Too many failed authentications from this address; retry in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    throttle.fail(client)
    raise Problem(
        401, "A valid API key is required (Authorization: Bearer <key>).", headers=CHALLENGE
    )
