"""Delivery through a real receiver on loopback, on both backends: every delivery's signature
verified with ``standardwebhooks``; faults injected by the receiver's script; the retry
schedule shrunk to fractions of a second. Waits are on the receiver's condition variable."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.webhook_receiver import Answer, Receiver
from webhooks import admin, endpoints
from webhooks.delivery import Settings
from webhooks.endpoints import DELIVERIES
from webhooks.worker import Worker

FAST = Settings(
    schedule=[0.05, 0.05, 0.05],
    timeout=1.0,
    lease_seconds=4.0,
    allow_private=True,
    poll_seconds=0.05,
)


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def hook(store, receiver):
    record, secret = endpoints.add(store, receiver.url, allow_private=True)
    receiver.secrets.append(secret)
    return record


@pytest.fixture
def worker(store):
    made = Worker(store, FAST).start()
    yield made
    made.close()


def deliveries_of(store, endpoint_id: str) -> dict[int, dict]:
    return {d["seq"]: d for d in store.records(DELIVERIES, lambda r: r["endpoint"] == endpoint_id)}


def settled(store, endpoint_id: str, state: str, count: int):
    """A condition: ``count`` deliveries of the endpoint are in ``state``."""
    return lambda _: (
        sum(d["state"] == state for d in deliveries_of(store, endpoint_id).values()) >= count
    )


def test_every_event_arrives_signed_and_in_order(scim, hook, receiver, worker, store):
    users = [scim.create_user(f"user{i}@example.com") for i in range(5)]
    for user in users:
        scim.patch(
            f"/Users/{user['id']}",
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": False}],
            },
        )
    receiver.until(lambda r: len(r.deliveries) >= 10)
    assert all(d.verified for d in receiver.deliveries)
    assert all(d.webhook_id == d.event["id"] for d in receiver.deliveries)
    for user in users:
        types = [
            d.body["type"] for d in receiver.deliveries if d.event["resource"]["id"] == user["id"]
        ]
        assert types == ["user.created", "user.deactivated"]


def test_500s_for_a_while_are_retried_and_logged(scim, hook, receiver, worker, store):
    receiver.script = lambda d, count: Answer(500 if count < 2 else 204)
    scim.create_user("ann@example.com")
    receiver.until(lambda r: any(d.verified for d in r.deliveries[2:]))
    receiver.until(settled(store, hook["id"], "succeeded", 1))
    [delivery] = deliveries_of(store, hook["id"]).values()
    assert [a["status"] for a in delivery["attempts"]] == [500, 500, 204]
    assert delivery["attempts"][0]["answer"] == "ok"
    assert delivery["attempts"][0]["next_retry"] > delivery["attempts"][0]["time"]


def test_a_blocked_user_waits_while_others_flow(scim, hook, receiver, worker, store):
    ann = scim.create_user("ann@example.com")
    receiver.until(lambda r: len(r.deliveries) >= 1)
    receiver.script = lambda d, count: Answer(
        503 if d.event["resource"]["id"] == ann["id"] and count < 2 else 200
    )
    scim.delete(f"/Users/{ann['id']}")
    bob = scim.create_user("bob@example.com")
    receiver.until(lambda r: any(d.event["resource"]["id"] == bob["id"] for d in r.deliveries))
    receiver.until(
        lambda r: (
            [
                d.body["type"]
                for d in r.deliveries
                if d.event["resource"]["id"] == ann["id"]
                and d.headers
                and d.body["type"] == "user.deleted"
            ]
            != []
        )
    )
    ann_types = [
        d.body["type"] for d in receiver.deliveries if d.event["resource"]["id"] == ann["id"]
    ]
    # Each event of Ann's reaches the receiver only after her earlier ones succeeded.
    first = {t: ann_types.index(t) for t in ann_types}
    assert first["user.created"] < first["user.deactivated"] < first["user.deleted"]
    assert ann_types.count("user.deactivated") == 3


def test_dead_letter_then_redeliver(scim, hook, receiver, worker, store):
    receiver.script = lambda d, count: Answer(500)
    scim.create_user("ann@example.com")
    receiver.until(settled(store, hook["id"], "dead", 1))
    [delivery] = deliveries_of(store, hook["id"]).values()
    assert len(delivery["attempts"]) == len(FAST.schedule) + 1
    assert delivery["next_at"] is None
    receiver.script = lambda d, count: Answer(200)
    assert admin.redeliver_failed(store, hook["id"], since=0) == 1
    receiver.until(settled(store, hook["id"], "succeeded", 1))
    assert [a["status"] for a in deliveries_of(store, hook["id"])[delivery["seq"]]["attempts"]][
        -1
    ] == 200


def test_410_disables_the_endpoint(scim, hook, receiver, worker, store):
    receiver.script = lambda d, count: Answer(410)
    scim.create_user("ann@example.com")
    receiver.until(lambda r: not store.get_record("webhooks", hook["id"])["enabled"])
    assert "410" in store.get_record("webhooks", hook["id"])["disabled_reason"]


def test_429_waits_for_retry_after(scim, hook, receiver, worker, store):
    receiver.script = lambda d, count: (
        Answer(429, {"Retry-After": "1"}) if count == 0 else Answer(200)
    )
    scim.create_user("ann@example.com")
    receiver.until(settled(store, hook["id"], "succeeded", 1))
    [delivery] = deliveries_of(store, hook["id"]).values()
    first, second = delivery["attempts"]
    assert first["status"] == 429
    assert first["next_retry"] - first["time"] >= 0.99
    assert second["time"] >= first["next_retry"]


def test_a_redirect_is_a_failure_and_not_followed(scim, hook, receiver, worker, store):
    target = receiver.url + "/elsewhere"
    receiver.script = lambda d, count: (
        Answer(302, {"Location": target}) if count == 0 else Answer(200)
    )
    scim.create_user("ann@example.com")
    receiver.until(settled(store, hook["id"], "succeeded", 1))
    assert all(d.path == "/hook" for d in receiver.deliveries)
    [delivery] = deliveries_of(store, hook["id"]).values()
    assert [a["status"] for a in delivery["attempts"]] == [302, 200]


def test_a_timeout_and_a_closed_connection_are_retried(scim, hook, receiver, worker, store):
    receiver.script = lambda d, count: (
        [Answer(hold=True), Answer(close=True)][count] if count < 2 else Answer()
    )
    scim.create_user("ann@example.com")
    receiver.until(settled(store, hook["id"], "succeeded", 1), what="timeout, close, success")
    [delivery] = deliveries_of(store, hook["id"]).values()
    errors = [a["error"] for a in delivery["attempts"]]
    assert errors == ["timed out", "connection closed without an answer", None]


def test_rotation_signs_with_both_secrets(scim, hook, receiver, worker, store):
    old = receiver.secrets.pop()
    _, new = endpoints.rotate(store, hook["id"], grace_seconds=3600)
    receiver.secrets = [new]
    scim.create_user("ann@example.com")
    receiver.until(lambda r: len(r.deliveries) >= 1)
    delivery = receiver.deliveries[0]
    assert delivery.verified
    Webhook(old).verify(delivery.raw, delivery.headers)


def test_an_expired_secret_no_longer_signs(scim, hook, receiver, worker, store):
    old = receiver.secrets.pop()
    _, new = endpoints.rotate(store, hook["id"], grace_seconds=0)
    receiver.secrets = [new]
    scim.create_user("ann@example.com")
    receiver.until(lambda r: len(r.deliveries) >= 1)
    delivery = receiver.deliveries[0]
    assert delivery.verified
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(delivery.raw, delivery.headers)


def test_replay_from_a_seq_delivers_again(scim, hook, receiver, worker, store):
    scim.create_user("ann@example.com")
    receiver.until(lambda r: len(r.deliveries) >= 1)
    first = receiver.deliveries[0]
    admin.replay(store, hook["id"], seq=first.event["seq"] - 1)
    receiver.until(lambda r: len(r.deliveries) >= 2)
    assert receiver.deliveries[1].webhook_id == first.webhook_id


def test_types_and_idps_filter(scim, other, store, receiver, worker):
    record, secret = endpoints.add(
        store, receiver.url, allow_private=True, types=["user.deleted"], idps=[other.id]
    )
    receiver.secrets.append(secret)
    scim.delete(f"/Users/{scim.create_user('ann@example.com')['id']}")
    bob = other.create_user("bob@example.com")
    other.delete(f"/Users/{bob['id']}")
    receiver.until(lambda r: len(r.deliveries) >= 1)
    assert [d.event["resource"]["id"] for d in receiver.deliveries] == [bob["id"]]
    assert [d.body["type"] for d in receiver.deliveries] == ["user.deleted"]


def test_a_private_url_is_refused_unless_allowed(store):
    with pytest.raises(endpoints.BadEndpoint, match="allow_private_networks"):
        endpoints.add(store, "http://127.0.0.1:9/hook", allow_private=False)
    assert store.records("webhooks") == []


def test_a_dead_endpoint_does_not_hold_up_another(scim, store, receiver):
    dead = Receiver()
    dead.script = lambda d, count: Answer(hold=True)
    slow = Settings(
        schedule=[60], timeout=5.0, lease_seconds=12.0, allow_private=True, poll_seconds=0.05
    )
    try:
        stuck, _ = endpoints.add(store, dead.url, allow_private=True)
        _, secret = endpoints.add(store, receiver.url, allow_private=True)
        receiver.secrets.append(secret)
        worker = Worker(store, slow).start()
        try:
            for i in range(5):
                scim.create_user(f"user{i}@example.com")
            receiver.until(lambda r: len(r.deliveries) >= 5)
            dead.until(lambda r: len(r.arrived) >= 1)
            # The dead endpoint's first attempts have not even timed out yet.
            assert deliveries_of(store, stuck["id"]) == {}
        finally:
            dead.released.set()  # end the held requests, so the worker stops at once
            worker.close(timeout=10)
    finally:
        dead.close()


def test_an_endpoint_failing_everything_for_long_enough_is_disabled(scim, hook, receiver, store):
    receiver.script = lambda d, count: Answer(500)
    quick = Settings(
        schedule=[0.05] * 50,
        timeout=1.0,
        lease_seconds=4.0,
        allow_private=True,
        poll_seconds=0.05,
        disable_after_seconds=0.3,
    )
    worker = Worker(store, quick).start()
    try:
        scim.create_user("ann@example.com")
        receiver.until(lambda r: not store.get_record("webhooks", hook["id"])["enabled"])
    finally:
        worker.close()
    assert "failed for 5 days" in store.get_record("webhooks", hook["id"])["disabled_reason"]


def test_the_url_is_checked_again_before_each_attempt(scim, hook, receiver, store):
    strict = Settings(
        schedule=[60], timeout=1.0, lease_seconds=4.0, allow_private=False, poll_seconds=0.05
    )
    worker = Worker(store, strict).start()
    try:
        scim.create_user("ann@example.com")
        receiver.until(lambda r: deliveries_of(store, hook["id"]) != {})
    finally:
        worker.close()
    [delivery] = deliveries_of(store, hook["id"]).values()
    assert "allow_private_networks" in delivery["attempts"][0]["error"]
    assert receiver.deliveries == []


def caught_up(store, endpoint_id: str, seq: int):
    """A condition: the endpoint's cursor is at ``seq`` (the batch before it all settled)."""
    return lambda _: store.get_record("webhooks", endpoint_id)["cursor"] >= seq


def test_a_restart_skips_what_was_settled_past_the_cursor(scim, hook, receiver, store):
    start = hook["cursor"]
    worker = Worker(store, FAST).start()
    try:
        for i in range(3):
            scim.create_user(f"user{i}@example.com")
        receiver.until(caught_up(store, hook["id"], store.last_seq()))
    finally:
        worker.close()
    # As after a crash between the attempts and the cursor's move: the log has them settled.
    endpoints.change(store, hook["id"], lambda r: {**r, "cursor": start})
    worker = Worker(store, FAST).start()
    try:
        scim.create_user("late@example.com")
        receiver.until(caught_up(store, hook["id"], store.last_seq()))
    finally:
        worker.close()
    assert len(receiver.arrived) == 4
    assert set(receiver.arrivals.values()) == {1}


def test_a_replay_a_crash_interrupted_still_delivers_again(scim, hook, receiver, store):
    start = hook["cursor"]
    worker = Worker(store, FAST).start()
    try:
        for i in range(2):
            scim.create_user(f"user{i}@example.com")
        receiver.until(caught_up(store, hook["id"], store.last_seq()))
    finally:
        worker.close()
    # As after a crash just after "Replay from" moved the cursor back: a new pass over the log.
    endpoints.change(store, hook["id"], lambda r: {**r, "cursor": start, "replays": 1})
    worker = Worker(store, FAST).start()
    try:
        receiver.until(lambda r: len(r.arrived) >= 4, what="the replayed events")
        receiver.until(caught_up(store, hook["id"], store.last_seq()))
    finally:
        worker.close()
    assert set(receiver.arrivals.values()) == {2}
    assert {d["replay"] for d in deliveries_of(store, hook["id"]).values()} == {1}


def test_a_retry_after_a_restart_is_not_sent_again_with_its_batch(scim, hook, receiver, store):
    receiver.script = lambda d, count: Answer(500 if count == 0 else 200)
    start = hook["cursor"]
    patient = Settings(
        schedule=[60], timeout=1.0, lease_seconds=4.0, allow_private=True, poll_seconds=0.05
    )
    worker = Worker(store, patient).start()
    try:
        scim.create_user("ann@example.com")
        receiver.until(caught_up(store, hook["id"], store.last_seq()))
    finally:
        worker.close()
    [queued] = deliveries_of(store, hook["id"]).values()
    assert queued["state"] == "pending"
    # As after a crash before the cursor moved, with the retry due now.
    endpoints.change(store, hook["id"], lambda r: {**r, "cursor": start})
    store.put_record(DELIVERIES, queued["key"], {**queued, "next_at": None})
    worker = Worker(store, FAST).start()
    try:
        receiver.until(settled(store, hook["id"], "succeeded", 1))
        receiver.until(caught_up(store, hook["id"], store.last_seq()))
    finally:
        worker.close()
    [delivery] = deliveries_of(store, hook["id"]).values()
    assert [a["status"] for a in delivery["attempts"]] == [500, 200]
    assert len(receiver.arrived) == 2
