"""What a store writes into ``meta`` (RFC 7643 §3.1): timestamps and version stamps, the same
for every backend."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def now() -> str:
    """Return the current time as RFC 3339 UTC with milliseconds (RFC 7643 §2.3.5)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stamp(kind: str, data: dict, created: str | None = None) -> dict:
    """Set ``data["meta"]`` for a write of ``data`` happening now, and return ``data``.

    ``created`` is kept from the stored resource on an update (None on a create)."""
    moment = now()
    data["meta"] = {
        "resourceType": kind,
        "created": created or moment,
        "lastModified": moment,
        # RFC 7644 §3.14: a weak entity tag that changes on every write.
        "version": f'W/"{uuid.uuid4().hex[:16]}"',
    }
    return data
