"""The application API, ``/api/v1/``: what the apps behind Roster read (users, groups, IdPs
and the change feed), in an application shape (``scim.core.shape``) rather than SCIM's.

Every request needs an API key (``appapi.auth``); every error is an RFC 9457 problem
(``appapi.problems``). One module of views per resource (``idps``, ``users``, ``groups``);
their query parameters are checked at the edge (``appapi.params``), lists are paged by cursor
(``appapi.paging``) and read through ``appapi.reading``. ``init_app`` wires them in.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, request

import clock
from appapi import auth, events, groups, idps, openapi, problems, users
from lifecycle import holds
from storage import get_store

PREFIX = "/api/v1"

bp = Blueprint("appapi", __name__, url_prefix=PREFIX)
bp.before_request(auth.require_key)


@bp.before_request
def delete_kept_users_when_due():
    """Let kept users whose time is up be deleted (``lifecycle.holds.purge``) before reading,
    at most once a minute."""
    holds.purge_now_and_then(get_store(), clock.now(), current_app.extensions)


bp.register_blueprint(idps.bp)
bp.register_blueprint(users.bp)
bp.register_blueprint(groups.bp)
bp.register_blueprint(events.bp)


def _is_api_path() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def _either(previous):
    def handle(error: Exception):
        if _is_api_path():
            return problems.from_exception(error).response()
        return previous(error) if previous is not None else error

    return handle


def init_app(app: Flask) -> None:
    """Register the API; its paths get problem details from every app-level error handler.

    Called after the SCIM and console handlers exist: each is wrapped so that a path under
    ``/api/v1/`` gets a problem instead, and every other path what it got before."""
    app.register_blueprint(bp)
    app.register_blueprint(openapi.bp)  # the document of both APIs, without credentials
    registered = dict(app.error_handler_spec.get(None, {}).get(None, {}))
    for cls in {problems.Problem, *registered}:
        app.register_error_handler(cls, _either(registered.get(cls)))
