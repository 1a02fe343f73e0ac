"""Edit → Advanced Settings → User Auto-Provisioning (SCIM): the endpoint, the IdP's tokens
(each revocable on its own), Generate new token (shown once; while one is live, revoke it now or
keep it working for a grace period), Revoke token; and the per-kind setup guides."""

from __future__ import annotations

from datetime import timedelta

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
import clock
import durations
import tokens
from console import forms, hints
from console.idps import find_idp
from providers import endpoint
from storage import get_store

bp = Blueprint("provisioning", __name__, url_prefix="/settings/identity-providers")


def _page(
    record: dict,
    *,
    new_token: str | None = None,
    open_scim: bool = False,
    values: dict | None = None,
    errors: dict | None = None,
) -> str:
    store = get_store()
    now = clock.now()
    history = tokens.tokens_of(store, record["id"])
    return render_template(
        "idps/advanced.html",
        idp=record,
        kind=record["kind"],
        hint=hints.HINTS[record["kind"]],
        endpoint=endpoint(current_app.config["ROSTER"], record["id"]),
        state=tokens.state(store, record["id"], now),
        history=[_row(r, now) for r in history],
        warnings=tokens.warnings(history, now),
        new_token=new_token,
        open_scim=open_scim or new_token is not None or bool(errors),
        values=values or {},
        errors=errors or {},
        expiry_choices=forms.EXPIRY_CHOICES,
    )


def _row(record: dict, now) -> dict:
    """A token as the table shows it."""
    return {
        **record,
        "public_id": tokens.public_id(record),
        "status": tokens.status(record, now),
        "label": record.get("label") or "Token",
    }


@bp.get("/<idp>/advanced")
def advanced(idp: str):
    """Show Advanced Settings with the User Auto-Provisioning (SCIM) section."""
    return _page(find_idp(idp), open_scim=request.args.get("section") == "scim")


def _duration(text: str):
    return durations.parse(text, least=timedelta(minutes=1), most=timedelta(days=3650))


@bp.post("/<idp>/token")
def generate(idp: str):
    """Generate a new token; while one is live, first ask whether to revoke it now or keep it
    working for a grace period. Show the new token once."""
    record = find_idp(idp)
    store = get_store()
    data, errors = forms.load(forms.TokenForm(), request.form)
    if errors:
        return _page(record, values=request.form, errors=errors), 400
    now = clock.now()
    live = tokens.tokens_of(store, idp, live_only=True, now=now)
    if live and not data["old"]:
        return render_template(
            "idps/replace.html",
            idp=record,
            live=[_row(r, now) for r in live],
            values=data,
            choices=forms.OLD_TOKEN_CHOICES,
        )
    keep_old = None if data["old"] in ("", "revoke") else _duration(data["old"])
    expires_in = _duration(data["expires"]) if data["expires"] else None
    try:
        with audit.action(store):
            issued, token = tokens.rotate(
                store, idp, now=now, label=data["label"], keep_old=keep_old, expires_in=expires_in
            )
            detail = tokens.describe(record["name"], issued, keep_old)
            audit.record("token.generate", f"idp:{idp}", detail=detail)
    except tokens.TokenError as exc:
        audit.record("token.generate", f"idp:{idp}", "failure", detail=str(exc))
        message = str(exc)
        return _page(
            record, values=request.form, errors={"label": message[:1].upper() + message[1:] + "."}
        ), 400
    return _page(record, new_token=token)


@bp.post("/<idp>/token/revoke")
def revoke(idp: str):
    """Revoke every live token of the IdP: its SCIM requests are refused from now on."""
    record = find_idp(idp)
    with audit.action():
        revoked = tokens.revoke(get_store(), idp, now=clock.now())
        detail = f"{record['name']}: every live token, {revoked} revoked"
        audit.record("token.revoke", f"idp:{idp}", detail=detail)
    if revoked:
        flash(
            f"Token revoked. {record['name']} can no longer reach Roster until you generate"
            " a new one."
        )
    else:
        flash("There was no active token to revoke.")
    return redirect(url_for(".advanced", idp=idp, section="scim"), code=303)


@bp.post("/<idp>/tokens/<token_id>/revoke")
def revoke_one(idp: str, token_id: str):
    """Revoke one token; the IdP's other live token keeps working."""
    record = find_idp(idp)
    store = get_store()
    known = {tokens.public_id(r): r for r in tokens.tokens_of(store, idp)}
    if token_id not in known:
        audit.record("token.revoke", f"idp:{idp}", "failure", detail=f"no live token {token_id}")
        abort(404, "There is no such token. It may have been deleted with its IdP.")
    with audit.action(store):
        revoked = tokens.revoke(store, idp, token_id, now=clock.now())
        if revoked:
            detail = f"{record['name']}: token {token_id}, 1 revoked"
            audit.record("token.revoke", f"idp:{idp}", detail=detail)
    if not revoked:
        audit.record("token.revoke", f"idp:{idp}", "failure", detail=f"no live token {token_id}")
        flash("That token was no longer active.")
    else:
        label = known[token_id].get("label") or "The token"
        flash(f"{label} revoked. Requests from {record['name']} with it are refused from now on.")
    return redirect(url_for(".advanced", idp=idp, section="scim"), code=303)


@bp.get("/guides/<kind>")
def guide(kind: str):
    """Serve the setup guide ``docs/idp/<kind>.md`` as plain text."""
    path = hints.guide_file(kind)
    if path is None:
        abort(404, f"The setup guide {hints.guide_path(kind)} has not been written yet.")
    return Response(path.read_text(encoding="utf-8"), mimetype="text/plain")
