"""The request log: what each IdP asked and what it was told, bounded, persistent, secret-free."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path

import psycopg
import pytest

import storage
import storage.tinydb.requestlog as request_logs
from storage.behind import AppendBehind
from storage.failures import Failures
from storage.tinydb.requestlog import RequestLog
from tests.conftest import patch_op, sample, stored_text
from tests.live import LiveServer, flask_cli

JUMPCLOUD = {"User-Agent": "JumpCloud-SCIM/1.0"}
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def entries(app, idp, **kw):
    with app.app_context():
        return storage.get_request_log().entries(idp, **kw)


def test_jumpcloud_activation_step_by_step(app, scim, runner):
    user = sample("jumpcloud-create-user.json")
    steps = [
        ("GET", "/Users", None),
        ("GET", '/Users?filter=userName eq "testuser@example.io"', None),
        ("POST", "/Users", user),
        ("POST", "/Users", user),  # the email exists: activation fails with 409
    ]
    for method, path, body in steps:
        scim.request(method, path, body, headers=JUMPCLOUD)
    created = entries(app, scim.id)[1]
    scim.put(f"/Users/{created['resource'].split()[1]}", {**user, "title": "x"}, headers=JUMPCLOUD)
    scim.delete(f"/Users/{created['resource'].split()[1]}", headers=JUMPCLOUD)
    log = list(reversed(entries(app, scim.id)))
    assert [(e["method"], e["status"]) for e in log] == [
        ("GET", 200),
        ("GET", 200),
        ("POST", 201),
        ("POST", 409),
        ("PUT", 200),
        ("DELETE", 204),
    ]
    assert log[1]["path"].startswith(f"/scim/v2/{scim.id}/Users?filter=userName")
    assert log[2]["resource"].startswith("User ")
    assert log[3]["scim_type"] == "uniqueness" and "testuser@example.io" in log[3]["detail"]
    assert all(e["user_agent"] == "JumpCloud-SCIM/1.0" for e in log)
    assert all(e["duration_ms"] >= 0 and e["idp"] == scim.id for e in log)
    result = runner.invoke(args=["log", scim.id, "--errors"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "409" in lines[0] and "uniqueness" in lines[0]
    as_json = json.loads(runner.invoke(args=["log", scim.id, "--json"]).output)
    assert [e["status"] for e in as_json][:2] == [204, 200]


def test_failed_authentication_is_logged_for_a_known_idp(app, scim):
    scim.client.get(f"{scim.base}/Users", headers={"Authorization": "Bearer wrong"})
    [entry] = entries(app, scim.id)
    assert entry["status"] == 401


def test_unknown_idps_are_not_logged(app, scim, tmp_path):
    scim.client.get("/scim/v2/nonexistent/Users", headers=scim.headers)
    assert entries(app, "nonexistent") == []


def test_never_the_token_nor_a_password(app, scim):
    app.config["ROSTER"]["log_bodies"] = True
    scim.post("/Users", sample("okta-create-user.json"))
    [entry] = entries(app, scim.id)
    assert entry["request_body"]["password"] == "[redacted]"
    assert entry["request_body"]["userName"] == "test.user@okta.local"
    text = stored_text(app)
    assert scim.token not in text and "1mz050nq" not in text


def test_bodies_are_off_by_default(app, scim):
    scim.create_user("ann")
    assert "request_body" not in entries(app, scim.id)[0]


def test_log_is_bounded_and_survives_restart(tmp_path):
    log = RequestLog(tmp_path, size=3)
    for i in range(10):
        log.append("idp1", {"status": 200 + i})
    assert [e["status"] for e in log.entries("idp1")] == [209, 208, 207]
    assert len((tmp_path / "idp1.jsonl").read_text().splitlines()) < 6
    again = RequestLog(tmp_path, size=3)
    assert [e["status"] for e in again.entries("idp1")] == [209, 208, 207]


@pytest.mark.parametrize("idp", ["../escape", "a/b", "", "x" * 100])
def test_unsafe_idp_ids_are_ignored(tmp_path, idp):
    log = RequestLog(tmp_path / "log", size=3)
    log.append(idp, {"status": 200})
    assert log.entries(idp) == []
    assert not (tmp_path / "log").exists()


def test_deleting_the_idp_forgets_its_log(app, scim, runner):
    scim.get("/Users")
    assert entries(app, scim.id)
    assert runner.invoke(args=["idp", "delete", scim.id, "--yes"]).exit_code == 0
    assert entries(app, scim.id) == []


def test_patch_errors_are_logged_with_scim_type(app, scim):
    user = scim.create_user("ann")
    scim.patch(f"/Users/{user['id']}", patch_op({"op": "replace", "path": "bogus[", "value": 1}))
    latest = entries(app, scim.id)[0]
    assert latest["status"] == 400 and latest["scim_type"] == "invalidPath"
    assert latest["resource"] == f"User {user['id']}"


def test_unmatched_paths_under_an_idp_are_logged(app, scim):
    scim.get("/v2/Users")  # a Base URL pasted with one /v2 too many
    [entry] = entries(app, scim.id)
    assert entry["status"] == 404 and entry["path"] == f"{scim.base}/v2/Users"


def test_reading_a_log_before_the_first_entry_then_appending(tmp_path):
    # The console reads an IdP's (empty) log before its first SCIM request is recorded.
    log = RequestLog(tmp_path / "log", size=3)
    assert log.entries("idp1") == []
    log.append("idp1", {"status": 200})
    assert [e["status"] for e in RequestLog(tmp_path / "log", size=3).entries("idp1")] == [200]


def test_many_idps_keep_few_files_open_and_lose_nothing(tmp_path):
    log = RequestLog(tmp_path, size=3)
    idps = [f"idp{n}" for n in range(RequestLog.OPEN + 4)]
    for round_ in range(7):  # past 2 x size: every file is also rewritten while open
        for idp in idps:
            log.append(idp, {"status": 200, "n": round_})
        assert len(log._files) <= RequestLog.OPEN
    log.close()
    assert not log._files
    log.append(idps[0], {"status": 201, "n": 7})  # appending after close reopens
    again = RequestLog(tmp_path, size=3)
    for idp in idps:
        expected = [7, 6, 5] if idp == idps[0] else [6, 5, 4]
        assert [e["n"] for e in again.entries(idp)] == expected
    log.close()


# --- when the log cannot be written ---------------------------------------------------------


class FullDisk:
    """``os`` for ``storage.tinydb.requestlog`` on a full disk: writes fail with ENOSPC, after
    writing ``part`` of what they were given (a torn line)."""

    def __init__(self, part: float = 0.0):
        self.part = part

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, fd: int, data: bytes) -> int:
        if self.part:
            os.write(fd, data[: int(len(data) * self.part)])
        raise OSError(errno.ENOSPC, "No space left on device")

    def replace(self, source, destination) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


# The table's disk is full: every insert fails as PostgreSQL's own "could not extend file" does.
FULL_TABLE = """
CREATE FUNCTION roster_test_full() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
END $$;
CREATE TRIGGER roster_test_full BEFORE INSERT ON request_log
FOR EACH ROW EXECUTE FUNCTION roster_test_full();
"""


@pytest.fixture
def failing_log(app, backend, monkeypatch):
    """Make the app's request log fail as on a full disk: its files, or its table."""
    if backend == "tinydb":
        monkeypatch.setattr(request_logs, "os", FullDisk())
        yield
        return
    with psycopg.connect(app.config["ROSTER"]["database_url"], autocommit=True) as conn:
        conn.execute(FULL_TABLE)
        try:
            yield
        finally:
            conn.execute("DROP TRIGGER roster_test_full ON request_log")
            conn.execute("DROP FUNCTION roster_test_full()")


def test_a_write_is_answered_when_its_log_entry_cannot_be_written(
    app, scim, backend, failing_log, caplog
):
    caplog.set_level(logging.WARNING, logger="storage.failures")
    statuses = [
        scim.post("/Users", {"schemas": [CORE], "userName": "ann"}).status_code,
        scim.post("/Users", {"schemas": [CORE], "userName": "bob"}).status_code,
        scim.get('/Users?filter=userName eq "ann"').status_code,
    ]
    assert statuses == [201, 201, 200]
    assert scim.get("/Users").get_json()["totalResults"] == 2  # the writes were committed
    request_log = storage.get_request_log(app)
    assert request_log.failures.count == 4
    # Logged once, not once per request (the next line comes a minute later at the soonest).
    [line] = [r for r in caplog.records if r.name == "storage.failures"]
    assert "No space left on device" in line.getMessage() and line.exc_info is None
    # The files keep what the disk refused in memory, where the console reads it.
    kept = [e["status"] for e in entries(app, scim.id)]
    assert kept == ([200, 200, 201, 201] if backend == "tinydb" else [])


def test_failures_are_logged_at_most_once_a_minute_with_their_count(caplog):
    now = [0.0]
    failures = Failures("request log", clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="storage.failures")
    for second in range(0, 150):
        now[0] = float(second)
        failures.record(OSError(errno.ENOSPC, "No space left on device"))
    assert failures.count == 150
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3  # at 0 s, 60 s and 120 s
    assert lines[1].startswith("request log: 60 entries not written (61 in all)")


def test_an_unexpected_failure_is_logged_with_its_traceback(app, scim, caplog, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(storage.get_request_log(app), "append", broken)
    caplog.set_level(logging.WARNING, logger="storage.failures")
    assert scim.post("/Users", {"schemas": [CORE], "userName": "ann"}).status_code == 201
    [line] = [r for r in caplog.records if r.name == "storage.failures"]
    assert line.exc_info is not None
    assert storage.get_request_log(app).failures.count == 1


def test_a_torn_line_is_repaired_once_the_disk_has_room(tmp_path, monkeypatch):
    log = RequestLog(tmp_path, size=10)
    log.append("idp1", {"status": 200, "n": 0})
    monkeypatch.setattr(request_logs, "os", FullDisk(part=0.5))
    log.append("idp1", {"status": 201, "n": 1})  # half a line reaches the file
    assert log.failures.count == 1
    monkeypatch.undo()
    log.append("idp1", {"status": 204, "n": 2})
    log.close()
    assert [e["n"] for e in RequestLog(tmp_path, size=10).entries("idp1")] == [2, 1, 0]
    assert len((tmp_path / "idp1.jsonl").read_text().splitlines()) == 3


@pytest.fixture
def full_tmpfs(app):
    """Mount a tiny tmpfs on the request log's folder and fill it; yield the filler file."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    folder = Path(app.config["ROSTER"]["data_dir"]) / "requestlog"
    folder.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        filler = folder / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        yield filler
    finally:
        storage.get_request_log(app).close()
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.backends("tinydb")
def test_a_full_disk_under_the_log_files_costs_entries_not_requests(app, scim, full_tmpfs):
    assert scim.post("/Users", {"schemas": [CORE], "userName": "ann"}).status_code == 201
    assert scim.get("/Users").status_code == 200
    request_log = storage.get_request_log(app)
    assert request_log.failures.count == 2
    full_tmpfs.unlink()  # room again: the next entry brings the file up to date
    assert scim.get("/Users").status_code == 200
    assert request_log.failures.count == 2
    reread = RequestLog(full_tmpfs.parent, size=10).entries(scim.id)
    assert [e["status"] for e in reread] == [200, 200, 201]


# --- written behind the requests (storage.behind) ---------------------------------------------


class SlowLog(RequestLog):
    """A request log whose appends wait until ``go`` is set."""

    def __init__(self, folder: Path):
        super().__init__(folder, size=100)
        self.go = threading.Event()
        self.started = threading.Event()

    def append(self, idp: str, entry: dict) -> None:
        self.started.set()
        self.go.wait(timeout=30)
        super().append(idp, entry)


def test_a_full_queue_makes_requests_wait_and_drops_nothing(tmp_path):
    slow = SlowLog(tmp_path)
    log = AppendBehind(slow, size=1)
    log.append("idp1", {"status": 200, "n": 0})  # taken by the writer, which waits on it
    assert slow.started.wait(timeout=30)
    log.append("idp1", {"status": 200, "n": 1})  # fills the queue
    third = threading.Thread(target=log.append, args=("idp1", {"status": 200, "n": 2}))
    third.start()
    third.join(timeout=0.2)  # a bounded join, not a sleep: it must still be waiting
    assert third.is_alive()
    slow.go.set()
    third.join(timeout=30)
    assert [e["n"] for e in log.entries("idp1")] == [2, 1, 0]
    log.close()
    assert [e["n"] for e in RequestLog(tmp_path, size=100).entries("idp1")] == [2, 1, 0]


def test_close_writes_what_is_queued(tmp_path):
    slow = SlowLog(tmp_path)
    log = AppendBehind(slow)
    for n in range(5):
        log.append("idp1", {"status": 200, "n": n})
    slow.go.set()
    log.close()
    assert [e["n"] for e in RequestLog(tmp_path, size=100).entries("idp1")] == [4, 3, 2, 1, 0]


def test_a_server_stopped_with_sigterm_has_logged_every_request(tmp_path):
    data_dir = tmp_path / "data"
    idp = flask_cli(data_dir, "idp", "create", "--name", "A", "--kind", "generic").stdout.strip()
    token = json.loads(flask_cli(data_dir, "token", "generate", idp, "--json").stdout)["token"]
    with LiveServer(data_dir) as server:
        for n in range(30):
            status, _, _ = server.request(
                "POST", f"/scim/v2/{idp}/Users", token, {"schemas": [CORE], "userName": f"u{n}"}
            )
            assert status == 201
        assert server.stop() == 0  # SIGTERM: a clean stop, not a death by signal
    logged = RequestLog(data_dir / "requestlog", size=1000).entries(idp)
    assert [e["status"] for e in logged] == [201] * 30
