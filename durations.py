"""Durations as admins type them (``90m``, ``24h``, ``7d``, ``2w``) and as pages say them.

Shared by the CLI and the console, so that both accept and refuse the same text. Plain
functions: no web, no storage.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import overload

UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NAMES = {"m": "minute", "h": "hour", "d": "day", "w": "week"}
_SHAPE = re.compile(r"(\d{1,6})\s*([mhdw])")


class BadDuration(ValueError):
    """The text is not a duration, or not one allowed where it was given."""


def parse(text: str, *, least: timedelta, most: timedelta) -> timedelta:
    """Return the duration ``text`` names (a whole number and a unit: m, h, d or w), or raise
    BadDuration saying what is accepted."""
    match = _SHAPE.fullmatch((text or "").strip().lower())
    if match is None:
        raise BadDuration(
            f"{text!r} is not a duration: give a whole number and a unit, like 90m, 24h, 7d or 2w"
        )
    value = timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])
    if not least <= value <= most:
        raise BadDuration(f"{text!r} is out of range: give from {say(least)} to {say(most)}")
    return value


def say(value: timedelta) -> str:
    """Return ``value`` as people say it: ``90 minutes``, ``24 hours``, ``7 days``."""
    seconds = int(value.total_seconds())
    for unit, least in (("d", 2 * UNITS["d"]), ("h", UNITS["h"]), ("m", UNITS["m"])):
        size = UNITS[unit]
        if seconds >= least and seconds % size == 0:
            count = seconds // size
            return f"{count} {_NAMES[unit]}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def until(moment: datetime, now: datetime) -> str:
    """Return how long from ``now`` to ``moment``, in the largest unit it fills (``in 5
    hours``), or ``now`` when it has passed."""
    seconds = (moment - now).total_seconds()
    if seconds <= 0:
        return "now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = int(seconds // size)
            return f"in {count} {unit}{'s' if count != 1 else ''}"
    return "in less than a minute"


def iso(moment: datetime) -> str:
    """Return ``moment`` as RFC 3339 UTC to the second (``2025-01-31T14:05:00Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@overload
def parse_iso(value: str) -> datetime: ...
@overload
def parse_iso(value: None) -> None: ...
@overload
def parse_iso(value: str | None) -> datetime | None: ...


def parse_iso(value: str | None) -> datetime | None:
    """Return the moment an RFC 3339 UTC timestamp names, or None for None."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
