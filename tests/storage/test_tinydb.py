"""What only the TinyDB backend promises: its journal, snapshot, compaction, folder lock and
backup. The contract both backends keep is tested in tests/storage/test_contract.py."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest
from tinydb import TinyDB

from scim.core.filter import parse_filter
from storage.errors import StoreLocked
from storage.tinydb import files
from storage.tinydb import folder as folders
from storage.tinydb.store import TinyStore

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


def big_group(store: TinyStore, size: int) -> tuple[dict, list[str]]:
    ids = [store.create("User", IDP, user(f"m{i}"))["id"] for i in range(size + 1)]
    members = [{"value": i, "type": "User"} for i in ids[:size]]
    return store.create("Group", IDP, {"displayName": "big", "members": members}), ids


def test_membership_changes_to_a_big_group_journal_only_the_change(store):
    group, ids = big_group(store, 200)
    journal = store._journal.path
    before = journal.stat().st_size

    def add_last(cur: dict) -> dict:
        return {**cur, "members": [*cur["members"][1:], {"value": ids[-1], "type": "User"}]}

    changed = store.update("Group", IDP, group["id"], add_last)
    # Not the 200 members again (12 KB): the change, and its two events without members.
    assert journal.stat().st_size - before < 3000
    assert [g["id"] for g in store.groups_of(IDP, ids[-1])] == [group["id"]]
    assert store.groups_of(IDP, ids[0]) == []
    store = reopen(store)
    try:
        assert store.get("Group", IDP, group["id"]) == changed
        assert [g["id"] for g in store.groups_of(IDP, ids[-1])] == [group["id"]]
        assert store.groups_of(IDP, ids[0]) == []
    finally:
        store.close()


def test_deleting_a_member_of_a_big_group_survives_compaction(store):
    group, ids = big_group(store, 100)
    store.delete("User", IDP, ids[5])
    expected = store.get("Group", IDP, group["id"])
    assert len(expected["members"]) == 99
    store.compact()
    store = reopen(store)
    try:
        assert store.get("Group", IDP, group["id"]) == expected
    finally:
        store.close()


def test_groups_of_leaves_members_out(store):
    group, ids = big_group(store, 3)
    found = store.groups_of(IDP, ids[0])
    assert found == [{k: v for k, v in group.items() if k != "members"}]


def test_change_sees_the_stored_resource_and_a_returned_current_is_not_modified(store):
    a = store.create("User", IDP, user("ann"))
    seen = []
    store.update("User", IDP, a["id"], lambda cur: seen.append(cur) or {**cur, "title": "x"})
    assert seen[0] == a  # the stored resource itself, with the version the write replaced
    assert store.get("User", IDP, a["id"])["meta"]["version"] != a["meta"]["version"]
    # Returned as it is, it changes nothing: not written, not modified, the version kept.
    current = store.get("User", IDP, a["id"])
    assert store.update("User", IDP, a["id"], lambda cur: cur) == current
    assert store.get("User", IDP, a["id"]) == current


@pytest.mark.parametrize("start, count", [(1, 2), (3, 10), (5, 0), (9, 5), (-2, 1)])
def test_plain_pages_slice_creation_order(store, start, count):
    ids = [store.create("User", IDP, user(f"u{i}"))["id"] for i in range(6)]
    store.create("User", OTHER, user("x"))
    total, page = store.query("User", IDP, start_index=start, count=count)
    begin = max(start, 1) - 1
    assert total == 6
    assert [r["id"] for r in page] == ids[begin : begin + count]


def test_readers_never_see_half_a_delete(store):
    """A delete takes the user out of its groups in the same write: a reader listing the
    groups that hold the user, while users are deleted, sees all of them or none."""
    users = [store.create("User", IDP, user(f"d{i}"))["id"] for i in range(80)]
    members = [{"value": u, "type": "User"} for u in users]
    for n in range(20):
        store.create("Group", IDP, {"displayName": f"g{n}", "members": members})
    torn = []
    done = threading.Event()

    def reader() -> None:
        filters = [parse_filter(f'members.value eq "{uid}"') for uid in users]
        while not done.is_set():
            for expr in filters:
                total, _ = store.query("Group", IDP, filter=expr, count=0)
                if total not in (0, 20):
                    torn.append(total)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for uid in users:
            store.delete("User", IDP, uid)
    finally:
        done.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert torn == []


def test_a_batch_is_made_durable_with_one_fsync(store, monkeypatch):
    from storage.tinydb import journal

    synced = []
    real = journal.os.fsync
    monkeypatch.setattr(journal.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    with store.batch():
        made = [store.create("User", IDP, user(f"user{i}")) for i in range(20)]
        assert store.count("User", IDP) == 20  # visible at once, as always
        assert synced == []
    assert len(synced) == 1
    store.create("User", IDP, user("single"))  # outside a batch: synced on its own
    assert len(synced) == 2
    store = reopen(store)
    try:
        assert all(store.get("User", IDP, u["id"]) for u in made)
    finally:
        store.close()


def test_a_batch_postpones_compaction_until_it_is_synced(folder):
    store = TinyStore(folder, compact_after=2000)
    try:
        segments = files.segments(folder)
        with store.batch():
            for i in range(40):  # far past compact_after: compaction would switch segments
                store.create("User", IDP, user(f"user{i}"))
            assert files.segments(folder) == segments  # not while records are unsynced
        store.compact()  # the batch's end started it; wait for it
        assert max(files.segments(folder)) > max(segments)
    finally:
        store.close()
    store = TinyStore(folder)
    try:
        assert store.count("User", IDP) == 40
    finally:
        store.close()


def in_open_batch(store: TinyStore, write) -> tuple[threading.Thread, threading.Event, dict]:
    """Run ``write`` inside a batch on another thread and keep the batch open until the
    returned event is set; return once ``write`` is done, with what it returned."""
    written, release = threading.Event(), threading.Event()
    made = []

    def bulk():
        with store.batch():
            made.append(write())
            written.set()
            release.wait(30)

    thread = threading.Thread(target=bulk)
    thread.start()
    assert written.wait(30)
    return thread, release, made[0]


def test_a_batch_s_events_reach_readers_only_once_synced(store):
    # A machine crash before the batch's fsync would take its events away, and their seqs
    # would be drawn again for other events, behind the cursor of a reader who saw them.
    before = store.last_seq()
    woken = []
    waiter = threading.Thread(target=lambda: woken.append(store.wait_for_event(before, 30)))
    waiter.start()
    deadline = time.monotonic() + 30
    while store._feed.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.001)  # polling an observable state, with a deadline
    writer, release, ann = in_open_batch(store, lambda: store.create("User", IDP, user("ann")))
    try:
        assert store.get("User", IDP, ann["id"])  # the write itself is visible
        assert store._journal.unsynced
        assert store.last_seq() == before
        assert store.events(before, 10) == ([], before, False)
        assert store.events_for("User", IDP, ann["id"]) == []
        assert not store.wait_for_event(before, 0)
        assert store._feed.waiting == 1  # the long-poll still waits
    finally:
        release.set()
        writer.join()
        waiter.join()
    assert woken == [True]  # woken by the batch's end
    events, last, _ = store.events(before, 10)
    assert [e["type"] for e in events] == ["user.created"]
    assert store.last_seq() == last == events[0]["seq"]


def test_a_write_that_fsyncs_shows_the_open_batch_s_events_before_its_own(store):
    before = store.last_seq()
    writer, release, ann = in_open_batch(store, lambda: store.create("User", IDP, user("ann")))
    try:
        assert store.last_seq() == before
        bob = store.create("User", IDP, user("bob"))  # its fsync makes ann's record durable too
        events = store.events(before, 10)[0]
        assert [e["resource"]["id"] for e in events] == [ann["id"], bob["id"]]
    finally:
        release.set()
        writer.join()


def test_a_backup_during_an_open_batch_holds_only_durable_writes(store, tmp_path, monkeypatch):
    # A /Bulk request's batch has applied ann but not fsynced her record: a copy holding her
    # then would hold what a machine crash could still take from the store. The backup
    # fsyncs first, so she is durable (and her event shown) by the time the copy is written.

    before = store.last_seq()
    writer, release, ann = in_open_batch(store, lambda: store.create("User", IDP, user("ann")))
    try:
        assert store._journal.unsynced and store.last_seq() == before
        synced = []
        real = os.fsync

        def fsync(fd):
            synced.append(os.readlink(f"/proc/self/fd/{fd}"))
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        store.backup(str(tmp_path / "backup" / files.SNAPSHOT))
        assert str(store._journal.path) in synced and not store._journal.unsynced
        events = store.events(before, 10)[0]  # shown: durable now
        assert [e["resource"]["id"] for e in events] == [ann["id"]]
        store.create("User", IDP, user("bob"))  # the batch is still open: ann's writer waits
    finally:
        release.set()
        writer.join()
    restored = TinyStore(tmp_path / "backup")
    try:
        assert restored.get("User", IDP, ann["id"]) == ann
        assert [e["seq"] for e in restored.events(before, 10)[0]] == [events[0]["seq"]]
        assert restored.count("User", IDP) == 1  # bob came after the copy
    finally:
        restored.close()


def test_a_folder_backup_fsyncs_the_journal_it_read(store, tmp_path, monkeypatch):
    # ``flask backup`` reads the folder from another process: it cannot take the server's
    # lock, so it fsyncs every segment after reading them, before writing the copy.
    from storage import backup

    steps = []
    read = folders.read_tables
    real = folders.os.fsync

    def reading(folder, **kwargs):
        found = read(folder, **kwargs)
        steps.append("read")
        return found

    def fsync(fd):
        steps.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    writer, release, ann = in_open_batch(store, lambda: store.create("User", IDP, user("ann")))
    try:
        assert store._journal.unsynced  # ann's record is written, not yet durable
        monkeypatch.setattr(folders, "read_tables", reading)
        monkeypatch.setattr(folders.os, "fsync", fsync)
        counts = backup.backup(store.folder, tmp_path / "backup")
        done = list(steps)  # before the batch's own fsync, at its end
    finally:
        release.set()
        writer.join()
    segments = [str(files.segment_path(store.folder, s)) for s in files.segments(store.folder)]
    copying = next(i for i, step in enumerate(done) if step.startswith(str(tmp_path / "backup")))
    assert done[0] == "read" and set(segments) <= set(done[1:copying])
    assert counts["User"] == 1
    monkeypatch.undo()
    copy = TinyStore(tmp_path / "backup")
    try:
        assert copy.get("User", IDP, ann["id"]) == ann
    finally:
        copy.close()


def test_reopening_fsyncs_the_journal_it_replays(store, monkeypatch):
    # Records a killed process wrote in a batch but never fsynced reach readers after the
    # restart: they must be durable first.
    with store.batch():
        store.create("User", IDP, user("ann"))
    store.close()
    replayed = {str(files.segment_path(store.folder, seq)) for seq in files.segments(store.folder)}
    synced = set()
    real = folders.os.fsync

    def fsync(fd):
        synced.add(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(folders.os, "fsync", fsync)
    store = TinyStore(store.folder)
    try:
        assert replayed and replayed <= synced
    finally:
        store.close()
