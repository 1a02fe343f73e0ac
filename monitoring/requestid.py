"""One id per request, in ``flask.g.request_id``: returned in the ``X-Request-Id`` header,
written in the process log's line and the request log's entry (the console's Activity rows
show it), in audit entries and in the ``source`` of change events, so that a support
conversation can start from either end.

An incoming ``X-Request-Id`` is kept only from a trusted proxy (``app.TrustedProxies`` removes
the header from every other peer), and only if it looks like an id: nginx's ``$request_id``
(32 hex digits) or a UUID does. Otherwise Roster makes one of the same shape.
"""

from __future__ import annotations

import re
import time
import uuid

from flask import Flask, Response, g, request

HEADER = "X-Request-Id"
# Letters, digits and . _ : - only: it goes into logs and pages, so nothing that could pass
# for another field, a new line or markup.
_SANE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def init_app(app: Flask) -> None:
    app.before_request(start)
    app.after_request(finish)


def start() -> None:
    """Give the request its id and its start time."""
    g.request_started = time.perf_counter()
    given = request.headers.get(HEADER, "")
    g.request_id = given if _SANE.match(given) else uuid.uuid4().hex


def source() -> dict:
    """Return what a write made in this request was: its method, its path and its id (the
    ``request_id`` of its entry in the request log and its ``X-Request-Id``), the ``source``
    of the change events it records (from the SCIM API and the console alike)."""
    return {"method": request.method, "path": request.path, "request_id": g.get("request_id")}


def finish(response: Response) -> Response:
    """Return the request's id to the client."""
    request_id = g.get("request_id")
    if request_id:
        response.headers[HEADER] = request_id
    return response
