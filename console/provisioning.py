"""Edit → Advanced Settings → User Auto-Provisioning (SCIM): the endpoint, the token's state,
Generate new token (shown once), Revoke token; and the per-kind setup guides."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

import audit
import tokens
from console import hints
from console.idps import find_idp
from providers import endpoint
from storage import get_store

bp = Blueprint("provisioning", __name__, url_prefix="/settings/identity-providers")


def _page(record: dict, *, new_token: str | None = None, open_scim: bool = False) -> str:
    store = get_store()
    history = tokens.tokens_of(store, record["id"])
    return render_template(
        "idps/advanced.html",
        idp=record,
        kind=record["kind"],
        hint=hints.HINTS[record["kind"]],
        endpoint=endpoint(current_app.config["ROSTER"], record["id"]),
        state=tokens.state(store, record["id"]),
        current=history[0] if history else None,
        new_token=new_token,
        open_scim=open_scim or new_token is not None,
    )


@bp.get("/<idp>/advanced")
def advanced(idp: str):
    """Show Advanced Settings with the User Auto-Provisioning (SCIM) section."""
    return _page(find_idp(idp), open_scim=request.args.get("section") == "scim")


@bp.post("/<idp>/token")
def generate(idp: str):
    """Generate a new token, after confirming when it would replace a live one; show it once."""
    record = find_idp(idp)
    store = get_store()
    live = tokens.tokens_of(store, idp, live_only=True)
    if live and request.form.get("replace") != "yes":
        return render_template("idps/replace.html", idp=record, live=live[0])
    token = tokens.issue(store, idp)
    audit.record("token.generate", f"idp:{idp}", detail=record["name"])
    return _page(record, new_token=token)


@bp.post("/<idp>/token/revoke")
def revoke(idp: str):
    """Revoke the IdP's token: its SCIM requests are refused from now on."""
    record = find_idp(idp)
    revoked = tokens.revoke(get_store(), idp)
    audit.record("token.revoke", f"idp:{idp}", detail=f"{record['name']}: {revoked} revoked")
    if revoked:
        flash(
            f"Token revoked. {record['name']} can no longer reach Roster until you generate"
            " a new one."
        )
    else:
        flash("There was no active token to revoke.")
    return redirect(url_for(".advanced", idp=idp, section="scim"), code=303)


@bp.get("/guides/<kind>")
def guide(kind: str):
    """Serve the setup guide ``docs/idp/<kind>.md`` as plain text."""
    path = hints.guide_file(kind)
    if path is None:
        abort(404, f"The setup guide {hints.guide_path(kind)} has not been written yet.")
    return Response(path.read_text(encoding="utf-8"), mimetype="text/plain")
