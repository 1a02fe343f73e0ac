"""Running Roster in production: what a reverse proxy, Prometheus and a log shipper read.

- ``requestid``: one id per request (``g.request_id``), returned in ``X-Request-Id``.
- ``logs``: the process log as text or JSON lines, and one line per request.
- ``probes``: ``GET /healthz`` (alive) and ``GET /readyz`` (the store answers and can write).
- ``metrics``: ``GET /metrics`` through ``prometheus_client``, when ``[metrics] enabled``.

``init_app`` wires them in, before the other parts of the app register their hooks, so that
every request has its id and start time before anything else runs.
"""

from __future__ import annotations

from flask import Flask

from monitoring import logs, metrics, probes, requestid


def init_app(app: Flask) -> None:
    """Register the request id, the request log line, the probes and (if on) the metrics."""
    requestid.init_app(app)
    logs.init_app(app)
    probes.init_app(app)
    metrics.init_app(app)
