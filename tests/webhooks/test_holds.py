"""Webhooks deliver what the change feed shows, on both backends: while the mass-deprovisioning
guard holds an IdP's deactivations, none of the held ones reaches an endpoint; Apply releases
them, and they arrive, signed (each user's events in order: ``test_delivery``)."""

from __future__ import annotations

import pytest

from lifecycle import holds
from tests.conftest import sample
from tests.feedtools import read_feed
from tests.idps import IdP
from tests.webhook_receiver import Receiver
from webhooks import endpoints
from webhooks.delivery import Settings
from webhooks.endpoints import DELIVERIES
from webhooks.worker import Worker

OKTA = {"User-Agent": "Okta SCIM Client 1.0.0", "Accept": "application/scim+json"}
FAST = Settings(schedule=[0.05], timeout=1.0, allow_private=True, poll_seconds=0.05)


@pytest.fixture
def okta(client, store, fake_clock):
    return IdP(client, store, "Okta", "okta", OKTA, "application/json")


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


def seed(idp, count: int) -> list[str]:
    """Create ``count`` users as Okta does (without a password, to spare the hashing)."""
    ids = []
    for n in range(count):
        body = sample("okta-create-user.json")
        del body["password"]
        body.update(userName=f"user{n:03d}@okta.local", externalId=f"00u{n:06d}")
        body["emails"][0]["value"] = body["userName"]
        response = idp.post("/Users", body)
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    return ids


def caught_up(store, hook: dict):
    """A condition: the endpoint has followed the whole event log and settled every delivery."""

    def condition(_) -> bool:
        record = store.get_record(endpoints.TABLE, hook["id"])
        pending = store.records(DELIVERIES, lambda r: r["state"] == "pending")
        return record["cursor"] >= store.last_seq() and not pending

    return condition


def deactivated(receiver: Receiver) -> list[str]:
    """The users whose deactivation arrived (each event counted once)."""
    seen: dict[str, str] = {}
    for delivery in receiver.arrived:
        if delivery.event["type"] == "user.deactivated":
            seen.setdefault(delivery.webhook_id, delivery.event["resource"]["id"])
    return list(seen.values())


def test_held_deactivations_are_delivered_only_once_applied(okta, store, fake_clock, receiver):
    ids = seed(okta, 100)
    hook, secret = endpoints.add(store, receiver.url, allow_private=True)
    receiver.secrets.append(secret)
    worker = Worker(store, FAST).start()
    try:
        for uid in ids[:30]:  # Okta deactivating 30 of 100 users, two seconds apart
            response = okta.patch(f"/Users/{uid}", sample("okta-patch-deactivate.json"))
            assert response.status_code == 200
            fake_clock.advance(seconds=2)
        (hold,) = holds.holds(store, open_only=True)
        receiver.until(caught_up(store, hook), what="the endpoint caught up with the feed")
        feed = read_feed(store, hook["cursor"])
        shown = [e["resource"]["id"] for e in feed if e["type"] == "user.deactivated"]
        assert 0 < len(shown) < 30  # the guard held the rest
        assert sorted(deactivated(receiver)) == sorted(shown)

        holds.apply(store, hold["id"], fake_clock(), "ada")
        receiver.until(lambda r: len(deactivated(r)) == 30, what="the released deactivations")
        receiver.until(caught_up(store, hook), what="the endpoint caught up again")
    finally:
        worker.close()
    assert sorted(deactivated(receiver)) == sorted(ids[:30])
    assert all(d.verified for d in receiver.deliveries)
    # Everything the feed shows since the endpoint was added, and nothing else.
    since = {e["id"] for e in read_feed(store, hook["cursor"])}
    assert {d.webhook_id for d in receiver.arrived} == since
