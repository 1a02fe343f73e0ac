"""Webhook delivery metrics, parsed with prometheus_client's own parser after real deliveries
to a loopback receiver that succeed, fail and dead-letter, on both backends: the attempts by
outcome equal what the receiver answered and the delivery log recorded; the queue depth and
the age of the oldest undelivered event are read from the store, so they survive a restart."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

import storage
from app import create_app
from tests.conftest import Tenant, backend_config, patch_op
from tests.webhook_receiver import Answer, Receiver
from webhooks import endpoints
from webhooks.delivery import Settings
from webhooks.endpoints import DELIVERIES
from webhooks.metrics import tally
from webhooks.worker import Worker

FAST = Settings(
    schedule=[0.05, 0.05, 0.05],
    timeout=1.0,
    lease_seconds=4.0,
    allow_private=True,
    poll_seconds=0.05,
)


def metrics_app(config: dict):
    app = create_app({**config, "enabled": True, "allow": ["127.0.0.1/32"]})
    app.config["TESTING"] = True
    return app


@pytest.fixture
def config(request, backend, tmp_path):
    return backend_config(request, backend, tmp_path)


@pytest.fixture
def app(config):
    made = metrics_app(config)
    yield made
    storage.close_store(made)


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


def scrape(app) -> dict[tuple, float]:
    """Every sample of ``/metrics`` as {(name, endpoint, outcome): value}."""
    response = app.test_client().get("/metrics")
    assert response.status_code == 200, response.data
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            if s.name.startswith("roster_webhook_"):
                key = (s.name, s.labels.get("endpoint"), s.labels.get("outcome"))
                samples[key] = s.value
    return samples


def log_of(store, endpoint_id: str) -> list[dict]:
    return store.records(DELIVERIES, lambda r: r["endpoint"] == endpoint_id)


def outcomes(deliveries: list[dict]) -> dict[str, int]:
    """Attempts by outcome, as the delivery log tells them."""
    counted = {"success": 0, "failure": 0, "dead": 0}
    for delivery in deliveries:
        for n, attempt in enumerate(delivery["attempts"], 1):
            if attempt["status"] is not None and 200 <= attempt["status"] < 300:
                counted["success"] += 1
            elif delivery["state"] == "dead" and n == len(delivery["attempts"]):
                counted["dead"] += 1
            else:
                counted["failure"] += 1
    return counted


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def script(delivery, count: int) -> Answer:
    """Succeed, fail twice then succeed, always fail, or put off for an hour, by user."""
    if b"dead@" in delivery.raw:
        return Answer(500)
    if b"twice@" in delivery.raw:
        return Answer(500 if count < 2 else 204)
    if b"later@" in delivery.raw:
        return Answer(503, {"Retry-After": "3600"})
    return Answer(200)


def test_delivery_metrics_equal_what_happened(app, config, client, store, receiver):
    scim = Tenant(client, store, "Primary IdP")
    hook, secret = endpoints.add(store, receiver.url, allow_private=True)
    receiver.secrets.append(secret)
    receiver.script = script
    worker = Worker(store, FAST, tally(app)).start()
    try:
        for name in ("ok@example.com", "twice@example.com", "dead@example.com"):
            scim.create_user(name)
        later = scim.create_user("later@example.com")
        for n in range(2):  # queued behind the put-off creation
            scim.patch(f"/Users/{later['id']}", patch_op(
                {"op": "replace", "path": "displayName", "value": f"Later {n}"}
            ))  # fmt: skip

        def settled(_) -> bool:
            states = [d["state"] for d in log_of(store, hook["id"])]
            return (states.count("succeeded"), states.count("dead"), states.count("pending")) == (
                2, 1, 3,
            )  # fmt: skip

        receiver.until(settled, what="deliveries settled")
        log = log_of(store, hook["id"])
        before = time.time()
        samples = scrape(app)
        after = time.time()
    finally:
        worker.close()

    # Attempts: what the delivery log recorded, and each one reached the receiver.
    expected = outcomes(log)
    assert expected["success"] == 2 and expected["dead"] == 1 and expected["failure"] > 0
    for outcome, count in expected.items():
        assert samples[("roster_webhook_deliveries_total", hook["id"], outcome)] == count
    assert sum(expected.values()) == len(receiver.deliveries)
    assert all(d.verified for d in receiver.deliveries)

    # The queue: later's creation put off, its two changes behind it.
    pending = sorted((d for d in log if d["state"] == "pending"), key=lambda d: d["seq"])
    assert samples[("roster_webhook_queue_depth", hook["id"], None)] == len(pending) == 3
    occurred = epoch(pending[0]["event"]["occurred_at"])
    age = samples[("roster_webhook_oldest_undelivered_age_seconds", hook["id"], None)]
    assert before - occurred <= age <= after - occurred

    # An endpoint no worker serves: nothing pending, but an event waits past its cursor.
    idle, _ = endpoints.add(store, receiver.url, allow_private=True)
    scim.create_user("unheard@example.com")
    [event], _, _ = store.events(idle["cursor"], 10)
    before = time.time()
    samples = scrape(app)
    after = time.time()
    assert samples[("roster_webhook_queue_depth", idle["id"], None)] == 0
    age = samples[("roster_webhook_oldest_undelivered_age_seconds", idle["id"], None)]
    occurred = epoch(event["occurred_at"])
    assert before - occurred <= age <= after - occurred
    assert not any(key[1] == idle["id"] for key in samples if key[2] is not None)

    # After a restart: the queue is read from the store; the attempts counted afresh.
    storage.close_store(app)
    again = metrics_app(config)
    try:
        samples = scrape(again)
    finally:
        storage.close_store(again)
    assert samples[("roster_webhook_queue_depth", hook["id"], None)] == 3
    assert samples[("roster_webhook_oldest_undelivered_age_seconds", hook["id"], None)] > 0
    assert not any(key[0] == "roster_webhook_deliveries_total" for key in samples)


def test_no_endpoint_no_figures(app, client):
    samples = scrape(app)
    assert samples == {}
