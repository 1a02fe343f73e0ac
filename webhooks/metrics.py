"""Webhook delivery metrics on ``/metrics`` (``monitoring.metrics``), two kinds:

- ``roster_webhook_deliveries_total{endpoint, outcome}``: attempts, counted by the process
  that made them as each ends: ``success`` (a 2xx), ``failure`` (anything else, another attempt
  is scheduled) and ``dead`` (the last attempt failed: the event is dead-lettered). Only the
  process that holds an endpoint's lease delivers for it, so summing over processes counts each
  attempt once; like every counter here, it starts from zero when the process starts.
- Read from the store at scrape time, the same in every process sharing it and after a
  restart: ``roster_webhook_queue_depth{endpoint}`` (deliveries in state ``pending``: retries
  due later and events queued behind a failed one) and
  ``roster_webhook_oldest_undelivered_age_seconds{endpoint}`` (how long ago the oldest event not
  yet delivered to the endpoint happened: the oldest pending delivery, or the first event past
  the endpoint's cursor, one the worker has not reached; 0 when there is none).

A scrape costs one read of the pending deliveries (``Store.delivery_backlog``: an index, not
the delivery log) and, per endpoint, one record read and one event read.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime

from flask import Flask
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

import storage
from monitoring import metrics
from storage.errors import CursorExpired
from webhooks import endpoints

_EXTENSION = "roster.webhook_tally"
OUTCOMES = ("success", "failure", "dead")


class Tally:
    """This process's delivery attempts by endpoint and outcome (thread-safe)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, endpoint: str, outcome: str) -> None:
        with self._lock:
            self._counts[(endpoint, outcome)] += 1

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)


def init_app(app: Flask) -> None:
    """Give the app its tally and put the delivery figures on its ``/metrics``."""
    app.extensions[_EXTENSION] = Tally()
    metrics.register(app, DeliveryCollector(app))


def tally(app: Flask) -> Tally:
    """Return the app's tally (what the process's worker counts into)."""
    return app.extensions[_EXTENSION]


def outcome_of(state: str) -> str:
    """The outcome of an attempt, from the state it left its delivery in."""
    return {"succeeded": "success", "pending": "failure"}.get(state, "dead")


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class DeliveryCollector(Collector):
    """Attempts from the tally; the queue and its age from the store."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        attempts = CounterMetricFamily(
            "roster_webhook_deliveries",
            "Webhook delivery attempts this process made, by endpoint and outcome.",
            labels=["endpoint", "outcome"],
        )
        for (endpoint, outcome), count in sorted(tally(self.app).counts().items()):
            attempts.add_metric([endpoint, outcome], count)
        yield attempts
        try:
            yield from self._queue(storage.get_store(self.app))
        except storage.StoreError:  # roster_store_up says so; no figure is better than a wrong one
            return

    def _queue(self, store: storage.Store):
        depth = GaugeMetricFamily(
            "roster_webhook_queue_depth",
            "Deliveries waiting: retries due later and events queued behind a failed one.",
            labels=["endpoint"],
        )
        age = GaugeMetricFamily(
            "roster_webhook_oldest_undelivered_age_seconds",
            "Seconds since the oldest event not yet delivered to the endpoint happened.",
            labels=["endpoint"],
        )
        backlog = store.delivery_backlog()
        now = time.time()
        for record in store.records(endpoints.TABLE):
            pending, first = backlog.get(record["id"], (0, None))
            depth.add_metric([record["id"]], pending)
            oldest = self._oldest(store, record, first)
            age.add_metric([record["id"]], max(0.0, now - oldest) if oldest else 0.0)
        yield depth
        yield age

    @staticmethod
    def _oldest(store: storage.Store, record: dict, first: str | None) -> float | None:
        """When the oldest undelivered event happened (Unix time), or None."""
        times = []
        if first is not None:
            delivery = store.get_record(endpoints.DELIVERIES, first)
            if delivery is not None:
                times.append(_epoch(delivery["event"]["occurred_at"]))
        # Past the cursor (of a disabled endpoint too: it resumes from there when enabled).
        types = frozenset(record["types"]) or None
        try:
            ahead, _, _ = store.events(record["cursor"], 1, types=types)
        except CursorExpired:  # pruned before it was delivered: replay tells what was missed
            ahead = []
        times += [_epoch(event["occurred_at"]) for event in ahead]
        return min(times) if times else None
