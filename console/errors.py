"""HTML error pages for every path outside ``/scim/``, beside SCIM's error bodies.

``scim.http`` registers the app's error handlers first and renders SCIM errors for SCIM paths.
Rather than teach it about the console, ``init_app`` wraps each handler it registered: a SCIM
path still goes to it, any other path gets a console page. Tracebacks are logged, never sent.
"""

from __future__ import annotations

import logging

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.exceptions import ServiceUnavailable as Unavailable

from console import security
from storage.errors import OutcomeUnknown, StoreFull, StoreUnavailable

log = logging.getLogger("roster.console")

SERVER_FAULT = "Roster could not complete this request. The details are in the server's log."
TITLES = {
    400: "This request cannot be handled",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed here",
    410: "Link no longer valid",
    413: "Too large",
    503: "The database is unavailable",
    507: "The disk is full",
}
# What a store failure tells the admin (the server's log has the reason).
UNAVAILABLE = "Roster cannot reach its store right now; nothing was changed. Try again shortly."
IN_DOUBT = (
    "Roster lost its store while saving this change: it may or may not have been saved."
    " Check before trying again."
)
FULL = "Roster's store has no space left; nothing was changed."


def page(error: Exception):
    """Render ``error`` as a console page (a 500 for anything that is not an HTTP error)."""
    if isinstance(error, StoreUnavailable):
        log.error("store unavailable on %s %s: %s", request.method, request.path, error)
        g.admin = None  # not looked up in a store that just failed
        error = _store_page(error)
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
    detail = error.description if error.code < 500 or error.code in (503, 507) else SERVER_FAULT
    response = render_template("error.html", code=error.code, title=title, detail=detail)
    return response, error.code, dict(error.get_headers())


class InsufficientStorage(HTTPException):
    code = 507  # RFC 4918 §11.5 (werkzeug has no class for it)


def _store_page(error: StoreUnavailable) -> HTTPException:
    if isinstance(error, StoreFull):
        return InsufficientStorage(FULL)
    detail = IN_DOUBT if isinstance(error, OutcomeUnknown) else UNAVAILABLE
    # RFC 9110 §10.2.3: Retry-After tells the browser (and the admin) when to come back.
    return Unavailable(detail, retry_after=error.retry_after or 5)


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
