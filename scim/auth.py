"""Bearer-token authentication for a tenant's SCIM endpoints (RFC 7644 §2, RFC 6750)."""

from __future__ import annotations

from flask import request

import tokens
from scim.errors import Unauthorized
from storage import get_store


def bearer_token() -> str | None:
    """Return the bearer token of the request, or None. The scheme is case-insensitive."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(idp: str) -> None:
    """Raise 401 unless the request carries a live token of ``idp``.

    An unknown IdP, a token of another IdP, a revoked token and no token all get the same
    answer, so that a client learns nothing about other tenants.
    """
    token = bearer_token()
    if token is None:
        raise Unauthorized("A bearer token is required (Authorization: Bearer <token>).")
    if not tokens.verify(get_store(), idp, token):
        raise Unauthorized("The bearer token is not valid for this endpoint.")
