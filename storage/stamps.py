"""What a store writes into ``meta`` (RFC 7643 §3.1): timestamps and version stamps, the same
for every backend; and the change feed's retention cut-off, in the same time format."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta


def now(moment: datetime | None = None) -> str:
    """Return the current time (or ``moment``) as RFC 3339 UTC with milliseconds (RFC 7643
    §2.3.5)."""
    moment = moment or datetime.now(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_version() -> str:
    """Return a new ``meta.version``: RFC 7644 §3.14, a weak entity tag that changes on every
    write."""
    return f'W/"{uuid.uuid4().hex[:16]}"'


def cutoff(retention: timedelta) -> str:
    """The ``occurred_at`` up to which change events are past ``retention``."""
    return now(datetime.now(UTC) - retention)


def stamp(kind: str, data: dict, created: str | None = None) -> dict:
    """Set ``data["meta"]`` for a write of ``data`` happening now, and return ``data``.

    ``created`` is kept from the stored resource on an update (None on a create)."""
    moment = now()
    data["meta"] = {
        "resourceType": kind,
        "created": created or moment,
        "lastModified": moment,
        "version": new_version(),
    }
    return data
