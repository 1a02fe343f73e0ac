"""Signing in and out, and creating the first admin through the one-time setup link."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

import audit
from console import admins, forms, redirects, security
from monitoring import metrics
from storage import get_store
from throttle import Throttle

bp = Blueprint("auth", __name__)
_THROTTLE = "roster.console.throttle"


def throttle() -> Throttle:
    """Return the app's sign-in throttle (one per app, so tests start from zero)."""
    return current_app.extensions.setdefault(_THROTTLE, Throttle(limit=5, window=300.0))


def _next_page() -> str:
    # Only a path on this site: anything else would make sign-in an open redirect.
    return redirects.safe_next(request.values.get("next")) or url_for("console.home")


def too_many(wait: int) -> str:
    """Return what the page says while the throttle refuses."""
    return f"Too many failed sign-in attempts. Try again in {wait} seconds."


def _admin_object(username: str) -> str:
    """Name the admin a sign-in attempt was for, or none: a password typed into the username
    box must never be written down."""
    record = get_store().get_record("admins", username.strip().casefold())
    return f"admin:{record['username']}" if record else "admin:(unknown)"


def _sign_in_page(values: dict, errors: dict | None = None, problem: str | None = None):
    return render_template(
        "sign_in.html", next=_next_page(), values=values, errors=errors or {}, problem=problem
    )


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """Show the sign-in form; sign the admin in."""
    if request.method == "GET":
        if security.current_admin() is not None:
            return redirect(_next_page())
        return _sign_in_page({})
    data, errors = forms.load(forms.SignInForm(), request.form)
    values = {"username": request.form.get("username", "")}
    if errors:
        return _sign_in_page(values, errors), 400
    key = (request.remote_addr, data["username"].casefold())
    # Counted before the password is checked, in one step: see Throttle.attempt.
    wait = throttle().attempt(key)
    if wait:
        audit.record("admin.sign_in", _admin_object(data["username"]), "throttled")
        return _sign_in_page(values, problem=too_many(wait)), 429, {"Retry-After": str(wait)}
    admin = admins.authenticate(get_store(), data["username"], data["password"])
    signed_in = False
    if admin is not None:
        # The session kept on the server and the entry: one write.
        with audit.action():
            signed_in = security.sign_in(admin)
            if signed_in:
                name = admin["username"]
                audit.record("admin.sign_in", f"admin:{name}", actor=name)
    if not signed_in:
        metrics.auth_failed("console")
        audit.record("admin.sign_in", _admin_object(data["username"]), "failure")
        return _sign_in_page(values, problem="Wrong username or password."), 400
    throttle().reset(key)
    return redirect(_next_page(), code=303)


@bp.post("/sign-out")
def sign_out():
    """End the session, on the server too: a copy of the cookie no longer signs anyone in."""
    with audit.action():
        audit.record("admin.sign_out", f"admin:{g.admin['username']}")
        security.sign_out()
    return redirect(url_for("console.auth.sign_in"), code=303)


@bp.route("/setup/<token>", methods=["GET", "POST"])
def setup(token: str):
    """Create the first admin with the one-time setup link Roster printed."""
    store = get_store()
    app = current_app._get_current_object()
    try:
        admins.check_setup_token(app, store, token)
    except admins.AdminError as exc:
        return render_template("setup_dead.html", problem=str(exc)), 410
    if request.method == "GET":
        return render_template("setup.html", values={}, errors={})
    data, errors = forms.load(forms.SetupForm(), request.form)
    values = {"username": request.form.get("username", "")}
    if not errors:
        try:
            with audit.action(store):
                admin = admins.use_setup_link(app, store, token, data["username"], data["password"])
                name = admin["username"]
                audit.record("admin.create", f"admin:{name}", actor=name, detail="the setup link")
        except admins.AdminError as exc:
            if exc.field is None:  # the link died meanwhile (used in another tab)
                return render_template("setup_dead.html", problem=str(exc)), 410
            errors = {exc.field: str(exc)}
        else:
            security.sign_in(admin)
            flash(f"Welcome, {admin['username']}. Next: add your identity provider.")
            return redirect(url_for("console.idps.index"), code=303)
    return render_template("setup.html", values=values, errors=errors), 400
