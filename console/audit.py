"""Settings → Audit log: every admin action from the console and the CLI (``audit.py``),
newest first, filtered by admin, action and object, fifty to a page."""

from __future__ import annotations

from flask import Blueprint, render_template, request

import audit
from console.listing import Page, page_number
from storage import get_store

bp = Blueprint("audit", __name__, url_prefix="/settings/audit-log")
PER_PAGE = 50
# Actors that are not admins: the CLI, and a sign-in attempt that failed.
OTHER_ACTORS = (audit.CLI_ACTOR, "anonymous")


@bp.get("")
def index():
    """Show the audit trail, optionally of one admin, one action or matching objects."""
    store = get_store()
    values = {
        "actor": request.args.get("actor", ""),
        "action": request.args.get("action", ""),
        "object": request.args.get("object", "").strip(),
    }
    number = page_number(request.args.get("page"))
    query = dict(values, action=values["action"] if values["action"] in audit.ACTIONS else "")
    total, found = audit.entries(store, **query, offset=(number - 1) * PER_PAGE, limit=PER_PAGE)
    admins = sorted(r["username"] for r in store.records("admins"))
    return render_template(
        "audit.html",
        values=values,
        actors=[*admins, *OTHER_ACTORS],
        actions=audit.ACTIONS,
        entries=found,
        page=Page(found, total, number, PER_PAGE),
    )
