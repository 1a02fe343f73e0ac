"""The time Roster goes by for tokens, grace periods, the guard's window and kept users.

An app reads it from ``app.extensions["roster.clock"]``, a function returning an aware
``datetime``; tests put a fake one there (``set_clock``) and move it, so that a grace period
ends without anyone waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, current_app, has_app_context

_EXTENSION = "roster.clock"


def system() -> datetime:
    """Return the real current time, in UTC."""
    return datetime.now(UTC)


def set_clock(app: Flask, clock: Callable[[], datetime]) -> None:
    """Make ``clock`` the time ``app`` goes by."""
    app.extensions[_EXTENSION] = clock


def now(app: Flask | None = None) -> datetime:
    """Return the current time of ``app`` (else of the current app, else the real one)."""
    if app is None and has_app_context():
        app = current_app._get_current_object()
    clock = app.extensions.get(_EXTENSION, system) if app is not None else system
    return clock()
