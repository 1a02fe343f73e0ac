"""The TinyDB backend against the storage contract (storage/interface.py), as plain functions."""

from __future__ import annotations

import threading

import pytest
from tinydb import TinyDB

from scim.filter import parse_filter
from storage import files
from storage.errors import Conflict, NotFound, StoreLocked, VersionMismatch
from storage.tinydb_store import TinyStore

IDP, OTHER = "idp-a", "idp-b"


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def store(folder):
    store = TinyStore(folder)
    yield store
    store.close()


def user(name: str, **extra) -> dict:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, **extra}


def reopen(store: TinyStore) -> TinyStore:
    store.close()
    return TinyStore(store.folder)


def test_create_assigns_id_and_meta(store):
    created = store.create("User", IDP, user("ann"))
    assert created["id"]
    assert created["meta"]["resourceType"] == "User"
    assert created["meta"]["created"] == created["meta"]["lastModified"]
    assert created["meta"]["version"].startswith('W/"')


def test_returned_values_are_copies(store):
    created = store.create("User", IDP, user("ann"))
    created["userName"] = "changed"
    fetched = store.get("User", IDP, created["id"])
    fetched["userName"] = "changed again"
    assert store.get("User", IDP, created["id"])["userName"] == "ann"


def test_writes_survive_reopen(store):
    a = store.create("User", IDP, user("ann"))
    b = store.create("User", IDP, user("bob"))
    store.update("User", IDP, a["id"], lambda cur: {**cur, "title": "Boss"})
    store.delete("User", IDP, b["id"])
    store.put_record("idps", IDP, {"id": IDP, "name": "A"})
    store = reopen(store)
    try:
        assert store.get("User", IDP, a["id"])["title"] == "Boss"
        assert store.get("User", IDP, b["id"]) is None
        assert store.get_record("idps", IDP) == {"id": IDP, "name": "A"}
    finally:
        store.close()


def test_torn_last_journal_line_is_dropped(store):
    kept = store.create("User", IDP, user("ann"))
    journal = store._journal.path
    store.close()
    with open(journal, "ab") as handle:  # a crash in the middle of an append
        handle.write(b'1234abcd {"ops": [["User", "x", {"idp": "idp-a", "da')
    store = TinyStore(store.folder)
    try:
        assert store.get("User", IDP, kept["id"])["userName"] == "ann"
        assert store.count("User", IDP) == 1
        again = store.create("User", IDP, user("bob"))  # and the store still takes writes
    finally:
        store.close()
    store = TinyStore(store.folder)
    try:
        assert store.get("User", IDP, again["id"])["userName"] == "bob"
    finally:
        store.close()


def test_damaged_line_fails_checksum(store):
    store.create("User", IDP, user("ann"))
    journal = store._journal.path
    store.close()
    raw = journal.read_bytes().replace(b"ann", b"anx")
    journal.write_bytes(raw)
    store = TinyStore(store.folder)
    try:
        assert store.count("User", IDP) == 0
    finally:
        store.close()


def test_compaction_writes_a_tinydb_snapshot(store):
    created = store.create("User", IDP, user("ann"))
    store.compact()
    assert files.segments(store.folder) == [store._journal.seq]
    with TinyDB(store.folder / files.SNAPSHOT, access_mode="r") as db:
        rows = db.table("User").all()
    assert [r["data"]["userName"] for r in rows] == ["ann"]
    store = reopen(store)
    try:
        assert store.get("User", IDP, created["id"])["userName"] == "ann"
    finally:
        store.close()


def test_compaction_triggers_on_journal_size(folder):
    store = TinyStore(folder, compact_after=2000)
    try:
        for i in range(40):
            store.create("User", IDP, user(f"user{i}"))
        store.compact()  # wait for any background compaction
        assert (folder / files.SNAPSHOT).exists()
        assert store.count("User", IDP) == 40
    finally:
        store.close()
    store = TinyStore(folder)
    try:
        assert store.count("User", IDP) == 40
    finally:
        store.close()


def test_second_process_is_refused(store):
    with pytest.raises(StoreLocked, match="in use by another Roster process"):
        TinyStore(store.folder)


@pytest.mark.parametrize("second", ["ANN", "ann", "Ann"])
def test_user_name_unique_case_insensitively(store, second):
    store.create("User", IDP, user("ann"))
    with pytest.raises(Conflict) as caught:
        store.create("User", IDP, user(second))
    assert caught.value.attribute == "userName"


def test_uniqueness_is_per_tenant(store):
    store.create("User", IDP, user("ann"))
    assert store.create("User", OTHER, user("ann"))["userName"] == "ann"


def test_racing_creates_have_one_winner(store):
    results: list[str] = []
    barrier = threading.Barrier(8)

    def attempt():
        barrier.wait()
        try:
            store.create("User", IDP, user("race"))
            results.append("created")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 7 + ["created"]


def test_rename_frees_the_old_name(store):
    a = store.create("User", IDP, user("ann"))
    store.update("User", IDP, a["id"], lambda cur: {**cur, "userName": "anne"})
    assert store.create("User", IDP, user("ann"))["userName"] == "ann"
    with pytest.raises(Conflict):
        store.create("User", IDP, user("ANNE"))


def test_update_checks_version(store):
    a = store.create("User", IDP, user("ann"))
    with pytest.raises(VersionMismatch):
        store.update("User", IDP, a["id"], lambda cur: cur, if_version='W/"stale"')
    updated = store.update(
        "User", IDP, a["id"], lambda cur: {**cur, "title": "x"}, if_version=a["meta"]["version"]
    )
    assert updated["meta"]["version"] != a["meta"]["version"]
    assert updated["meta"]["created"] == a["meta"]["created"]


def test_failed_change_writes_nothing(store):
    a = store.create("User", IDP, user("ann"))

    def boom(current):
        raise ValueError("rejected")

    with pytest.raises(ValueError):
        store.update("User", IDP, a["id"], boom)
    assert store.get("User", IDP, a["id"]) == a


def test_tenants_cannot_see_each_other(store):
    a = store.create("User", IDP, user("ann"))
    assert store.get("User", OTHER, a["id"]) is None
    with pytest.raises(NotFound):
        store.update("User", OTHER, a["id"], lambda cur: cur)
    with pytest.raises(NotFound):
        store.delete("User", OTHER, a["id"])
    assert store.query("User", OTHER) == (0, [])
    assert store.count("User", OTHER) == 0


def test_deleting_a_user_removes_it_from_groups(store):
    a = store.create("User", IDP, user("ann"))
    b = store.create("User", IDP, user("bob"))
    g = store.create(
        "Group", IDP, {"displayName": "team", "members": [{"value": a["id"]}, {"value": b["id"]}]}
    )
    assert [x["id"] for x in store.groups_of(IDP, a["id"])] == [g["id"]]
    store.delete("User", IDP, a["id"])
    assert store.get("Group", IDP, g["id"])["members"] == [{"value": b["id"]}]
    assert store.groups_of(IDP, a["id"]) == []


def test_query_pages_in_creation_order(store):
    ids = [store.create("User", IDP, user(f"u{i}"))["id"] for i in range(5)]
    total, page = store.query("User", IDP, start_index=2, count=2)
    assert total == 5
    assert [r["id"] for r in page] == ids[1:3]
    assert store.query("User", IDP, count=0) == (5, [])


@pytest.mark.parametrize(
    "text, expected",
    [
        ('userName eq "U3"', ["u3"]),
        ('externalId eq "ext-3"', ["u3"]),
        ('userName sw "u" and title eq "odd"', ["u1", "u3"]),
        ('userName eq "nobody"', []),
    ],
)
def test_query_filters(store, text, expected):
    for i in range(5):
        store.create(
            "User", IDP, user(f"u{i}", externalId=f"ext-{i}", title=["even", "odd"][i % 2])
        )
    total, page = store.query("User", IDP, filter=parse_filter(text))
    assert total == len(expected)
    assert [r["userName"] for r in page] == expected


def test_delete_idp_removes_everything_it_owns(store):
    store.put_record("idps", IDP, {"id": IDP})
    store.put_record("tokens", "digest", {"idp": IDP})
    store.put_record("tokens", "other", {"idp": OTHER})
    a = store.create("User", IDP, user("ann"))
    store.create("Group", IDP, {"displayName": "team", "members": [{"value": a["id"]}]})
    kept = store.create("User", OTHER, user("ann"))
    store.delete_idp(IDP)
    assert store.count("User", IDP) == store.count("Group", IDP) == 0
    assert store.get_record("idps", IDP) is None
    assert store.get_record("tokens", "digest") is None
    assert store.get_record("tokens", "other") == {"idp": OTHER}
    assert store.get("User", OTHER, kept["id"])["userName"] == "ann"


def test_backup_is_a_loadable_store(store, tmp_path):
    a = store.create("User", IDP, user("ann"))
    store.backup(str(tmp_path / "backup" / files.SNAPSHOT))
    restored = TinyStore(tmp_path / "backup")
    try:
        assert restored.get("User", IDP, a["id"]) == a
    finally:
        restored.close()


def test_updates_keep_creation_order(store):
    ids = [store.create("User", IDP, user(f"u{i}"))["id"] for i in range(3)]
    store.update("User", IDP, ids[0], lambda cur: {**cur, "title": "changed"})
    assert [r["id"] for r in store.query("User", IDP)[1]] == ids
    store = reopen(store)
    try:
        assert [r["id"] for r in store.query("User", IDP)[1]] == ids
    finally:
        store.close()
