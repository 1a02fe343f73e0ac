"""The tenant root ``/scim/v2/<idp>``: authentication, and the resource blueprints under it."""

from __future__ import annotations

from flask import Blueprint, current_app, g

import clock
from lifecycle import holds
from scim import bulk, discovery, groups, search, users
from scim.auth import authenticate
from scim.core.errors import NotFound, Unauthorized
from storage import get_store

bp = Blueprint("scim", __name__, url_prefix="/scim/v2/<idp>")


@bp.url_value_preprocessor
def take_idp(endpoint, values):
    """Move the tenant out of the view arguments into ``g.idp``."""
    g.idp = values.pop("idp") if values else None
    # No IdP, User or Group id holds U+0000 (and PostgreSQL cannot even look one up): answer
    # what an unknown IdP or a missing resource gets, without asking the store.
    if g.idp is not None and "\x00" in g.idp:
        g.idp = None
        raise Unauthorized("The bearer token is not valid for this endpoint.")
    if any("\x00" in value for value in (values or {}).values() if isinstance(value, str)):
        raise NotFound("There is no resource with this id.")


@bp.url_defaults
def add_idp(endpoint, values):
    """Fill in the current tenant when building URLs inside it."""
    if "idp" not in values and getattr(g, "idp", None):
        values["idp"] = g.idp


@bp.before_request
def require_token():
    """Authenticate every request, discovery included (RFC 7644 §2); then let kept users
    whose time is up be deleted (``lifecycle.holds.purge``), at most once a minute."""
    authenticate(g.idp)
    holds.purge_now_and_then(get_store(), clock.now(), current_app.extensions)


bp.register_blueprint(users.bp)
bp.register_blueprint(groups.bp)
bp.register_blueprint(discovery.bp)
bp.register_blueprint(search.bp)
bp.register_blueprint(bulk.bp)
