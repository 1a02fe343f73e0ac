"""The mass-deprovisioning guard end to end, on both backends, the clock injected: an Okta-shaped
replay trips it at the right request; the IdP sees what it did while the application API and
the change feed see none of the held changes; Apply releases them in order; Discard leaves the
users as they were, marked; an IdP below the threshold is never held; a restart keeps the hold.
Also the "deactivate" policy for deletions, and the hold's console pages and CLI."""

from __future__ import annotations

import json

import pytest

import storage
from app import create_app
from lifecycle import holds
from lifecycle.policy import Policy
from providers import delete_idp, set_policy
from tests.conftest import Tenant, backend_config, patch_op, sample
from tests.consoletools import submit, text
from tests.feedtools import read_feed
from tests.idps import IdP

OKTA = {"User-Agent": "Okta SCIM Client 1.0.0", "Accept": "application/scim+json"}
HELD = "/settings/held-changes"


@pytest.fixture
def okta(client, store, fake_clock):
    return IdP(client, store, "Okta", "okta", OKTA, "application/json")


def seed(idp, count: int, prefix: str = "user") -> list[str]:
    """Create ``count`` users the way Okta does (without a password, to spare the hashing)."""
    ids = []
    for n in range(count):
        body = sample("okta-create-user.json")
        del body["password"]
        body.update(userName=f"{prefix}{n:03d}@okta.local", externalId=f"00{prefix}{n:06d}")
        body["emails"][0]["value"] = body["userName"]
        response = idp.post("/Users", body)
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    return ids


def deactivate(idp, uid: str) -> None:
    """Okta's deactivation: a PATCH without a path. The IdP always gets its answer."""
    response = idp.patch(f"/Users/{uid}", sample("okta-patch-deactivate.json"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["active"] is False


def open_holds(store) -> list[dict]:
    return holds.holds(store, open_only=True)


def of_type(events: list[dict], kind: str) -> list[str]:
    return [e["resource"]["id"] for e in events if e["type"] == kind]


def replay(idp, store, clock, ids: list[str]) -> list[int]:
    """Deactivate ``ids`` two seconds apart; return after which requests a hold was open."""
    tripped = []
    for n, uid in enumerate(ids, 1):
        deactivate(idp, uid)
        clock.advance(seconds=2)
        if open_holds(store):
            tripped.append(n)
    return tripped


def inactive_in_api(api) -> set[str]:
    return {u["id"] for u in api.walk("/users", active="false")}


# --- the guard ------------------------------------------------------------------------------


def test_okta_replay_of_60_of_100_is_held_from_the_eleventh(okta, store, api, fake_clock):
    ids = seed(okta, 100)
    start = store.last_seq()
    tripped = replay(okta, store, fake_clock, ids[:60])
    assert tripped[0] == 11 and len(tripped) == 50
    (hold,) = open_holds(store)
    assert (hold["before"], hold["changes"], hold["users"], hold["baseline"]) == (10, 50, 50, 100)
    assert holds.headline(hold, "Okta") == (
        "Okta deactivated or deleted 60 of 100 users in 2 minutes: 50 changes held for your review."
    )
    # The IdP sees what it did.
    lookup = okta.lookup("Users", "active eq false", count=200)
    assert lookup["totalResults"] == 60
    assert okta.get(f"/Users/{ids[59]}").get_json()["active"] is False
    # The applications see none of the held changes: not in the feed, not in the API.
    events = read_feed(store, start)
    assert of_type(events, "user.deactivated") == ids[:10]
    assert inactive_in_api(api) == set(ids[:10])
    assert api.ok(f"/users/{ids[59]}")["data"]["active"] is True
    assert len(api.walk("/users", active="true")) == 90
    assert api.ok("/idps")["data"][0]["users"] == 100


def test_apply_releases_the_held_changes_in_order(okta, store, api, fake_clock):
    ids = seed(okta, 100)
    replay(okta, store, fake_clock, ids[:60])
    (hold,) = open_holds(store)
    start = store.last_seq()
    applied = holds.apply(store, hold["id"], fake_clock(), "ada")
    assert applied["state"] == "applied" and applied["closed_by"] == "ada"
    released = read_feed(store, start)
    assert of_type(released, "user.deactivated") == ids[10:60]
    assert [e["seq"] for e in released] == sorted(e["seq"] for e in released)
    assert inactive_in_api(api) == set(ids[:60])
    assert open_holds(store) == []
    # The window starts afresh: the next deactivation goes straight through.
    start = store.last_seq()
    deactivate(okta, ids[60])
    assert of_type(read_feed(store, start), "user.deactivated") == [ids[60]]


def test_discard_leaves_the_users_as_they_were_and_marked(okta, store, api, fake_clock):
    ids = seed(okta, 100)
    replay(okta, store, fake_clock, ids[:60])
    (hold,) = open_holds(store)
    start = store.last_seq()
    holds.discard(store, hold["id"], fake_clock(), "ada")
    assert read_feed(store, start) == []
    assert inactive_in_api(api) == set(ids[:10])
    marked = {d["id"] for d in holds.diverged(store, okta.id)}
    assert marked == set(ids[10:60])
    assert okta.get(f"/Users/{ids[30]}").get_json()["active"] is False  # the IdP's own view
    # The IdP writes one of them again: its mark clears, and the applications learn the
    # change from what they saw (active), not from what the IdP had (inactive).
    start = store.last_seq()
    rename = patch_op({"op": "replace", "value": {"displayName": "Renamed"}})
    assert okta.patch(f"/Users/{ids[30]}", rename).status_code == 200
    (event,) = read_feed(store, start)
    assert event["type"] == "user.deactivated" and event["resource"]["id"] == ids[30]
    assert set(event["changed"]) == {"active", "display_name"}
    assert ids[30] not in {d["id"] for d in holds.diverged(store, okta.id)}
    # Reactivated in the IdP: back to what the applications saw, nothing to tell them.
    start = store.last_seq()
    reactivate = patch_op({"op": "replace", "value": {"active": True}})
    assert okta.patch(f"/Users/{ids[31]}", reactivate).status_code == 200
    assert read_feed(store, start) == []
    assert api.ok(f"/users/{ids[31]}")["data"]["active"] is True


def test_discard_does_not_mark_a_user_the_idp_restored_meanwhile(okta, store, fake_clock):
    ids = seed(okta, 20)
    replay(okta, store, fake_clock, ids[:12])
    reactivate = patch_op({"op": "replace", "value": {"active": True}})
    assert okta.patch(f"/Users/{ids[11]}", reactivate).status_code == 200
    (hold,) = open_holds(store)
    holds.discard(store, hold["id"], fake_clock(), "ada")
    assert {d["id"] for d in holds.diverged(store, okta.id)} == {ids[10]}


def test_below_the_threshold_nothing_is_held(okta, store, api, fake_clock):
    ids = seed(okta, 150)
    start = store.last_seq()
    # 10 users is not more than 10; then 14 of 150 is under 10 %.
    assert replay(okta, store, fake_clock, ids[:14]) == []
    assert of_type(read_feed(store, start), "user.deactivated") == ids[:14]
    assert inactive_in_api(api) == set(ids[:14])


def test_a_slow_deprovisioning_is_never_held(okta, store, fake_clock):
    ids = seed(okta, 40)
    for uid in ids[:30]:
        deactivate(okta, uid)
        fake_clock.advance(minutes=2)  # never more than 8 within 15 minutes
    assert open_holds(store) == []


def test_guard_off_never_holds(okta, store, fake_clock):
    set_policy(store, okta.id, Policy(guard=False))
    ids = seed(okta, 20)
    assert replay(okta, store, fake_clock, ids) == []


def test_creations_and_updates_are_never_held(okta, store, api, fake_clock):
    ids = seed(okta, 20)
    replay(okta, store, fake_clock, ids[:12])
    assert open_holds(store)
    start = store.last_seq()
    created = okta.create_user("late@okta.local")
    rename = patch_op({"op": "replace", "value": {"displayName": "Still here"}})
    assert okta.patch(f"/Users/{ids[15]}", rename).status_code == 200
    events = read_feed(store, start)
    assert of_type(events, "user.created") == [created["id"]]
    assert of_type(events, "user.updated") == [ids[15]]
    # A user already held stays held whatever the IdP writes next: its order is kept.
    reactivate = patch_op({"op": "replace", "value": {"active": True}})
    start = store.last_seq()
    assert okta.patch(f"/Users/{ids[11]}", reactivate).status_code == 200
    assert read_feed(store, start) == []
    (hold,) = open_holds(store)
    held = [(c["user_id"], c["what"]) for c in holds.changes_of(store, hold["id"])]
    assert held == [
        (ids[10], "deactivated"),
        (ids[11], "deactivated"),
        (ids[11], "reactivated"),
    ]


def test_held_deletions_keep_users_and_memberships(okta, store, api, fake_clock):
    ids = seed(okta, 20)
    group = okta.create_group("Everyone", tuple(ids))
    start = store.last_seq()
    for uid in ids[:12]:
        assert okta.delete(f"/Users/{uid}").status_code == 204
    assert okta.get(f"/Users/{ids[11]}").status_code == 404  # the IdP's view
    assert of_type(read_feed(store, start), "user.deleted") == ids[:10]
    held_user = api.ok(f"/users/{ids[11]}")["data"]
    assert held_user["active"] is True and held_user["groups"][0]["id"] == group["id"]
    members = {m["id"] for m in api.walk(f"/groups/{group['id']}/members")}
    assert members == set(ids[10:])
    assert api.ok(f"/groups/{group['id']}")["data"]["member_count"] == 10
    assert {g["id"] for g in api.walk("/groups", member=ids[11])} == {group["id"]}
    assert api.ok("/idps")["data"][0]["users"] == 10
    (hold,) = open_holds(store)
    start = store.last_seq()
    holds.apply(store, hold["id"], fake_clock(), "ada")
    released = read_feed(store, start)
    one = ["user.deactivated", "group.members_removed", "user.deleted"]
    assert [e["type"] for e in released] == one + one
    assert [e["resource"]["id"] for e in released if e["type"] == "user.deleted"] == ids[10:12]
    assert api.problem(f"/users/{ids[11]}", 404)
    assert {m["id"] for m in api.walk(f"/groups/{group['id']}/members")} == set(ids[12:])


def test_a_restart_in_the_middle_keeps_the_hold(request, backend, tmp_path, fake_clock):
    config = backend_config(request, backend, tmp_path)
    first = create_app(config)
    from clock import set_clock

    set_clock(first, fake_clock)
    okta = Tenant(first.test_client(), storage.get_store(first), "Okta", "okta")
    ids = seed(okta, 30)
    replay(okta, storage.get_store(first), fake_clock, ids[:15])
    storage.close_store(first)

    second = create_app(config)
    set_clock(second, fake_clock)
    try:
        store = storage.get_store(second)
        okta.client = second.test_client()
        (hold,) = open_holds(store)
        assert hold["changes"] == 5
        start = store.last_seq()
        deactivate(okta, ids[20])  # joins the hold after the restart too
        assert read_feed(store, start) == []
        assert holds.holds(store, open_only=True)[0]["changes"] == 6
        holds.apply(store, hold["id"], fake_clock(), "ada")
        assert of_type(read_feed(store, start), "user.deactivated") == [*ids[10:15], ids[20]]
    finally:
        storage.close_store(second)


# --- the "deactivate" policy for deletions ---------------------------------------------------


def test_deactivate_policy_keeps_a_deleted_user_then_deletes_it(okta, store, api, fake_clock):
    set_policy(store, okta.id, Policy(on_delete="deactivate", keep_days=7))
    (uid,) = seed(okta, 1)
    start = store.last_seq()
    assert okta.delete(f"/Users/{uid}").status_code == 204
    assert okta.get(f"/Users/{uid}").status_code == 404  # RFC 7644 §3.6, for the IdP
    assert okta.lookup("Users", 'userName eq "user000@okta.local"')["totalResults"] == 0
    assert [e["type"] for e in read_feed(store, start)] == ["user.deactivated"]
    assert api.ok(f"/users/{uid}")["data"]["active"] is False
    fake_clock.advance(days=7)
    start = store.last_seq()
    assert okta.get("/Users").status_code == 200  # any request lets due deletions happen
    (event,) = read_feed(store, start)
    assert event["type"] == "user.deleted" and event["resource"]["id"] == uid
    assert api.problem(f"/users/{uid}", 404)


def test_a_kept_user_created_again_comes_back_with_its_id(okta, store, api, fake_clock):
    set_policy(store, okta.id, Policy(on_delete="deactivate", keep_days=30))
    (uid,) = seed(okta, 1)
    assert okta.delete(f"/Users/{uid}").status_code == 204
    fake_clock.advance(days=3)
    start = store.last_seq()
    body = sample("okta-create-user.json")
    del body["password"]
    body.update(userName="USER000@okta.local", externalId="00user000000")  # any case
    again = okta.post("/Users", body)
    assert again.status_code == 201 and again.get_json()["id"] == uid
    (event,) = read_feed(store, start)
    assert event["type"] == "user.reactivated" and event["resource"]["id"] == uid
    assert api.ok(f"/users/{uid}")["data"]["active"] is True
    assert store.records("downstream") == []
    fake_clock.advance(days=30)
    start = store.last_seq()
    assert okta.get("/Users").status_code == 200
    assert read_feed(store, start) == []  # nothing left to purge


def test_a_bulk_request_gives_kept_users_back_also_after_deleting_them_itself(okta, store):
    # A /Bulk request reads the users its IdP may give back once, and again after a deletion:
    # the stranger's POST finds none; user000, deleted after it, must still come back.
    set_policy(store, okta.id, Policy(on_delete="deactivate", keep_days=30))
    first, second = seed(okta, 2)
    assert okta.delete(f"/Users/{second}").status_code == 204  # kept before the request

    def post(n: int, again: str = "") -> dict:
        body = sample("okta-create-user.json")
        del body["password"]
        body.update(userName=f"USER{n:03d}@okta.local", externalId=f"00again{n:06d}")
        return {"method": "POST", "path": "/Users", "bulkId": f"u{n}{again}", "data": body}

    request = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            post(1),  # kept before the request
            post(7),  # a stranger: nothing to give back
            {"method": "DELETE", "path": f"/Users/{first}"},
            post(0),  # kept by the DELETE just before
            post(0, "again"),  # given back already: user000 exists again
        ],
    }
    response = okta.post("/Bulk", request)
    assert response.status_code == 200, response.get_json()
    answers = response.get_json()["Operations"]
    assert [a["status"] for a in answers] == ["201", "201", "204", "201", "409"]
    assert answers[0]["location"].endswith(f"/Users/{second}")
    assert answers[3]["location"].endswith(f"/Users/{first}")
    assert not answers[1]["location"].endswith((f"/Users/{first}", f"/Users/{second}"))
    assert store.records("downstream") == []


def test_a_discarded_deletion_ends_when_the_idp_creates_the_user_again(
    okta, store, api, fake_clock
):
    ids = seed(okta, 20)
    group = okta.create_group("Everyone", tuple(ids))
    for uid in ids[:12]:
        assert okta.delete(f"/Users/{uid}").status_code == 204
    (hold,) = open_holds(store)
    holds.discard(store, hold["id"], fake_clock(), "ada")
    assert {m["id"] for m in api.walk(f"/groups/{group['id']}/members")} == set(ids[10:])
    # The admin fixes the assignment: the IdP provisions user011 again.
    start = store.last_seq()
    body = sample("okta-create-user.json")
    del body["password"]
    body.update(userName="user011@okta.local", externalId="00user000011")
    body["emails"][0]["value"] = body["userName"]
    again = okta.post("/Users", body)
    assert again.status_code == 201 and again.get_json()["id"] == ids[11]
    events = read_feed(store, start)
    # Unchanged for the applications, but it left the group with its deletion.
    assert [(e["type"], e.get("member_ids")) for e in events] == [
        ("group.members_removed", [ids[11]])
    ]
    assert ids[11] not in {d["id"] for d in holds.diverged(store, okta.id)}
    assert ids[10] in {d["id"] for d in holds.diverged(store, okta.id)}
    assert {m["id"] for m in api.walk(f"/groups/{group['id']}/members")} == set(
        [ids[10], *ids[12:]]
    )


def test_deleting_the_idp_deletes_what_only_the_applications_had(app, okta, store, api, fake_clock):
    set_policy(store, okta.id, Policy(on_delete="deactivate"))
    ids = seed(okta, 20)
    for uid in ids[:12]:
        assert okta.delete(f"/Users/{uid}").status_code == 204  # 10 kept, then 2 held
    assert len(api.walk("/users")) == 20
    start = store.last_seq()
    with app.app_context():  # the IdP's request log goes with it
        delete_idp(store, okta.id, now=fake_clock())
    events = read_feed(store, start)
    assert set(of_type(events, "user.deleted")) == set(ids)
    assert api.walk("/users") == []
    assert store.records("downstream") == [] and store.records("holds") == []
    assert store.records("guard") == []


# --- the console and the CLI --------------------------------------------------------------------


def held_okta(okta, store, fake_clock) -> tuple[list[str], dict]:
    ids = seed(okta, 20)
    replay(okta, store, fake_clock, ids[:12])
    (hold,) = open_holds(store)
    return ids, hold


def test_console_banner_on_every_page_and_apply(signed_in, okta, store, fake_clock):
    ids, hold = held_okta(okta, store, fake_clock)
    banner = "Okta deactivated or deleted 12 of 20 users in 1 minute: 2 changes held"
    for page in ("/settings/identity-providers", "/settings/provisioned-users", "/activity"):
        assert banner in text(signed_in.get(page)), page
    page = text(signed_in.get(f"{HELD}/{hold['id']}"))
    assert "user011@okta.local" in page and "Deactivated" in page
    start = store.last_seq()
    response = submit(signed_in, f"{HELD}/{hold['id']}/apply", page=f"{HELD}/{hold['id']}")
    assert response.status_code == 303
    assert of_type(read_feed(store, start), "user.deactivated") == ids[10:12]
    assert banner not in text(signed_in.get("/settings/identity-providers"))
    again = submit(signed_in, f"{HELD}/{hold['id']}/apply", page=HELD)
    assert again.status_code == 409  # already applied: nothing happens twice


def test_console_discard_marks_the_users(signed_in, okta, store, fake_clock):
    ids, hold = held_okta(okta, store, fake_clock)
    response = submit(signed_in, f"{HELD}/{hold['id']}/discard", page=f"{HELD}/{hold['id']}")
    assert response.status_code == 303
    page = text(signed_in.get(response.headers["Location"]))
    assert "2 users diverge from Okta." in page and "user011@okta.local" in page
    user_page = text(signed_in.get(f"/settings/provisioned-users/{okta.id}/users/{ids[11]}"))
    assert "diverge" in user_page


def test_console_unknown_hold_is_404(signed_in):
    assert signed_in.get(f"{HELD}/nope").status_code == 404
    assert submit(signed_in, f"{HELD}/nope/apply", page=HELD).status_code == 404


def test_cli_hold_list_show_apply_discard(runner, okta, store, fake_clock):
    ids, hold = held_okta(okta, store, fake_clock)
    listed = json.loads(runner.invoke(args=["hold", "list", "--json"]).output)
    assert [h["id"] for h in listed] == [hold["id"]]
    shown = json.loads(runner.invoke(args=["hold", "show", hold["id"], "--json"]).output)
    assert [c["user_id"] for c in shown["held"]] == ids[10:12]
    start = store.last_seq()
    result = runner.invoke(args=["hold", "apply", hold["id"]])
    assert result.exit_code == 0 and "applied 2 held changes of Okta" in result.output
    assert of_type(read_feed(store, start), "user.deactivated") == ids[10:12]
    refused = runner.invoke(args=["hold", "discard", hold["id"]])
    assert refused.exit_code == 1 and "was applied" in refused.output
    assert runner.invoke(args=["hold", "list"]).output.strip() == "nothing is held"


@pytest.mark.parametrize("command", ["apply", "discard", "show"])
def test_cli_refuses_an_unknown_hold_and_changes_nothing(runner, okta, store, fake_clock, command):
    _, hold = held_okta(okta, store, fake_clock)
    result = runner.invoke(args=["hold", command, "nope"])
    assert result.exit_code == 1 and "no hold with id 'nope'" in result.output
    assert open_holds(store) == [hold]


def test_apply_and_discard_are_audited_alike_from_console_and_cli(
    signed_in, runner, okta, store, fake_clock
):
    ids, hold = held_okta(okta, store, fake_clock)
    submit(signed_in, f"{HELD}/{hold['id']}/apply", page=f"{HELD}/{hold['id']}")
    applied_at = store.get_record("holds", hold["id"])["closed"]
    runner.invoke(args=["hold", "discard", hold["id"]])  # refused: already applied
    replay(okta, store, fake_clock, ids[12:20])  # the window starts afresh: 8 more, not held
    fake_clock.advance(minutes=20)
    more = seed(okta, 20, prefix="more")
    replay(okta, store, fake_clock, more[:12])
    (second,) = open_holds(store)
    runner.invoke(args=["hold", "discard", second["id"]])
    entries = {
        action: [(e["actor"], e["outcome"], e["object"], e["detail"]) for e in reversed(found)]
        for action in ("hold.apply", "hold.discard")
        for found in [store.audit_entries(action=action)[1]]
    }
    assert entries["hold.apply"] == [
        ("ada", "success", f"hold:{hold['id']}", "Okta: 2 held changes of 2 users")
    ]
    assert entries["hold.discard"] == [
        ("cli", "failure", f"hold:{hold['id']}",
         f"hold {hold['id']} was applied {applied_at}: it is not open"),
        ("cli", "success", f"hold:{second['id']}", "Okta: 2 held changes of 2 users"),
    ]  # fmt: skip
