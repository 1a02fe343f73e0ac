"""``flask --app app webhook …``: add prints the secret once, list never shows it, each change
is audited, and unknown ids or unsafe URLs fail in one line."""

from __future__ import annotations

import json

import pytest

from webhooks import endpoints


@pytest.fixture
def private(app):
    app.config["ROSTER"]["webhook_allow_private_networks"] = True


def run(runner, *args):
    return runner.invoke(args=["webhook", *args], catch_exceptions=False)


def test_add_prints_id_and_secret_once_and_list_hides_it(runner, private, store):
    added = run(runner, "add", "http://127.0.0.1:9/hook", "--types", "user.created", "--json")
    assert added.exit_code == 0, added.output
    data = json.loads(added.output)
    assert data["secret"].startswith("whsec_")
    assert data["types"] == ["user.created"]
    listed = run(runner, "list", "--json")
    assert data["id"] in listed.output
    assert data["secret"] not in listed.output
    actions = [e["action"] for e in store.audit_entries()[1]]
    assert actions == ["webhook.create"]


def test_a_private_url_is_refused_naming_the_setting(runner, store):
    result = run(runner, "add", "http://127.0.0.1:9/hook")
    assert result.exit_code == 1
    assert "[webhooks] allow_private_networks = true" in result.output
    assert store.records("webhooks") == []


def test_enable_disable_rotate_delete(runner, private, store):
    record, first = endpoints.add(store, "http://127.0.0.1:9/hook", allow_private=True)
    assert run(runner, "disable", record["id"]).exit_code == 0
    assert store.get_record("webhooks", record["id"])["enabled"] is False
    assert run(runner, "enable", record["id"]).exit_code == 0
    assert store.get_record("webhooks", record["id"])["enabled"] is True
    rotated = json.loads(run(runner, "rotate-secret", record["id"], "--json").output)
    secrets = [s["secret"] for s in endpoints.live(store.get_record("webhooks", record["id"]))]
    assert secrets == [rotated["secret"], first]
    assert run(runner, "delete", record["id"]).exit_code == 0
    assert store.records("webhooks") == []
    actions = [e["action"] for e in reversed(store.audit_entries()[1])]
    assert actions == [
        "webhook.update",
        "webhook.update",
        "webhook.rotate_secret",
        "webhook.delete",
    ]


def test_an_unknown_id_fails_in_one_line(runner):
    result = run(runner, "enable", "nope")
    assert result.exit_code == 1
    assert "no webhook with id 'nope'" in result.output


def test_deliveries_redeliver_and_replay(runner, private, store):
    record, _ = endpoints.add(store, "http://127.0.0.1:9/hook", allow_private=True)
    dead = {
        "key": f"{record['id']}:{7:020d}",
        "endpoint": record["id"],
        "seq": 7,
        "event_id": "e",
        "type": "user.created",
        "resource": "user:u",
        "state": "dead",
        "next_at": None,
        "attempts": [
            {
                "time": 1e9,
                "status": 500,
                "latency_ms": 1,
                "answer": "",
                "error": None,
                "next_retry": None,
            }
        ],
        "event": {},
    }
    store.put_records("webhook_deliveries", {dead["key"]: dead})
    shown = json.loads(run(runner, "deliveries", record["id"], "--json").output)
    assert [d["state"] for d in shown] == ["dead"] and "event" not in shown[0]
    result = run(runner, "redeliver", record["id"], "--failed-since", "2001-01-01T00:00:00Z")
    assert result.exit_code == 0 and "queued 1" in result.output
    assert store.get_record("webhook_deliveries", dead["key"])["state"] == "pending"
    assert store.get_record("webhooks", record["id"])["requeue"] == 1
    assert run(runner, "replay", record["id"], "--after-seq", "3").exit_code == 0
    assert store.get_record("webhooks", record["id"])["replay_from"] == 3
    bad = run(runner, "redeliver", record["id"], "--failed-since", "yesterday")
    assert bad.exit_code == 1 and "is not a time" in bad.output
    missing = run(runner, "redeliver", record["id"], "--seq", "99")
    assert missing.exit_code == 1 and "no delivery of event 99" in missing.output
