"""Settings → Webhooks: add (secret shown once), the delivery log, Redeliver in one click, the
banner for an endpoint Roster disabled, and CSRF; the same audit entries as the CLI."""

from __future__ import annotations

import re

import pytest

from tests.consoletools import submit, text
from tests.webhook_receiver import Answer, Receiver
from webhooks import endpoints
from webhooks.delivery import Settings
from webhooks.endpoints import DELIVERIES
from webhooks.worker import Worker

PAGE = "/settings/webhooks"
FAST = Settings(
    schedule=[0.05], timeout=1.0, lease_seconds=4.0, allow_private=True, poll_seconds=0.05
)


@pytest.fixture
def receiver(app):
    app.config["ROSTER"]["webhook_allow_private_networks"] = True
    made = Receiver()
    yield made
    made.close()


def shown_secret(response) -> str | None:
    match = re.search(r'id="webhook-secret" type="text" value="([^"]+)"', text(response))
    return match.group(1) if match else None


def test_add_shows_the_secret_once(signed_in, receiver, store):
    response = submit(
        signed_in,
        PAGE,
        {"url": receiver.url, "description": "Billing", "types": ["user.created", "user.deleted"]},
    )
    assert response.status_code == 200
    secret = shown_secret(response)
    assert secret and secret.startswith("whsec_")
    (record,) = endpoints.listing(store)
    assert record["types"] == ["user.created", "user.deleted"]
    again = text(signed_in.get(PAGE))
    assert secret not in again and receiver.url in again
    assert secret not in text(signed_in.get(f"{PAGE}/{record['id']}"))
    assert [e["action"] for e in store.audit_entries()[1]][0] == "webhook.create"


def test_a_private_url_is_refused_naming_the_setting(signed_in, store):
    response = submit(signed_in, PAGE, {"url": "http://127.0.0.1:9/hook"})
    assert response.status_code == 400
    assert "allow_private_networks = true" in text(response)
    assert endpoints.listing(store) == []


def test_a_post_without_csrf_changes_nothing(signed_in, receiver, store):
    response = signed_in.post(PAGE, data={"url": receiver.url})
    assert response.status_code == 400
    assert endpoints.listing(store) == []


def test_a_dead_letter_is_redelivered_with_one_click(signed_in, scim, receiver, store):
    record, secret = endpoints.add(store, receiver.url, allow_private=True)
    receiver.secrets.append(secret)
    receiver.script = lambda d, count: Answer(500)
    worker = Worker(store, FAST).start()
    try:
        scim.create_user("ann@example.com")
        dead = lambda _: any(d["state"] == "dead" for d in store.records(DELIVERIES))  # noqa: E731
        receiver.until(dead, what="a dead letter")
        page = f"{PAGE}/{record['id']}"
        log = text(signed_in.get(page))
        assert "Failed" in log and "user.created" in log and "500" in log
        (delivery,) = store.records(DELIVERIES)
        receiver.script = lambda d, count: Answer(200)
        response = submit(signed_in, f"{page}/redeliver", {"seq": delivery["seq"]}, page=page)
        assert response.status_code == 303
        ok = lambda _: store.records(DELIVERIES)[0]["state"] == "succeeded"  # noqa: E731
        receiver.until(ok, what="the redelivery")
        assert "Delivered" in text(signed_in.get(page))
        assert all(d.verified for d in receiver.deliveries)
    finally:
        worker.close()


def test_the_banner_shows_until_someone_opens_the_endpoint(signed_in, receiver, store):
    record, _ = endpoints.add(store, receiver.url, allow_private=True)
    endpoints.set_enabled(store, record["id"], False, "the endpoint answered 410 Gone")
    assert "Roster disabled the webhook" in text(signed_in.get("/settings/api-keys"))
    signed_in.get(f"{PAGE}/{record['id']}")
    assert "Roster disabled the webhook" not in text(signed_in.get("/settings/api-keys"))


def test_send_test_event_reports_the_answer(signed_in, receiver, store):
    record, secret = endpoints.add(store, receiver.url, allow_private=True)
    receiver.secrets.append(secret)
    page = f"{PAGE}/{record['id']}"
    response = submit(signed_in, f"{page}/test", page=page)
    assert response.status_code == 303
    assert "The test event succeeded: 200" in text(signed_in.get(page))
    (delivery,) = receiver.deliveries
    assert delivery.verified and delivery.body["type"] == "webhook.test"


@pytest.mark.parametrize(
    "action, data",
    [
        ("replay", {"after_seq": "x"}),
        ("replay", {"since": "soon"}),
        ("redeliver", {"since": "never"}),
        ("redeliver", {"seq": "12"}),
    ],
)
def test_bad_redeliver_and_replay_input_is_refused(signed_in, receiver, store, action, data):
    record, _ = endpoints.add(store, receiver.url, allow_private=True)
    page = f"{PAGE}/{record['id']}"
    response = submit(signed_in, f"{page}/{action}", data, page=page)
    assert response.status_code == 400
    assert store.get_record("webhooks", record["id"]) == record
