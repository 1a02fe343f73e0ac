"""The ground under the store: a data folder deleted or replaced under a running server, a disk
that fills up or turns read-only. A write is then refused (503 with Retry-After, or 507), with a
SCIM error body, and leaves the store in memory and on disk exactly as it was; reads go on
answering from memory; nothing is acknowledged into files no one will read again.

The store-level tests inject the system calls' failures; the live ones use real file systems
(``tests/storage/faultfs.py``: a tmpfs that fills, an ext4 image that turns read-only; they
need root).
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

import tokens
from providers import create_idp
from storage.errors import StoreFull, StoreUnavailable
from storage.tinydb import files, journal
from storage.tinydb.store import TinyStore
from tests.live import LiveServer
from tests.storage import faultfs

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
IDP = "idp"


def user(name: str, **extra) -> dict:
    return {"schemas": [CORE], "userName": name, **extra}


@pytest.fixture
def store(tmp_path):
    store = TinyStore(tmp_path / "data")
    yield store
    store.close()


def on_disk(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# --- the folder moves under the server -------------------------------------------------------


@pytest.mark.parametrize(
    "move, reason",
    [
        ("delete folder", "was deleted under the running server"),
        ("replace folder", "was replaced or unmounted"),
        ("move folder", "is gone"),
        ("delete segment", "was deleted under the running server"),
    ],
)
def test_a_write_after_the_folder_moved_is_refused(store, tmp_path, move, reason):
    kept = store.create("User", IDP, user("ann"))
    folder = store.folder
    if move == "delete folder":
        shutil.rmtree(folder)
    elif move == "replace folder":  # a second server took the path with a folder of its own
        folder.rename(tmp_path / "old")
        folder.mkdir()
        (folder / files.LOCK).write_bytes(b"")
    elif move == "move folder":
        folder.rename(tmp_path / "old")
    else:
        store._journal.path.unlink()
    with pytest.raises(StoreUnavailable, match=reason) as refused:
        store.create("User", IDP, user("bob"))
    assert refused.value.retry_after
    with pytest.raises(StoreUnavailable, match="refused until Roster restarts"):
        store.create("User", IDP, user("cid"))  # and every write after it
    assert store.count("User", IDP) == 1  # the refused writes were never applied
    assert store.get("User", IDP, kept["id"])["userName"] == "ann"  # reads go on


# --- the disk refuses a write ----------------------------------------------------------------


def test_a_short_write_is_cut_off_and_the_next_write_goes_on(store, monkeypatch):
    store.create("User", IDP, user("ann"))
    before = on_disk(store.folder)
    real_write = os.write

    def half(fd, data):  # what write(2) does when the disk fills mid-line
        return real_write(fd, data[: len(data) // 2])

    monkeypatch.setattr(journal.os, "write", half)
    with pytest.raises(StoreFull, match="is full"):
        store.create("User", IDP, user("bob"))
    assert on_disk(store.folder) == before  # the partial line was cut off
    monkeypatch.setattr(journal.os, "write", real_write)  # space was freed
    store.create("User", IDP, user("cid"))
    store = reopen(store)
    try:
        assert {u["userName"] for u in store.query("User", IDP)[1]} == {"ann", "cid"}
    finally:
        store.close()


def test_a_partial_line_that_cannot_be_cut_yet_is_cut_before_the_next_write(store, monkeypatch):
    store.create("User", IDP, user("ann"))
    before = on_disk(store.folder)
    real_write, real_truncate = os.write, os.ftruncate

    def refuse(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(journal.os, "write", lambda fd, data: real_write(fd, data[:10]))
    monkeypatch.setattr(journal.os, "ftruncate", refuse)
    with pytest.raises(StoreFull):
        store.create("User", IDP, user("bob"))
    monkeypatch.setattr(journal.os, "write", real_write)
    with pytest.raises(StoreFull):  # the garbage is still there: nothing may follow it
        store.create("User", IDP, user("cid"))
    monkeypatch.setattr(journal.os, "ftruncate", real_truncate)
    assert on_disk(store.folder) != before
    store.create("User", IDP, user("dan"))
    store = reopen(store)
    try:
        assert {u["userName"] for u in store.query("User", IDP)[1]} == {"ann", "dan"}
    finally:
        store.close()


@pytest.mark.parametrize(
    "code, error, retry",
    [
        (errno.ENOSPC, StoreFull, None),
        (errno.EDQUOT, StoreFull, None),
        (errno.EROFS, StoreUnavailable, journal.RETRY_AFTER),
    ],
)
def test_a_refused_write_changes_nothing_and_writes_resume(store, monkeypatch, code, error, retry):
    store.create("User", IDP, user("ann"))
    before = on_disk(store.folder)
    real_write = os.write

    def refuse(fd, data):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(journal.os, "write", refuse)
    with pytest.raises(error) as refused:
        store.create("User", IDP, user("bob"))
    assert type(refused.value) is error and refused.value.retry_after == retry
    assert on_disk(store.folder) == before and store.count("User", IDP) == 1
    monkeypatch.setattr(journal.os, "write", real_write)  # space freed, disk remounted rw
    store.create("User", IDP, user("cid"))
    assert store.count("User", IDP) == 2


def test_after_a_failed_fsync_every_write_is_refused_until_a_restart(store, monkeypatch):
    store.create("User", IDP, user("ann"))

    def fail(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(journal.os, "fsync", fail)
    with pytest.raises(StoreUnavailable, match="restart Roster"):
        store.create("User", IDP, user("bob"))
    monkeypatch.undo()
    with pytest.raises(StoreUnavailable, match="restart Roster"):
        store.create("User", IDP, user("cid"))
    assert store.count("User", IDP) == 1


def reopen(store: TinyStore) -> TinyStore:
    store.close()
    return TinyStore(store.folder)


# --- live: the real server on real file systems ----------------------------------------------


def provision(data_dir: Path, log_dir: Path) -> tuple[str, str]:
    """Create an IdP and its token, and keep the request log in ``log_dir``, off the faulty
    file system: how the log copes with a full or vanished disk is its own matter."""
    store = TinyStore(data_dir)
    try:
        idp = create_idp(store, "Acme", "generic")["id"]
        token = tokens.issue(store, idp)
    finally:
        store.close()
    log_dir.mkdir()
    (data_dir / "requestlog").symlink_to(log_dir)
    return idp, token


def listing(server: LiveServer, idp: str, token: str) -> set[str]:
    status, _, body = server.request("GET", f"/scim/v2/{idp}/Users?count=1000", token)
    assert status == 200
    return {r["userName"] for r in body["Resources"]}


def scim_error(status: int, body: dict | None, expected: int) -> None:
    assert status == expected, body
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(expected)


def test_a_deleted_data_folder_under_a_running_server(tmp_path):
    data_dir = tmp_path / "data"
    idp, token = provision(data_dir, tmp_path / "requestlog")
    base = f"/scim/v2/{idp}/Users"
    with LiveServer(data_dir) as server:
        status, _, _ = server.request("POST", base, token, user("before@example.com"))
        assert status == 201
        # The request log is written behind the requests and recreates its folder when it is
        # gone, so the deletion races with it: delete as `rm -rf` would, again until it is gone.
        while data_dir.exists():
            shutil.rmtree(data_dir, ignore_errors=True)
        answers = [server.request("POST", base, token, user(f"after{n}")) for n in range(3)]
        for status, headers, body in answers:
            scim_error(status, body, 503)
            assert int(headers["Retry-After"]) > 0
        assert listing(server, idp, token) == {"before@example.com"}  # reads: from memory
    log = "".join(server.output)
    assert "was deleted under the running server" in log
    # A server started on the path again finds a new, empty folder: the three writes after the
    # deletion were refused, so none that was acknowledged is missing from it.
    with LiveServer(data_dir):
        pass
    store = TinyStore(data_dir)
    try:
        assert store.records("idps") == []
    finally:
        store.close()


def test_a_full_disk_answers_507_and_writes_resume_once_space_is_freed(tmp_path):
    with faultfs.tmpfs(tmp_path / "disk", "4m") as disk:
        data_dir = disk / "data"
        idp, token = provision(data_dir, tmp_path / "requestlog")
        base = f"/scim/v2/{idp}/Users"
        with LiveServer(data_dir) as server:
            assert server.request("POST", base, token, user("ann"))[0] == 201
            filler = faultfs.fill(disk)
            before = on_disk(data_dir)
            big = user("bob", title="x" * 20_000)  # more than the last page has room for
            status, headers, body = server.request("POST", base, token, big)
            scim_error(status, body, 507)
            assert on_disk(data_dir) == before  # nothing half-written
            assert listing(server, idp, token) == {"ann"}  # reads answer 200
            filler.unlink()
            assert server.request("POST", base, token, user("cid", title="x" * 20_000))[0] == 201
        assert "write refused" in "".join(server.output)
        with LiveServer(data_dir) as server:
            assert listing(server, idp, token) == {"ann", "cid"}


def test_a_disk_turned_read_only_answers_503_with_retry_after(tmp_path):
    with faultfs.ext4(tmp_path / "disk", tmp_path / "disk.img") as device:
        data_dir = tmp_path / "disk" / "data"
        idp, token = provision(data_dir, tmp_path / "requestlog")
        base = f"/scim/v2/{idp}/Users"
        with LiveServer(data_dir) as server:
            assert server.request("POST", base, token, user("ann"))[0] == 201
            before = on_disk(data_dir)
            faultfs.break_ext4(device)
            status, headers, body = server.request("POST", base, token, user("bob"))
            scim_error(status, body, 503)
            assert int(headers["Retry-After"]) == journal.RETRY_AFTER
            assert listing(server, idp, token) == {"ann"}
            assert on_disk(data_dir) == before
        assert "Read-only file system" in "".join(server.output)
