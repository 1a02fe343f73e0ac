"""What every console template can use: the CSRF token, the admin, labels and time filters.

Autoescaping is on for every ``.html`` template (Flask's default) and nothing an IdP sends is
ever marked safe: a ``displayName`` of ``<script>`` is shown as text.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, g

from console import hints
from console.security import csrf_token
from providers import KINDS

TOKEN_STATES = {
    "none": "No token",
    "active": "Active",
    "expired": "Expired",
    "revoked": "Revoked",
}


def parse_time(value: str | None) -> datetime | None:
    """Parse an RFC 3339 UTC timestamp as Roster writes them (``…Z``); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(value: str | None) -> str:
    """Return a timestamp as ``2025-01-31 14:05 UTC``, or an em dash when there is none."""
    moment = parse_time(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def ago(value: str | None, now: datetime | None = None) -> str:
    """Return how long ago a timestamp was, in the largest whole unit (``5 min ago``)."""
    moment = parse_time(value)
    if moment is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"  # pragma: no cover - unreachable


def init_app(app: Flask) -> None:
    app.add_template_filter(when)
    app.add_template_filter(ago)
    app.add_template_global(csrf_token)
    app.add_template_global(hints.guide_path, "guide_path")
    app.add_template_global(lambda kind: hints.guide_file(kind) is not None, "guide_exists")

    # Globals, not a context processor: imported macros see globals but not the context.
    app.jinja_env.globals.update(kinds=KINDS, token_states=TOKEN_STATES)

    @app.context_processor
    def console_globals() -> dict:
        # Held changes are announced on every page: they wait for an admin's decision.
        from console.holds import banners

        return {"current_admin": g.get("admin"), "held_banners": banners()}
