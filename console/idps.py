"""Settings → Identity Providers: the table, Add identity provider, Edit (General: name, kind
and the deprovisioning policy), Delete."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

import audit
import clock
from console import forms, hints
from lifecycle import policy
from monitoring.requestid import source
from providers import create_idp, delete_idp, set_policy, summary, update_idp
from storage import Store, get_request_log, get_store

bp = Blueprint("idps", __name__, url_prefix="/settings/identity-providers")


def find_idp(idp: str) -> dict:
    """Return the IdP's record, or answer 404."""
    record = get_store().get_record("idps", idp)
    if record is None:
        abort(404, "There is no such identity provider. It may have been deleted.")
    return record


def all_idps(store: Store) -> list[dict]:
    """Return every IdP's record by name (the order of every console list)."""
    return sorted(store.records("idps"), key=lambda r: (r["name"].casefold(), r["id"]))


def row(store: Store, record: dict) -> dict:
    """Return what the table shows of an IdP: its summary and the time of its last request."""
    last = get_request_log().entries(record["id"], limit=1)
    return {**summary(store, record, clock.now()), "last_request": last[0] if last else None}


def _sentence(message: str) -> str:
    # providers speaks the CLI's lower-case one-liners; the page speaks sentences.
    return message[:1].upper() + message[1:] + "."


def _deleted(info: dict) -> str:
    return f"{info['name']}, with {info['users']} users and {info['groups']} groups"


@bp.get("")
def index():
    """List identity providers with their provisioning state and synchronized counts."""
    store = get_store()
    rows = [row(store, record) for record in all_idps(store)]
    return render_template("idps/index.html", rows=rows)


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Add an identity provider."""
    if request.method == "GET":
        return render_template("idps/new.html", values={"kind": "jumpcloud"}, errors={})
    data, errors = forms.load(forms.IdpForm(), request.form)
    if not errors:
        try:
            with audit.action():
                record = create_idp(get_store(), data["name"], data["kind"])
                audit.record("idp.create", f"idp:{record['id']}", detail=record["name"])
        except ValueError as exc:
            audit.record("idp.create", "idp:(new)", "failure", detail=str(exc))
            errors = {"name": _sentence(str(exc)) + " Choose another name."}
        else:
            flash(f"Added {record['name']}. Next: generate its SCIM token below.")
            return redirect(
                url_for("console.provisioning.advanced", idp=record["id"], section="scim"), code=303
            )
    return render_template("idps/new.html", values=request.form, errors=errors), 400


@bp.route("/<idp>/edit", methods=["GET", "POST"])
def edit(idp: str):
    """Show and change an IdP's name and kind (Edit → General)."""
    record = find_idp(idp)
    if request.method == "GET":
        return _general(record, record, {})
    data, errors = forms.load(forms.IdpForm(), request.form)
    if not errors:
        try:
            with audit.action():
                update_idp(get_store(), idp, data["name"], data["kind"])
                detail = f"{data['name']} ({data['kind']})"
                audit.record("idp.update", f"idp:{idp}", detail=detail)
        except ValueError as exc:
            audit.record("idp.update", f"idp:{idp}", "failure", detail=str(exc))
            errors = {"name": _sentence(str(exc)) + " Choose another name."}
        else:
            flash("Saved.")
            return redirect(url_for(".edit", idp=idp), code=303)
    return _general(record, request.form, errors), 400


def _general(record: dict, values: dict, errors: dict, *, policy_values=None, policy_errors=None):
    chosen = policy.of(record)
    return render_template(
        "idps/edit.html",
        idp=record,
        hint=hints.HINTS[record["kind"]],
        kind=record["kind"],
        values=values,
        errors=errors,
        policy=policy_values or chosen.to_record(),
        policy_errors=policy_errors or {},
        policy_text=policy.describe(chosen),
    )


@bp.post("/<idp>/deprovisioning")
def deprovisioning(idp: str):
    """Save what a SCIM DELETE means for this IdP and its mass-deprovisioning guard."""
    record = find_idp(idp)
    fields = ("on_delete", "keep_days", "guard", "guard_users", "guard_percent", "guard_minutes")
    given = {name: request.form.get(name, "") for name in fields}
    try:
        chosen = policy.check(given)
    except policy.BadPolicy as exc:
        audit.record("idp.update", f"idp:{idp}", "failure", detail=f"{exc.field}: {exc}")
        errors = {exc.field: str(exc)}
        return _general(record, record, {}, policy_values=given, policy_errors=errors), 400
    with audit.action():
        set_policy(get_store(), idp, chosen)
        detail = f"{record['name']}: {policy.summary(chosen)}"
        audit.record("idp.update", f"idp:{idp}", detail=detail)
    flash("Deprovisioning policy saved.")
    return redirect(url_for(".edit", idp=idp) + "#deprovisioning", code=303)


@bp.route("/<idp>/delete", methods=["GET", "POST"])
def delete(idp: str):
    """Ask, then delete an IdP with everything provisioned through it."""
    store = get_store()
    info = summary(store, find_idp(idp))
    if request.method == "GET":
        return render_template("idps/delete.html", idp=info)
    with audit.action(store):
        delete_idp(store, idp, source())
        audit.record("idp.delete", f"idp:{idp}", detail=_deleted(info))
    flash(f"Deleted {info['name']} with its {info['users']} users and {info['groups']} groups.")
    return redirect(url_for(".index"), code=303)
