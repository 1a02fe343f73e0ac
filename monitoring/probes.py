"""Health probes for proxies and orchestrators: ``GET /healthz`` and ``GET /readyz``.

``/healthz`` says the process answers: 200 without touching anything else. ``/readyz`` says
it can serve: the store answers and can write (``Store.health``: the TinyDB journal and data
folder writable, or the PostgreSQL database reachable and not read-only) and every
background worker registered with ``add_check`` is alive; else 503 with the reasons. Neither
needs authentication or is throttled, and neither shows a path, a version or a secret.

Background workers register a check, a function returning None when fine or a short reason::

    probes.add_check(app, "delivery", lambda: None if worker.is_alive() else "stopped")

(The TinyDB compaction thread runs only while compacting, and a failed compaction loses
nothing, the journal keeping every write: it is counted in the metrics, not here.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Flask, current_app, jsonify

import storage

bp = Blueprint("probes", __name__)
log = logging.getLogger(__name__)
_CHECKS = "roster.probes"

Check = Callable[[], "str | None"]


def init_app(app: Flask) -> None:
    app.extensions[_CHECKS] = {"store": _store_check}
    app.register_blueprint(bp)


def add_check(app: Flask, name: str, check: Check) -> None:
    """Make ``/readyz`` answer 503 whenever ``check()`` returns a reason (not None)."""
    app.extensions[_CHECKS][name] = check


def _store_check() -> str | None:
    try:
        return storage.get_store().health()
    except storage.StoreError:  # PostgreSQL down at the first request: nothing to open yet
        return "the store cannot be opened"


def failures() -> dict[str, str]:
    """Return the reason of every check that fails, by name."""
    found = {}
    for name, check in current_app.extensions[_CHECKS].items():
        try:
            reason = check()
        except Exception:  # a probe answers; the operator reads the traceback in the log
            log.exception("readiness check %s failed", name)
            reason = "the check failed"
        if reason is not None:
            found[name] = reason
    return found


@bp.get("/healthz")
def healthz():
    """Answer that the process is alive."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Answer whether Roster can serve: 200, or 503 with the failing checks."""
    failing = failures()
    if failing:
        return jsonify(status="unavailable", checks=failing), 503
    return jsonify(status="ready")
