"""Errors of the application API as RFC 9457 problem details (``application/problem+json``).

Every error under ``/api/v1/`` has one body format, whatever raised it: a view (``Problem``),
routing (404, 405), a body over the limit (413) or the store (503 while it is unavailable).
"""

from __future__ import annotations

import logging

import orjson
from flask import Response
from werkzeug.exceptions import HTTPException

from storage.errors import StoreFull, StoreUnavailable

log = logging.getLogger("roster.api")

MEDIA_TYPE = "application/problem+json"
# RFC 9457 §4.2.1: "about:blank" means the problem is what its status says, nothing more.
BLANK = "about:blank"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
    413: "Content Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    507: "Insufficient Storage",
}


class Problem(Exception):
    """An error answered as a problem details document (RFC 9457 §3.1).

    ``extra`` adds extension members (§3.2), e.g. the parameter at fault."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type: str = BLANK,
        headers: dict[str, str] | None = None,
        **extra: object,
    ):
        self.status = status
        self.detail = detail
        self.title = title or TITLES.get(status, "Error")
        self.type = type
        self.headers = headers or {}
        self.extra = extra
        super().__init__(detail)

    def response(self) -> Response:
        """Return the problem as an ``application/problem+json`` response."""
        body = {"type": self.type, "title": self.title, "status": self.status}
        body["detail"] = self.detail
        body.update(self.extra)
        return Response(
            orjson.dumps(body), status=self.status, headers=self.headers, mimetype=MEDIA_TYPE
        )


def from_exception(error: Exception) -> Problem:
    """Return the problem that stands for any error raised while answering ``/api/v1/``."""
    if isinstance(error, Problem):
        return error
    if isinstance(error, StoreFull):
        return Problem(507, "The store has no space left.")
    if isinstance(error, StoreUnavailable):
        retry = str(error.retry_after or 5)
        return Problem(
            503, "The store is unavailable; retry later.", headers={"Retry-After": retry}
        )
    if isinstance(error, HTTPException) and error.code and error.code < 500:
        headers = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
        return Problem(error.code, error.description or "", headers=headers)
    # Log the traceback for the operator; send the client nothing of it.
    log.error("unhandled error in the application API", exc_info=error)
    return Problem(500, "The server could not complete the request. The error has been logged.")
