"""Group commit in the embedded store (``storage.tinydb.durable``): writers that arrive while
one fsync runs share the next one; none is answered before its record is durable, no event is
shown before it is, and a failed fsync fails every writer it should have covered and takes
their writes back. (Killed with SIGKILL mid-commit: ``tests/storage/test_crash.py``.)"""

from __future__ import annotations

import errno
import os
import threading
import time

import pytest

from storage.errors import StoreUnavailable
from storage.tinydb import journal
from storage.tinydb.store import TinyStore

IDP = "idp-a"
WRITERS = 6


def user(name: str) -> dict:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}


@pytest.fixture
def store(tmp_path):
    store = TinyStore(tmp_path / "data")
    yield store
    store.close()


class Gate:
    """An ``os.fsync`` whose first call waits until ``open`` (the leader's fsync, held while
    the other writers append behind it); ``fail`` makes every call after the gate fail."""

    def __init__(self, fail: bool = False):
        self.calls = 0
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.fail = fail
        self.real = os.fsync

    def __call__(self, fd: int) -> None:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            assert self.opened.wait(30)
        if self.fail:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        self.real(fd)


def until(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)  # polling an observable state, with a deadline


def write_concurrently(store: TinyStore, gate: Gate) -> tuple[list, list, list[threading.Thread]]:
    """Start WRITERS threads that each create a user; return once the first one is inside its
    fsync (held by ``gate``) and every other one has appended its record behind it."""
    results: list = []
    errors: list = []

    def write(n: int) -> None:
        try:
            results.append(store.create("User", IDP, user(f"user{n}")))
        except StoreUnavailable as exc:
            errors.append(exc)

    base = store._journal.number
    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    threads[0].start()
    assert gate.entered.wait(30)
    for thread in threads[1:]:
        thread.start()
    until(lambda: store._journal.number == base + WRITERS, "every writer to append")
    return results, errors, threads


def test_writers_arriving_during_an_fsync_share_the_next_one(store, monkeypatch):
    before = store.last_seq()
    gate = Gate()
    monkeypatch.setattr(journal.os, "fsync", gate)
    results, errors, threads = write_concurrently(store, gate)
    try:
        assert results == []  # nobody is answered before an fsync covers its record
        assert store.last_seq() == before  # and no event is shown before it is durable
        assert store.events(before, 100)[0] == []
    finally:
        gate.opened.set()
        for thread in threads:
            thread.join(30)
    assert errors == [] and len(results) == WRITERS
    assert gate.calls == 2  # the leader's fsync, then one for the other writers together
    events = store.events(before, 100)[0]
    assert sorted(e["resource"]["id"] for e in events) == sorted(u["id"] for u in results)
    store.close()
    reopened = TinyStore(store.folder)
    try:
        assert all(reopened.get("User", IDP, u["id"]) for u in results)
    finally:
        reopened.close()


def test_a_failed_group_fsync_fails_each_writer_and_takes_their_writes_back(store, monkeypatch):
    kept = store.create("User", IDP, user("ann"))  # acknowledged before: stays
    before = store.last_seq()
    gate = Gate(fail=True)
    monkeypatch.setattr(journal.os, "fsync", gate)
    results, errors, threads = write_concurrently(store, gate)
    assert store.count("User", IDP) == 1 + WRITERS  # applied, not yet durable
    gate.opened.set()
    for thread in threads:
        thread.join(30)
    assert results == [] and len(errors) == WRITERS
    assert all("restart Roster" in str(e) for e in errors)
    # The store shows what the journal can be trusted with: the acknowledged write alone.
    assert store.count("User", IDP) == 1
    _, users = store.query("User", IDP)
    assert [u["id"] for u in users] == [kept["id"]]
    assert store._indexes.unique.get(("User", IDP, "user1")) is None
    assert store.last_seq() == before and store.events(before, 100)[0] == []
    assert store._feed.last == before  # their seqs were never shown, and are gone
    monkeypatch.undo()
    with pytest.raises(StoreUnavailable, match="restart Roster"):
        store.create("User", IDP, user("later"))
