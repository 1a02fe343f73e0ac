"""Prometheus metrics at ``GET /metrics``, through ``prometheus_client`` (its registry, its
metric types, its exposition format), when ``[metrics] enabled``.

Only clients whose address is in ``[metrics] allow`` (networks; the address is the socket's
peer, or the one a trusted proxy forwarded) or that send ``Authorization: Bearer <[metrics]
token>`` get them; anyone else gets 403. The token is kept as its SHA-256 digest and compared
with ``hmac.compare_digest``.

What is measured, per process (several processes on PostgreSQL are each scraped on their
own; figures read from the shared database, like users per IdP, are the same on each):

- ``roster_scim_requests_total{idp, method, resource_type, status}`` and the latency
  histogram ``roster_scim_request_duration_seconds{idp, method, resource_type}``. ``idp`` is
  the IdP whose token authenticated the request, else ``unauthenticated`` (so that a client
  cannot make up label values).
- ``roster_auth_failures_total{surface}`` (``scim``, ``api``, ``console``, ``metrics``) and
  ``roster_throttled_total{surface}`` (429 answers).
- At scrape time, from the store: ``roster_idp_info{idp, name, kind}``, ``roster_idp_users``,
  ``roster_idp_groups``, ``roster_idp_last_success_timestamp_seconds`` (the last request
  answered below 400, from this process or, after a restart, the request log),
  ``roster_store_up`` (what ``/readyz`` checks of the store), and the backend's own figures
  (``storage.interface.STATS``: journal size and compactions with TinyDB).
- ``process_*`` (CPU, memory, open files) from ``prometheus_client``'s process collector.

Parts of Roster that record their own figures add a collector with ``register(app,
collector)`` (a no-op when metrics are off). The change feed's position is read from the
store at scrape time: ``roster_events_last_seq`` (the ``seq`` of the newest change event, the
same in every process sharing a database; its rate is the events recorded per second).
Webhooks add ``roster_webhook_deliveries_total{endpoint, outcome}``,
``roster_webhook_queue_depth`` and ``roster_webhook_oldest_undelivered_age_seconds`` this way
(``webhooks.metrics``).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from datetime import datetime

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

import storage
from storage.interface import STATS

bp = Blueprint("metrics", __name__)
_EXTENSION = "roster.metrics"
UNAUTHENTICATED = "unauthenticated"
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
RESOURCE_TYPES = {
    "scim.users": "User",
    "scim.groups": "Group",
    "scim.discovery": "discovery",
    "scim.search": "search",
}
# Seconds, from a cached lookup (about 1 ms) to a PATCH of a large group (tens of ms) and a
# store that stalls.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# How far back the request log is read for an IdP's last success after a restart.
LOOK_BACK = 100


class Metrics:
    """One app's registry and the metrics its requests update."""

    def __init__(self, app: Flask):
        values = app.config["ROSTER"]
        self.allow = [ipaddress.ip_network(n, strict=False) for n in values["allow"]]
        token = values["token"]
        self.digest = (
            token.removeprefix("sha256:")
            if token.startswith("sha256:")
            else (hashlib.sha256(token.encode()).hexdigest() if token else None)
        )
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "roster_scim_requests",
            "SCIM requests answered, by IdP, method, resource type and status.",
            ["idp", "method", "resource_type", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "roster_scim_request_duration_seconds",
            "Time to answer a SCIM request, by IdP, method and resource type.",
            ["idp", "method", "resource_type"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "roster_auth_failures",
            "Failed authentications: bad tokens, API keys, passwords or metrics credentials.",
            ["surface"],
            registry=self.registry,
        )
        self.throttled = Counter(
            "roster_throttled",
            "Requests refused with 429 after too many failed authentications.",
            ["surface"],
            registry=self.registry,
        )
        self.last_success: dict[str, float | None] = {}
        self.registry.register(StoreCollector(app, self))
        ProcessCollector(registry=self.registry)

    def allowed(self) -> bool:
        """Return whether the current request may read the metrics."""
        try:
            client = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            client = None
        if client is not None and any(client in network for network in self.allow):
            return True
        scheme, _, sent = request.headers.get("Authorization", "").strip().partition(" ")
        if self.digest is None or scheme.lower() != "bearer" or not sent.strip():
            return False
        found = hashlib.sha256(sent.strip().encode("utf-8", "surrogatepass")).hexdigest()
        return hmac.compare_digest(found, self.digest)


def init_app(app: Flask) -> None:
    """Serve ``/metrics`` and measure requests, if ``[metrics] enabled``."""
    if not app.config["ROSTER"]["enabled"]:
        return
    # No ``*_created`` series beside every counter: a start time per label set, read by nobody.
    disable_created_metrics()
    app.extensions[_EXTENSION] = Metrics(app)
    app.after_request(observe)
    app.register_blueprint(bp)


def register(app: Flask, collector: Collector) -> None:
    """Add ``collector`` to the app's metrics (nothing happens when metrics are off)."""
    metrics = app.extensions.get(_EXTENSION)
    if metrics is not None:
        metrics.registry.register(collector)


def auth_failed(surface: str) -> None:
    """Count a failed authentication the status code does not tell (a console sign-in)."""
    metrics = current_app.extensions.get(_EXTENSION)
    if metrics is not None:
        metrics.auth_failures.labels(surface).inc()


def _surface() -> str:
    path = request.path
    if path.startswith("/scim/") or path.rstrip("/") == "/scim":
        return "scim"
    return "api" if path.startswith("/api/") else "console"


def observe(response: Response) -> Response:
    """Count the request: SCIM requests by label, failed authentications, 429s."""
    metrics: Metrics = current_app.extensions[_EXTENSION]
    surface, status = _surface(), response.status_code
    if status == 429:
        metrics.throttled.labels(surface).inc()
    if status == 401 and surface in ("scim", "api"):
        metrics.auth_failures.labels(surface).inc()
    if surface != "scim":
        return response
    idp = g.get("authenticated_idp") or UNAUTHENTICATED
    method = request.method if request.method in METHODS else "OTHER"
    kind = RESOURCE_TYPES.get(request.blueprint or "", "other")
    metrics.requests.labels(idp, method, kind, str(status)).inc()
    started = g.get("request_started")
    if started is not None:
        metrics.latency.labels(idp, method, kind).observe(time.perf_counter() - started)
    if idp != UNAUTHENTICATED and status < 400:
        metrics.last_success[idp] = time.time()
    return response


@bp.get("/metrics")
def scrape():
    """Answer a Prometheus scrape, to allowed addresses and the metrics token only."""
    metrics: Metrics = current_app.extensions[_EXTENSION]
    if not metrics.allowed():
        metrics.auth_failures.labels("metrics").inc()
        return Response("Forbidden\n", status=403, mimetype="text/plain")
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encoder(metrics.registry), headers={"Content-Type": content_type})


class StoreCollector(Collector):
    """Figures read from the store at scrape time: IdPs, their users and groups, health."""

    def __init__(self, app: Flask, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    def collect(self):
        up = GaugeMetricFamily("roster_store_up", "1 when the store answers and can write.")
        try:
            store = storage.get_store(self.app)
            healthy = store.health() is None
            idps = store.records("idps")
        except storage.StoreError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1 if healthy else 0)
        yield up
        yield GaugeMetricFamily(
            "roster_events_last_seq",
            "The seq of the newest change event (its rate: events recorded per second).",
            value=store.last_seq(),
        )
        yield from self._idps(store, idps)
        yield from _stats(store.stats())

    def _idps(self, store: storage.Store, idps: list[dict]):
        info = GaugeMetricFamily(
            "roster_idp_info", "An IdP's name and kind.", labels=["idp", "name", "kind"]
        )
        users = GaugeMetricFamily("roster_idp_users", "Users of an IdP.", labels=["idp"])
        groups = GaugeMetricFamily("roster_idp_groups", "Groups of an IdP.", labels=["idp"])
        last = GaugeMetricFamily(
            "roster_idp_last_success_timestamp_seconds",
            "When an IdP's last SCIM request answered below 400 (Unix time).",
            labels=["idp"],
        )
        for record in idps:
            idp = record["id"]
            info.add_metric([idp, record["name"], record["kind"]], 1)
            users.add_metric([idp], store.count("User", idp))
            groups.add_metric([idp], store.count("Group", idp))
            when = self._last_success(idp)
            if when is not None:
                last.add_metric([idp], when)
        yield from (info, users, groups, last)

    def _last_success(self, idp: str) -> float | None:
        known = self.metrics.last_success
        if idp not in known:  # first scrape since start: the request log remembers
            entries = storage.get_request_log(self.app).entries(idp, limit=LOOK_BACK)
            found = next((e["time"] for e in entries if e.get("status", 500) < 400), None)
            stamp = datetime.fromisoformat(found.replace("Z", "+00:00")) if found else None
            known.setdefault(idp, stamp.timestamp() if stamp else None)
        return known[idp]


def _stats(stats: dict[str, float]):
    for name, value in stats.items():
        help_text = STATS.get(name, name)
        if name.endswith("_bytes"):
            family = GaugeMetricFamily(f"roster_store_{name}", help_text, value=value)
        else:
            family = CounterMetricFamily(f"roster_store_{name}", help_text, value=value)
        yield family
