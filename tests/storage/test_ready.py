"""The TinyDB store's readiness (``Store.health``, asked by every ``/readyz``): cheap checks,
the journal's last write, and a probe file written only when nothing vouches for the folder.
(Read-only, moved and replaced folders through ``/readyz``: tests/monitoring/test_probes.py.)"""

from __future__ import annotations

import errno
import os

import pytest

from storage.errors import StoreFull
from storage.tinydb import journal, ready
from storage.tinydb.store import TinyStore

IDP = "idp-a"


@pytest.fixture
def store(tmp_path):
    store = TinyStore(tmp_path / "data")
    yield store
    store.close()


@pytest.fixture
def probes(monkeypatch) -> list[str | None]:
    """What each probe file's write answered, in order."""
    answers: list[str | None] = []
    real = ready.Readiness._probe

    def probe(self, now):
        answers.append(real(self, now))
        return answers[-1]

    monkeypatch.setattr(ready.Readiness, "_probe", probe)
    return answers


def user(name: str) -> dict:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}


def age(store: TinyStore) -> None:
    """Make every write the folder took look older than ``ready.FRESH``."""
    if store._journal.written_at is not None:
        store._journal.written_at -= ready.FRESH
    if store._readiness.probed_at is not None:
        store._readiness.probed_at -= ready.FRESH


def test_a_recent_journal_write_vouches_for_the_folder(store, probes):
    store.create("User", IDP, user("ann"))
    assert [store.health() for _ in range(5)] == [None] * 5
    assert probes == []  # no file written, five times


def test_an_idle_store_probes_once_then_trusts_the_probe(store, probes):
    store.create("User", IDP, user("ann"))
    age(store)
    assert store.health() is None and probes == [None]
    assert store.health() is None and probes == [None]  # the probe vouches in turn
    age(store)
    assert store.health() is None and probes == [None, None]
    assert not [p for p in store.folder.iterdir() if p.name.startswith(".ready-")]


def test_a_failing_probe_makes_the_store_unready(store, probes, monkeypatch):
    age(store)
    real = os.open

    def refusing(path, *args, **kwargs):
        if ".ready-" in str(path):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing)
    assert store.health() == "the data folder cannot be written (Input/output error)"
    assert store.health() is not None and len(probes) == 2  # a failure vouches for nothing
    monkeypatch.setattr(os, "open", real)
    assert store.health() is None and len(probes) == 3


def test_a_refused_journal_write_is_checked_again_by_each_probe(store, probes, monkeypatch):
    store.create("User", IDP, user("ann"))  # a recent write, then a refused one
    real = journal.os.write

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(journal.os, "write", full)
    with pytest.raises(StoreFull):
        store.create("User", IDP, user("bob"))
    monkeypatch.setattr(journal.os, "write", real)
    # The probe's own write succeeds (space was freed): ready, but asked again next time…
    assert store.health() is None and probes == [None]
    assert store.health() is None and probes == [None, None]
    store.create("User", IDP, user("bob"))  # …until the journal takes a write again
    assert store.health() is None and probes == [None, None]


def test_a_broken_journal_is_unready_without_a_probe(store, probes):
    store._journal.broken = "the journal cannot be written"
    reason = store.health()
    assert reason == "the journal refuses writes since one failed (restart Roster once fixed)"
    assert probes == []
