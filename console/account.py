"""Account → Change password: the signed-in admin's own password.

The current password is required (a session left open on a shared screen must not be enough
to take the account over) and checked under the sign-in throttle, keyed like a sign-in. A
change ends the admin's other sessions; the one making it stays signed in.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

import audit
from console import admins, auth, forms, security
from storage import get_store

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(errors: dict, problem: str | None = None):
    return render_template("account/password.html", errors=errors, problem=problem)


@bp.route("/password", methods=["GET", "POST"])
def password():
    """Show the form; change the signed-in admin's password."""
    if request.method == "GET":
        return _page({})
    data, errors = forms.load(forms.PasswordForm(), request.form)
    if not errors:
        try:
            admins.check_new_password(data["password"])
        except admins.AdminError as exc:
            errors = {"password": str(exc)}
    if errors:
        return _page(errors), 400
    key = (request.remote_addr, g.admin["key"])
    wait = auth.throttle().attempt(key)  # checked and counted in one step, as at sign-in
    if wait:
        return _page({}, auth.too_many(wait)), 429, {"Retry-After": str(wait)}
    target = f"admin:{g.admin['username']}"
    if admins.authenticate(get_store(), g.admin["username"], data["current"]) is None:
        audit.record("admin.password", target, "failure", detail="wrong current password")
        return _page({"current": "This is not your current password."}), 400
    auth.throttle().reset(key)
    with audit.action():
        ended = admins.change_password(
            get_store(), g.admin["username"], data["password"], keep=security.session_digest()
        )
        audit.record("admin.password", target)
    others = f" {ended} other session{'s' if ended != 1 else ''} signed out." if ended else ""
    flash(f"Password changed.{others}")
    return redirect(url_for(".password"), code=303)
