"""Bearer-token authentication for a tenant's SCIM endpoints (RFC 7644 §2, RFC 6750)."""

from __future__ import annotations

from flask import current_app, g, request

import clock
import tokens
from scim.core.errors import TooManyRequests, Unauthorized
from storage import get_store
from throttle import Throttle, for_app

# Failed attempts allowed per client address in this many seconds, before 429.
WINDOW = 60.0


def bearer_token() -> str | None:
    """Return the bearer token of the request, or None. The scheme is case-insensitive."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _throttle() -> Throttle:
    limit = current_app.config["ROSTER"]["auth_failures_per_minute"]
    return for_app(current_app.extensions, "roster.auth_throttle", limit, WINDOW)


def authenticate(idp: str) -> None:
    """Raise 401 unless the request carries a live token of ``idp``.

    An unknown IdP, a token of another IdP, a revoked or expired token and no token all get
    the same answer, so that a client learns nothing about other tenants. A live token is
    always served, whatever failed before it from the same address: behind a NAT or a reverse
    proxy, an attacker and the real IdP may share one, and the attacker's guesses must not
    lock the IdP out. Failures alone are throttled: an address that keeps failing gets 429
    instead of 401 (a 256-bit token is not guessable; the throttle only keeps a scanner
    cheap to answer and visible in the logs).
    """
    client = request.remote_addr or "unknown"
    token = bearer_token()
    if token is not None and tokens.verify(get_store(), idp, token, now=clock.now()):
        g.authenticated_idp = idp  # a live token: its IdP exists (deleting one deletes its tokens)
        return
    throttle = _throttle()
    wait = throttle.retry_after(client)
    if wait:
        raise TooManyRequests(
            f"Too many failed authentications from this address; retry in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    throttle.fail(client)
    if token is None:
        raise Unauthorized("A bearer token is required (Authorization: Bearer <token>).")
    raise Unauthorized("The bearer token is not valid for this endpoint.")
