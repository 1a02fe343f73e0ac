"""The management console: server-rendered pages for admins, at ``/`` beside ``/scim/``.

Settings → Identity Providers (add, edit, delete; Advanced Settings → User Auto-Provisioning
(SCIM) to generate and revoke tokens), Settings → Provisioned Users (Users and User Groups
tabs, detail pages), Settings → API Keys (what applications read ``/api/v1/`` with),
Settings → Audit log (every admin action), Activity (each IdP's request
log) and Account → Change password. ``init_app`` wires it all in: the blueprints, the
``admin`` CLI group, the session cookie, the security headers, redirects that stay on this
site and the HTML error pages for every path outside ``/scim/``.

Each module is one concern: ``security`` (session cookie, CSRF, headers, sign-in required),
``sessions`` (sessions kept on the server), ``redirects`` (where a redirect may point),
``admins`` (accounts and setup links), ``listing`` (paging across IdPs), and one module of
views per page group.
"""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, url_for

from console import (
    account,
    activity,
    apikeys,
    audit,
    auth,
    directory,
    errors,
    holds,
    idps,
    provisioning,
    redirects,
    security,
    templating,
)
from console.admins import setup_link  # noqa: F401  (re-exported for app.main)
from console.cli import admin_group

bp = Blueprint(
    "console",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)
bp.before_request(security.require_admin)
bp.before_request(security.check_csrf)
bp.register_blueprint(auth.bp)
bp.register_blueprint(idps.bp)
bp.register_blueprint(provisioning.bp)
bp.register_blueprint(directory.bp)
bp.register_blueprint(activity.bp)
bp.register_blueprint(account.bp)
bp.register_blueprint(audit.bp)
bp.register_blueprint(apikeys.bp)
bp.register_blueprint(holds.bp)


@bp.get("/")
def home():
    """Open the console on Settings → Identity Providers."""
    return redirect(url_for("console.idps.index"))


def init_app(app: Flask) -> None:
    """Register the console with ``app``: pages, ``flask admin``, cookie, headers, errors."""
    security.init_app(app)
    app.after_request(redirects.same_site_location)
    templating.init_app(app)
    app.register_blueprint(bp)
    app.cli.add_command(admin_group)
    # After the SCIM handlers exist, so that SCIM paths keep getting SCIM error bodies.
    errors.init_app(app)
