"""What an admin does with deliveries, from the console or the CLI (twins): read the log,
redeliver one event or every failed one since a time, replay from a seq or time, send a test
event. Queued work is picked up by the worker holding the endpoint (``requeue`` tells it)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from storage.interface import Store
from webhooks import endpoints, sender
from webhooks.delivery import Settings, attempt, delivery_key
from webhooks.endpoints import DELIVERIES


class NothingToDo(ValueError):
    """The request names no delivery that can be redelivered; the message says why."""


def deliveries(store: Store, endpoint_id: str, limit: int = 100) -> list[dict]:
    """Return the endpoint's newest ``limit`` deliveries, newest first, without the events."""
    found = store.records(DELIVERIES, lambda r: r["endpoint"] == endpoint_id)
    found.sort(key=lambda r: r["seq"], reverse=True)
    return [{k: v for k, v in d.items() if k != "event"} for d in found[:limit]]


def _queue(store: Store, endpoint_id: str, picked: list[dict]) -> int:
    for delivery in picked:
        delivery["state"] = "pending"
        delivery["next_at"] = None
        store.put_record(DELIVERIES, delivery["key"], delivery)
    if picked:
        endpoints.change(store, endpoint_id, lambda r: {**r, "requeue": r["requeue"] + 1})
    return len(picked)


def redeliver(store: Store, endpoint_id: str, seq: int) -> int:
    """Queue one event's delivery again (its attempts so far stay in the log)."""
    endpoints.get(store, endpoint_id)
    delivery = store.get_record(DELIVERIES, delivery_key(endpoint_id, seq))
    if delivery is None:
        raise NothingToDo(f"no delivery of event {seq} to webhook {endpoint_id}")
    return _queue(store, endpoint_id, [delivery])


def redeliver_failed(store: Store, endpoint_id: str, since: float) -> int:
    """Queue again every dead-lettered delivery whose first attempt was at ``since`` or later;
    return how many."""
    endpoints.get(store, endpoint_id)
    picked = store.records(
        DELIVERIES,
        lambda r: (
            r["endpoint"] == endpoint_id
            and r["state"] == "dead"
            and r["attempts"]
            and r["attempts"][0]["time"] >= since
        ),
    )
    return _queue(store, endpoint_id, picked)


def replay(store: Store, endpoint_id: str, *, seq: int | None = None, since: float | None = None):
    """Deliver again every event after ``seq``, or from the time ``since`` (Unix seconds);
    return the seq the endpoint follows from."""
    endpoints.get(store, endpoint_id)
    if seq is None:
        seq = seq_before(store, since)

    def edit(record: dict) -> dict:
        record["replay_from"] = seq
        return record

    endpoints.change(store, endpoint_id, edit)
    return seq


def seq_before(store: Store, since: float) -> int:
    """The cursor that reads the events recorded at ``since`` or later."""
    moment = datetime.fromtimestamp(since, UTC).isoformat(timespec="milliseconds")
    moment = moment.replace("+00:00", "Z")
    after = 0
    while True:
        events, next_after, more = store.events(after, 1000)
        for event in events:
            if event["occurred_at"] >= moment:
                return event["seq"] - 1
        if not events and not more:
            return next_after
        after = next_after


def parse_time(text: str) -> float:
    """Unix seconds of an ISO 8601 time (UTC when no offset is given)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise NothingToDo(f"{text!r} is not a time such as 2026-12-04T10:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def send_test(store: Store, endpoint_id: str, settings: Settings) -> sender.Outcome:
    """Send a signed ``webhook.test`` event now, outside the log, and return what came back."""
    record = endpoints.get(store, endpoint_id)
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    event = {
        "id": f"test_{uuid.uuid4().hex}",
        "seq": 0,
        "type": endpoints.TEST_TYPE,
        "occurred_at": now,
        "data": {"endpoint": endpoint_id, "sent_at": time.time()},
    }
    return attempt(record, event, settings)
