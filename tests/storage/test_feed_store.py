"""The change feed at the storage contract (storage/interface.py), on every backend: events are
recorded with the writes, in seq order, read by cursor, kept across restarts and pruned."""

from __future__ import annotations

import threading
import time

import pytest

from storage.errors import CursorExpired
from storage.postgres.store import PostgresStore
from storage.tinydb.store import TinyStore
from tests.feedtools import until, waiting

IDP, OTHER = "idp-a", "idp-b"
SOURCE = {"method": "POST", "path": "/scim/v2/idp-a/Users", "request_id": "r1"}


def user(name: str, **extra) -> dict:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, **extra}


def group(name: str, *members: str) -> dict:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}
    if members:
        body["members"] = [{"value": m, "type": "User"} for m in members]
    return body


@pytest.fixture
def opener(backend, request, tmp_path):
    """Open a store of the test's backend on the test's data (closing the previous one)."""
    opened: list = []

    def open_store(**options):
        for store in opened:
            store.close()
        opened.clear()
        if backend == "postgres":
            store = PostgresStore(request.getfixturevalue("database_url"), **options)
        else:
            store = TinyStore(tmp_path / "data", **options)
        opened.append(store)
        store.put_record("idps", IDP, {"id": IDP, "name": "Okta", "kind": "okta"})
        return store

    yield open_store
    for store in opened:
        store.close()


def everything(store) -> list[dict]:
    return store.events(0, 1000)[0]


def types(found: list[dict]) -> list[str]:
    return [e["type"] for e in found]


def test_every_write_records_its_events_in_seq_order(store):
    store.put_record("idps", IDP, {"id": IDP, "name": "Okta", "kind": "okta"})
    ann = store.create("User", IDP, user("ann"), source=SOURCE)
    store.update("User", IDP, ann["id"], lambda cur: {**cur, "title": "CTO"})
    store.update("User", IDP, ann["id"], lambda cur: {**cur, "active": False})
    store.update("User", IDP, ann["id"], lambda cur: {**cur, "active": True})
    crew = store.create("Group", IDP, group("Crew", ann["id"]))
    found = everything(store)
    assert types(found) == [
        "user.created",
        "user.updated",
        "user.deactivated",
        "user.reactivated",
        "group.created",
        "group.members_added",
    ]
    seqs = [e["seq"] for e in found]
    assert seqs == sorted(set(seqs)) and store.last_seq() == seqs[-1]
    assert found[0]["source"] == SOURCE
    assert found[1]["source"] == {"method": None, "path": None, "request_id": None}
    assert found[0]["idp"] == {"id": IDP, "name": "Okta", "kind": "okta"}
    assert found[1]["changed"] == ["scim.title"]
    assert found[-1]["member_ids"] == [ann["id"]]
    assert found[-1]["resource"]["version"] == crew["meta"]["version"]
    assert len({e["id"] for e in found}) == len(found)


def test_a_write_that_changes_nothing_keeps_its_version_and_records_nothing(store):
    ann = store.create("User", IDP, user("ann", title="CTO"))
    before = store.last_seq()
    same = store.update("User", IDP, ann["id"], lambda cur: {**cur, "title": "CTO"})
    assert same["meta"] == ann["meta"]
    assert store.get("User", IDP, ann["id"])["meta"]["version"] == ann["meta"]["version"]
    assert store.last_seq() == before


def test_deleting_a_user_takes_it_out_of_its_groups_first(store):
    ann = store.create("User", IDP, user("ann"))
    bob = store.create("User", IDP, user("bob"))
    crew = store.create("Group", IDP, group("Crew", ann["id"], bob["id"]))
    store.create("Group", IDP, group("Solo", ann["id"]))
    after = store.last_seq()
    store.delete("User", IDP, ann["id"], source=SOURCE)
    found = store.events(after, 100)[0]
    assert types(found) == [
        "user.deactivated",
        "group.members_removed",
        "group.members_removed",
        "user.deleted",
    ]
    assert all(e["member_ids"] == [ann["id"]] for e in found[1:3])
    assert {e["resource"]["display_name"] for e in found[1:3]} == {"Crew", "Solo"}
    assert found[-1]["data"]["active"] is False and found[-1]["source"] == SOURCE
    # A new version: an app that read the user before must not drop its deletion.
    assert found[-1]["resource"]["version"] != ann["meta"]["version"]
    crew_now = store.get("Group", IDP, crew["id"])
    assert (
        next(e for e in found if e["resource"]["id"] == crew["id"])["resource"]["version"]
        == (crew_now["meta"]["version"])
    )


def test_deleting_a_group_that_is_a_member_updates_its_parents(store):
    inner = store.create("Group", IDP, group("Inner"))
    outer = store.create(
        "Group", IDP, {**group("Outer"), "members": [{"value": inner["id"], "type": "Group"}]}
    )
    after = store.last_seq()
    store.delete("Group", IDP, inner["id"])
    found = store.events(after, 100)[0]
    assert types(found) == ["group.members_removed", "group.deleted"]
    assert found[0]["resource"]["id"] == outer["id"] and found[0]["member_ids"] == [inner["id"]]


def test_deleting_an_idp_records_the_deletion_of_everything_it_provisioned(store):
    store.put_record("idps", IDP, {"id": IDP, "name": "Okta", "kind": "okta"})
    ann = store.create("User", IDP, user("ann"))
    store.create("User", IDP, user("bob", active=False))
    store.create("Group", IDP, group("Crew", ann["id"]))
    kept = store.create("User", OTHER, user("carl"))
    after = store.last_seq()
    store.delete_idp(IDP)
    found = store.events(after, 100)[0]
    assert types(found) == ["user.deactivated", "user.deleted", "user.deleted", "group.deleted"]
    assert {e["idp"]["name"] for e in found} == {"Okta"}  # named as it was
    assert found[1]["data"]["groups"] == [{"id": found[3]["resource"]["id"], "name": "Crew"}]
    assert store.get("User", OTHER, kept["id"]) is not None


def test_reads_page_by_cursor_and_filter(store):
    ids = [store.create("User", IDP if i % 2 else OTHER, user(f"u{i}"))["id"] for i in range(25)]
    seqs = [e["seq"] for e in everything(store)]
    page, next_after, more = store.events(0, 10)
    assert [e["seq"] for e in page] == seqs[:10] and next_after == seqs[9] and more
    page, next_after, more = store.events(seqs[19], 10)
    assert [e["seq"] for e in page] == seqs[20:] and next_after == seqs[-1] and not more
    assert store.events(seqs[-1], 10) == ([], seqs[-1], False)
    mine, _, _ = store.events(0, 100, idp=IDP)
    assert [e["resource"]["id"] for e in mine] == ids[1::2]
    page, next_after, more = store.events(0, 5, types=frozenset({"user.created"}), idp=OTHER)
    assert [e["resource"]["id"] for e in page] == ids[0:10:2] and more
    # A filter that matches nothing still moves the cursor on past what it looked at.
    none = store.events(0, 10, types=frozenset({"group.deleted"}))
    assert none == ([], seqs[-1], False)


def test_a_membership_change_names_only_the_members_it_changed(store):
    ids = [store.create("User", IDP, user(f"u{i}"))["id"] for i in range(80)]
    crew = store.create("Group", IDP, group("Crew", *ids[:70]))  # journaled as deltas
    after = store.last_seq()
    added = {"value": ids[75], "type": "User"}
    store.update("Group", IDP, crew["id"], lambda cur: {**cur, "members": [*cur["members"], added]})
    store.update("Group", IDP, crew["id"], lambda cur: {**cur, "members": cur["members"][1:]})
    found = store.events(after, 100)[0]
    assert [(e["type"], e["member_ids"]) for e in found] == [
        ("group.members_added", [ids[75]]),
        ("group.members_removed", [ids[0]]),
    ]
    assert found[-1]["data"]["member_count"] == 70


def test_events_for_one_resource_newest_first(store):
    ann = store.create("User", IDP, user("ann"))
    store.create("User", IDP, user("bob"))
    store.update("User", IDP, ann["id"], lambda cur: {**cur, "active": False})
    assert types(store.events_for("User", IDP, ann["id"])) == ["user.deactivated", "user.created"]
    assert store.events_for("User", OTHER, ann["id"]) == []
    assert len(store.events_for("User", IDP, ann["id"], limit=1)) == 1


def test_events_survive_a_restart(opener, backend):
    store = opener()
    ann = store.create("User", IDP, user("ann"))
    store.update("User", IDP, ann["id"], lambda cur: {**cur, "active": False})
    before = everything(store)
    if backend == "tinydb":
        store.compact()  # into the snapshot; then one more line in the journal
    store.delete("User", IDP, ann["id"])
    before = everything(store)
    again = opener()
    assert everything(again) == before and again.last_seq() == before[-1]["seq"]
    bob = again.create("User", IDP, user("bob"))
    assert everything(again)[-1]["seq"] > before[-1]["seq"] and bob


def test_pruned_events_expire_older_cursors(opener):
    store = opener(retention_days=0)  # every event is past retention at once
    for name in ("ann", "bob", "carl"):
        store.create("User", IDP, user(name))
    last = store.last_seq()
    assert store.prune_events() == last
    with pytest.raises(CursorExpired) as expired:
        store.events(0, 10)
    assert expired.value.pruned_through == last
    assert store.events(last, 10) == ([], last, False)
    assert store.last_seq() == last  # the feed goes on from where it was
    again = opener()
    assert again.last_seq() == last
    with pytest.raises(CursorExpired):
        again.events(last - 1, 10)
    again.create("User", IDP, user("dave"))
    assert [e["seq"] for e in again.events(last, 10)[0]] == [again.last_seq()]


def test_a_waiting_reader_wakes_at_a_write(opener):
    store = opener()
    after = store.last_seq()
    woke: list = []
    reader = threading.Thread(target=lambda: woke.append(store.wait_for_event(after, 20)))
    reader.start()
    until(lambda: waiting(store) == 1)
    started = time.monotonic()
    store.create("User", IDP, user("ann"))
    reader.join(timeout=20)
    assert woke == [True] and time.monotonic() - started < 5
    assert store.events(after, 10)[0][0]["type"] == "user.created"


def test_a_waiting_reader_times_out_without_events(store):
    started = time.monotonic()
    assert store.wait_for_event(store.last_seq(), 0.2) is False
    assert time.monotonic() - started >= 0.2


@pytest.mark.backends("postgres")
def test_a_commit_in_another_process_wakes_a_waiting_reader(opener, database_url):
    store = opener()
    other = PostgresStore(database_url)  # another process's store: only NOTIFY can wake us
    try:
        after = store.last_seq()
        woke: list = []
        reader = threading.Thread(target=lambda: woke.append(store.wait_for_event(after, 20)))
        reader.start()
        until(lambda: waiting(store) == 1 and store.listener().listening.is_set())
        other.create("User", IDP, user("ann"))
        reader.join(timeout=20)
        assert woke == [True]
    finally:
        other.close()


class SlowCommits(PostgresStore):
    """A store whose transactions wait for ``gate`` between recording their events (drawing
    their seqs) and committing: the slow commit that a sequence alone lets others overtake."""

    def __init__(self, dsn: str, gate: threading.Event):
        super().__init__(dsn)
        self.gate = gate
        self.drawn = threading.Event()

    def _record(self, conn, idp, drafts, source, at):
        super()._record(conn, idp, drafts, source, at)
        conn.send()  # what the write holds goes out now: its seqs drawn, its COMMIT not yet
        self.drawn.set()
        assert self.gate.wait(30)


def lock_waits(store) -> int:
    """How many transactions wait for an advisory lock (the feed's, here)."""
    with store.connection() as conn:
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        return conn.execute(query).fetchone()[0]


@pytest.mark.backends("postgres")
def test_no_commit_overtakes_one_that_drew_a_lower_seq(opener, database_url):
    """Two processes' writes for two IdPs (no tenant lock between them): the one that drew
    the lower seq is slow to commit. The other waits for it, so no reader ever sees a seq
    above one that is not visible yet."""
    reader = opener()
    gate = threading.Event()
    slow, fast = SlowCommits(database_url, gate), PostgresStore(database_url)
    try:
        first = threading.Thread(target=slow.create, args=("User", IDP, user("ann")))
        first.start()
        assert slow.drawn.wait(10)
        before = reader.last_seq()
        second = threading.Thread(target=fast.create, args=("User", OTHER, user("bob")))
        second.start()
        until(lambda: lock_waits(reader) == 1)
        assert second.is_alive() and reader.last_seq() == before
        assert reader.events(before, 10) == ([], before, False)
        gate.set()
        first.join(timeout=10)
        second.join(timeout=10)
        found = reader.events(before, 10)[0]
        assert [e["resource"]["username"] for e in found] == ["ann", "bob"]
        assert found[0]["seq"] < found[1]["seq"]
    finally:
        gate.set()
        slow.close()
        fast.close()
