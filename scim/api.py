"""The tenant root ``/scim/v2/<idp>``: authentication, and the resource blueprints under it."""

from __future__ import annotations

from flask import Blueprint, g

from scim import discovery, groups, search, users
from scim.auth import authenticate

bp = Blueprint("scim", __name__, url_prefix="/scim/v2/<idp>")


@bp.url_value_preprocessor
def take_idp(endpoint, values):
    """Move the tenant out of the view arguments into ``g.idp``."""
    g.idp = values.pop("idp") if values else None


@bp.url_defaults
def add_idp(endpoint, values):
    """Fill in the current tenant when building URLs inside it."""
    if "idp" not in values and getattr(g, "idp", None):
        values["idp"] = g.idp


@bp.before_request
def require_token():
    """Authenticate every request, discovery included (RFC 7644 §2)."""
    authenticate(g.idp)


bp.register_blueprint(users.bp)
bp.register_blueprint(groups.bp)
bp.register_blueprint(discovery.bp)
bp.register_blueprint(search.bp)
