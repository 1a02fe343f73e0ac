"""Helpers for console tests: read a page's CSRF token and submit its form as a browser would."""

from __future__ import annotations

import re

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(response) -> str:
    """Return the CSRF token of a console page's first form."""
    match = _CSRF.search(response.get_data(as_text=True))
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def submit(client, path: str, data: dict | None = None, *, page: str | None = None):
    """GET ``page`` (default: ``path``) for its CSRF token, then POST ``data`` to ``path``."""
    token = csrf_of(client.get(page or path))
    return client.post(path, data={"csrf_token": token, **(data or {})})


def text(response) -> str:
    return response.get_data(as_text=True)


def seed(store, idp: str, count: int, prefix: str = "user") -> None:
    """Store ``count`` users ``<prefix>-000@example.com``…, every fourth one inactive."""
    for i in range(count):
        store.create(
            "User",
            idp,
            {
                "schemas": [CORE_USER],
                "userName": f"{prefix}-{i:03d}@example.com",
                "name": {"givenName": "Given", "familyName": f"Family{i:03d}"},
                "emails": [{"value": f"{prefix}.{i:03d}@mail.example", "primary": True}],
                "active": i % 4 != 0,
            },
        )
