"""Activity: each IdP's recent SCIM requests, newest first, failures highlighted with the
reason Roster gave (what JumpCloud's Test Connection does not show the admin)."""

from __future__ import annotations

import json

from flask import Blueprint, render_template, request, url_for

from console.idps import all_idps
from console.listing import Page, page_number
from storage import get_request_log, get_store

bp = Blueprint("activity", __name__, url_prefix="/activity")
PER_PAGE = 50


def _body(value: object) -> str | None:
    # Bodies are kept only with logging.log_bodies on (and redacted); show them as JSON.
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)


def _resource_link(entry: dict) -> str | None:
    """Return the console page of the resource a request touched (``User <id>``), if any."""
    kind, _, id = (entry.get("resource") or "").partition(" ")
    endpoint = {"User": "console.directory.user", "Group": "console.directory.group"}.get(kind)
    return url_for(endpoint, idp=entry["idp"], id=id) if endpoint and id else None


@bp.get("")
def index():
    """Show the request log of one IdP or of all, optionally only the failures."""
    idps = all_idps(get_store())
    names = {r["id"]: r["name"] for r in idps}
    chosen = request.args.get("idp", "")
    errors_only = request.args.get("errors") == "1"
    log = get_request_log()
    entries = []
    for record in idps:
        if not chosen or record["id"] == chosen:
            entries += log.entries(record["id"], errors_only=errors_only)
    entries.sort(key=lambda e: e.get("time", ""), reverse=True)
    pages = max(1, -(-len(entries) // PER_PAGE))
    number = min(page_number(request.args.get("page")), pages)
    shown = [
        {
            **e,
            "idp_name": names.get(e.get("idp"), e.get("idp")),
            "request_text": _body(e.get("request_body")),
            "response_text": _body(e.get("response_body")),
            "resource_link": _resource_link(e) if e.get("status", 500) < 400 else None,
        }
        for e in entries[(number - 1) * PER_PAGE : number * PER_PAGE]
    ]
    return render_template(
        "activity.html",
        idps=idps,
        values={"idp": chosen, "errors": "1" if errors_only else ""},
        entries=shown,
        page=Page(shown, len(entries), number, PER_PAGE),
    )
