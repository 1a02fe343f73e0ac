"""The process log: text for a terminal, or one JSON object per line for a log shipper
(``[logging] format = "json"``), and one line for every HTTP request.

A JSON line holds ``time`` (RFC 3339 UTC), ``level``, ``logger`` and ``message``, and, when
known, ``request_id``, ``idp``, ``method``, ``path``, ``status``, ``latency_ms`` and
``scim_type``; an error's traceback goes under ``exception``. Every line logged while a
request is served carries that request's id, background events (compaction, the PostgreSQL
planner's statistics, waitress) none. Paths have tokens redacted (``tokens.redact``).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

from flask import Flask, Response, g, has_request_context, request

import tokens

log = logging.getLogger("roster.requests")

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FIELDS = ("request_id", "idp", "method", "path", "status", "latency_ms", "scim_type")
# An IdP id from the URL of an unauthenticated request is whatever the client sent.
_IDP_MAX = 64


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        entry = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # ASCII escapes: a lone surrogate a client sent still makes a valid line.
        return json.dumps(entry, default=str)


class RequestContext(logging.Filter):
    """Give every record made while a request is served that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None and has_request_context():
            record.request_id = g.get("request_id")
        return True


def configure(level: str, format: str) -> None:
    """Send every logger's records to stderr as text or JSON lines, from ``level`` up."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestContext())
    handler.setFormatter(JsonFormatter() if format == "json" else logging.Formatter(TEXT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def init_app(app: Flask) -> None:
    app.after_request(log_request)


def _idp() -> str | None:
    idp = g.get("authenticated_idp") or g.get("idp")
    return tokens.redact(idp)[:_IDP_MAX] if isinstance(idp, str) else None


def log_request(response: Response) -> Response:
    """Write the request's line: who (IdP), what, the answer and how long it took."""
    started = g.get("request_started")
    latency = round((time.perf_counter() - started) * 1000, 2) if started else None
    path = request.full_path if request.query_string else request.path
    fields = {
        "request_id": g.get("request_id"),
        "idp": _idp(),
        "method": request.method,
        "path": tokens.redact(path),
        "status": response.status_code,
        "latency_ms": latency,
        "scim_type": g.get("scim_type"),
    }
    log.info(
        "%s %s %s %s %sms%s id=%s",
        fields["idp"] or "-",
        fields["method"],
        fields["path"],
        fields["status"],
        latency,
        f" {fields['scim_type']}" if fields["scim_type"] else "",
        fields["request_id"],
        extra=fields,
    )
    return response
