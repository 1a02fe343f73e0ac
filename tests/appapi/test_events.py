"""``GET /api/v1/events`` through HTTP: what SCIM writes record, cursors, filters, long polls
and every bad parameter as a problem."""

from __future__ import annotations

import json
import threading
import time

import pytest

import storage
from tests.conftest import patch_op
from tests.feedtools import until, waiting
from tokens import apikeys

PROBLEM = "application/problem+json"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def key(store):
    return apikeys.issue(store, "billing app")[1]


def feed(client, key, query: str = ""):
    return client.get(f"/api/v1/events{query}", headers={"Authorization": f"Bearer {key}"})


def read_all(client, key, after: int = 0) -> list[dict]:
    found = []
    while True:
        body = feed(client, key, f"?after={after}&limit=1000").get_json()
        found += body["data"]
        after = body["next_after"]
        if not body["has_more"]:
            return found


def test_the_feed_shows_what_scim_writes_did_and_which_request_did_it(app, client, scim, key):
    created = scim.post("/Users", {"schemas": [CORE], "userName": "ann", "active": True})
    uid = created.get_json()["id"]
    deactivated = scim.patch(
        f"/Users/{uid}", patch_op({"op": "replace", "path": "active", "value": False})
    )
    response = feed(client, key)
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert [e["type"] for e in body["data"]] == ["user.created", "user.deactivated"]
    assert body["has_more"] is False and body["next_after"] == body["data"][-1]["seq"]
    event = body["data"][1]
    assert event["idp"] == {"id": scim.id, "name": "Primary IdP", "kind": "generic"}
    assert event["resource"]["version"] == deactivated.headers["ETag"]
    assert event["data"]["active"] is False and event["changed"] == ["active"]
    request_id = deactivated.headers["X-Request-Id"]
    assert event["source"] == {
        "method": "PATCH",
        "path": f"/scim/v2/{scim.id}/Users/{uid}",
        "request_id": request_id,
    }
    logged = storage.get_request_log(app).entries(scim.id)
    assert [e["method"] for e in logged if e["request_id"] == request_id] == ["PATCH"]


def test_okta_resending_a_whole_user_records_nothing_and_keeps_the_etag(client, scim, key):
    body = {"schemas": [CORE], "userName": "ann@example.com", "name": {"givenName": "Ann"}}
    created = scim.post("/Users", body)
    again = scim.put(f"/Users/{created.get_json()['id']}", body)
    assert again.status_code == 200
    assert again.headers["ETag"] == created.headers["ETag"]
    assert [e["type"] for e in read_all(client, key)] == ["user.created"]


def test_entra_resending_a_known_member_records_nothing(client, scim, key):
    uid = scim.create_user("ann")["id"]
    gid = scim.create_group("Crew", (uid,))["id"]
    add = patch_op({"op": "add", "path": "members", "value": [{"value": uid}]})
    before = scim.get(f"/Groups/{gid}").headers["ETag"]
    assert scim.patch(f"/Groups/{gid}", add).headers["ETag"] == before
    assert [e["type"] for e in read_all(client, key)] == [
        "user.created",
        "group.created",
        "group.members_added",
    ]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?after=abc", "after"),
        ("?after=-1", "after"),
        ("?after=1.5", "after"),
        ("?after=99999999999999999999", "after"),
        ("?after=12", "after"),  # ahead of the feed
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=ten", "limit"),
        ("?types=user.created,user.exploded", "types"),
        ("?wait=31", "wait"),
        ("?wait=-1", "wait"),
        ("?wait=nan", "wait"),
        ("?idp=" + "x" * 257, "idp"),
        ("?type=user.created", "type"),  # misspelt: not quietly everything
        ("?after=1&after=2", "after"),
    ],
)
def test_bad_parameters_are_400_problems_naming_them(client, store, key, query, parameter):
    store.create("User", "some-idp", {"schemas": [CORE], "userName": "ann"})
    last = store.last_seq()
    response = feed(client, key, query.replace("after=12", f"after={last + 1}"))
    assert response.status_code == 400 and response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["parameter"] == parameter and problem["detail"]
    assert store.last_seq() == last


def test_a_wrong_key_is_a_401_problem(client, key):
    response = feed(client, "roster_key_wrong")
    assert response.status_code == 401 and response.mimetype == PROBLEM


def test_a_cursor_older_than_what_is_kept_is_410(client, store, key, monkeypatch):
    for name in ("ann", "bob"):
        store.create("User", "some-idp", {"schemas": [CORE], "userName": name})
    last = store.last_seq()
    # Everything is past retention: the cut-off is in the future.
    for module in ("storage.tinydb.store", "storage.postgres.store"):
        monkeypatch.setattr(f"{module}.cutoff", lambda retention: "9999")
    assert store.prune_events() == last
    response = feed(client, key, f"?after={last - 1}")
    assert response.status_code == 410 and response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["parameter"] == "after" and problem["pruned_through"] == last
    assert "/api/v1/users" in problem["detail"]
    assert feed(client, key, f"?after={last}").get_json()["data"] == []


def test_filters_by_type_and_idp(client, scim, other, key):
    ann = scim.create_user("ann")["id"]
    other.create_user("bob")
    scim.delete(f"/Users/{ann}")
    body = feed(client, key, "?types=user.deleted,user.deactivated").get_json()
    assert [e["type"] for e in body["data"]] == ["user.deactivated", "user.deleted"]
    body = feed(client, key, f"?idp={other.id}").get_json()
    assert [e["resource"]["username"] for e in body["data"]] == ["bob"]


def long_poll(app, key, query: str, answers: list) -> threading.Thread:
    """GET the feed from another thread (its own client), appending (seconds, response)."""

    def run():
        started = time.monotonic()
        response = feed(app.test_client(), key, query)
        answers.append((time.monotonic() - started, response))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_long_poll_answers_with_the_event_written_while_it_waited(app, store, scim, key):
    after = store.last_seq()
    answers: list = []
    reader = long_poll(app, key, f"?after={after}&wait=20", answers)
    until(lambda: waiting(store) == 1)  # it is waiting before the write
    written = time.monotonic()
    scim.create_user("ann")
    reader.join(timeout=30)
    ((_, response),) = answers
    assert time.monotonic() - written < 5
    assert [e["type"] for e in response.get_json()["data"]] == ["user.created"]


def test_a_filtered_long_poll_waits_past_events_it_does_not_want(app, store, scim, key):
    uid = scim.create_user("ann")["id"]
    after = store.last_seq()
    answers: list = []
    reader = long_poll(app, key, f"?after={after}&types=user.deleted&wait=20", answers)
    until(lambda: waiting(store) == 1)
    scim.patch(f"/Users/{uid}", patch_op({"op": "replace", "path": "title", "value": "CTO"}))
    scim.delete(f"/Users/{uid}")
    reader.join(timeout=30)
    ((_, response),) = answers
    body = response.get_json()
    assert [e["type"] for e in body["data"]] == ["user.deleted"]
    assert body["next_after"] == store.last_seq()


def test_without_events_a_long_poll_ends_at_its_wait(client, store, key):
    started = time.monotonic()
    body = feed(client, key, f"?after={store.last_seq()}&wait=0.3").get_json()
    assert body == {"data": [], "next_after": store.last_seq(), "has_more": False}
    assert time.monotonic() - started >= 0.3


def test_long_polls_hold_at_most_half_the_threads(app, store, scim, key):
    app.config["ROSTER"]["threads"] = 2  # one waiting reader at most
    answers: list = []
    reader = long_poll(app, key, f"?after={store.last_seq()}&wait=20", answers)
    until(lambda: waiting(store) == 1)
    refused = feed(app.test_client(), key, f"?after={store.last_seq()}&wait=5")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    scim.create_user("ann")
    reader.join(timeout=30)
    assert answers[0][1].status_code == 200


def test_events_never_carry_a_password_or_its_hash(app, client, scim, key):
    uid = scim.create_user("ann", password="correct horse battery")["id"]
    op = {"op": "replace", "path": "password", "value": "another staple"}
    scim.patch(f"/Users/{uid}", patch_op(op))
    events = read_all(client, key)
    assert [e["type"] for e in events] == ["user.created", "user.updated"]
    assert events[-1]["changed"] == ["password"]
    stored = storage.get_store(app).get("User", scim.id, uid)["_password"]
    text = json.dumps(events)
    for secret in ("correct horse battery", "another staple", stored, "_password"):
        assert secret not in text
