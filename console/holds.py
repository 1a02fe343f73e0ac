"""Settings → Held changes: what the mass-deprovisioning guard held, and Apply or Discard.

The banner on every page (``banners``) names each open hold and links here; the hold's page
lists its changes in their original order, with the two actions. The CLI's twin is
``flask hold list|show|apply|discard``.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for

import audit
import clock
from console.idps import all_idps
from lifecycle import holds
from storage import get_store

bp = Blueprint("holds", __name__, url_prefix="/settings/held-changes")
SHOWN = 500  # changes listed on a hold's page (a hold may have thousands)


def _names() -> dict[str, str]:
    return {r["id"]: r["name"] for r in all_idps(get_store())}


def banners() -> list[dict]:
    """The open holds, each with the banner's sentence, for every console page."""
    if g.get("admin") is None:
        return []
    open_holds = holds.holds(get_store(), open_only=True)
    if not open_holds:
        return []
    names = _names()
    return [
        {"id": h["id"], "text": holds.headline(h, names.get(h["idp"], h["idp"]))}
        for h in open_holds
    ]


@bp.get("")
def index():
    """List the holds, open ones first."""
    names = _names()
    found = holds.holds(get_store())
    found.sort(key=lambda h: h["state"] != "open")
    rows = [{**h, "idp_name": names.get(h["idp"], h["idp"])} for h in found]
    return render_template("holds/index.html", rows=rows)


def _hold(hold_id: str) -> dict:
    hold = get_store().get_record("holds", hold_id)
    if hold is None:
        abort(404, "There is no such hold.")
    return hold


@bp.get("/<hold_id>")
def show(hold_id: str):
    """Show a hold: its sentence, its changes in order, Apply and Discard."""
    hold = _hold(hold_id)
    store = get_store()
    name = _names().get(hold["idp"], hold["idp"])
    held = holds.changes_of(store, hold_id) if hold["state"] == "open" else []
    diverged = holds.diverged(store, hold["idp"]) if hold["state"] == "discarded" else []
    return render_template(
        "holds/show.html",
        hold=hold,
        idp_name=name,
        headline=holds.headline(hold, name),
        changes=held[:SHOWN],
        more=max(len(held) - SHOWN, 0),
        diverged=[d for d in diverged if d.get("hold") == hold_id],
    )


@bp.post("/<hold_id>/apply")
def apply(hold_id: str):
    """Release the held changes to the applications, in their original order."""
    hold = _decide(hold_id, "hold.apply", holds.apply)
    flash(f"Applied {hold['changes']:,} held changes: the applications now see them.")
    return redirect(url_for(".show", hold_id=hold_id), code=303)


@bp.post("/<hold_id>/discard")
def discard(hold_id: str):
    """Drop the held changes: the applications keep the users as they were, marked diverged."""
    hold = _decide(hold_id, "hold.discard", holds.discard)
    flash(
        f"Discarded {hold['changes']:,} held changes. The applications keep those users as"
        " they were; fix the assignments in the identity provider."
    )
    return redirect(url_for(".show", hold_id=hold_id), code=303)


def _decide(hold_id: str, action: str, decide) -> dict:
    """Apply or discard (``decide``) a hold with its audit entry in the same write; a hold
    already decided is a 409 whose refusal is audited too."""
    _hold(hold_id)
    try:
        with audit.action():
            hold = decide(get_store(), hold_id, clock.now(), g.admin["username"])
            name = _names().get(hold["idp"], hold["idp"])
            audit.record(action, f"hold:{hold_id}", detail=holds.audit_detail(hold, name))
    except holds.HoldError as exc:
        audit.record(action, f"hold:{hold_id}", "failure", detail=str(exc))
        abort(409, str(exc)[:1].upper() + str(exc)[1:] + ".")
    return hold
