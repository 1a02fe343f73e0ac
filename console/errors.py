"""HTML error pages for every path outside ``/scim/``, beside SCIM's error bodies.

``scim.http`` registers the app's error handlers first and renders SCIM errors for SCIM paths.
Rather than teach it about the console, ``init_app`` wraps each handler it registered: a SCIM
path still goes to it, any other path gets a console page. Tracebacks are logged, never sent.
"""

from __future__ import annotations

import logging

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from console import security

log = logging.getLogger("roster.console")

SERVER_FAULT = "Roster could not complete this request. The details are in the server's log."
TITLES = {
    400: "This request cannot be handled",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed here",
    410: "Link no longer valid",
    413: "Too large",
}


def page(error: Exception):
    """Render ``error`` as a console page (a 500 for anything that is not an HTTP error)."""
    if not isinstance(error, HTTPException):
        log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
        error = InternalServerError()
    if error.code is None or error.code < 400:  # a routing redirect, not an error
        return error
    if "admin" not in g:
        # Routing errors never reach the console's before_request: look the admin up here, so
        # that the page shows the navigation to someone signed in and to no one else.
        try:
            g.admin = security.current_admin()
        except Exception:  # the store itself may be what failed
            g.admin = None
    title = TITLES.get(error.code, "Something went wrong" if error.code >= 500 else "Error")
    detail = error.description if error.code < 500 else SERVER_FAULT
    response = render_template("error.html", code=error.code, title=title, detail=detail)
    return response, error.code, dict(error.get_headers())


def _either(scim_handler):
    def handle(error: Exception):
        if security.is_scim_path() and scim_handler is not None:
            return scim_handler(error)
        return page(error)

    return handle


def init_app(app: Flask) -> None:
    """Wrap the app-level handlers registered so far; add HTML pages for the console."""
    registered = dict(app.error_handler_spec.get(None, {}).get(None, {}))
    for cls in {HTTPException, Exception, *registered}:
        app.register_error_handler(cls, _either(registered.get(cls)))
