"""``/healthz`` and ``/readyz``: no authentication, no throttle, nothing revealed; readiness
turns 503 when the data folder becomes read-only, moves away or the database stops, and 200
again once it is back, without a restart."""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

import storage
from app import create_app
from monitoring import probes
from tests import pgcluster
from tests.live import wait_for


def ready(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response.mimetype == "application/json"
    return response.status_code, response.get_json()


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI runs the readiness tests, but {reason}")
    pytest.skip(reason)


def test_healthz_answers_without_the_store(client, monkeypatch):
    def broken(*args, **kwargs):
        raise AssertionError("/healthz touched the store")

    monkeypatch.setattr(storage, "get_store", broken)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_probes_say_nothing_but_their_status(client):
    status, body = ready(client)
    assert (status, body) == (200, {"status": "ready"})
    health = client.get("/healthz").get_data(as_text=True)
    assert json.loads(health) == {"status": "ok"}


def test_probes_need_no_sign_in_and_are_not_throttled(client, scim):
    bad = {"Authorization": "Bearer roster_scim_guess"}
    refused = [scim.get("/Users", headers=bad).status_code for _ in range(32)]
    assert refused[-1] == 429  # this address is throttled on SCIM…
    for _ in range(50):  # …and still gets every probe answered
        assert client.get("/healthz").status_code == 200
        assert ready(client)[0] == 200


def test_a_failing_worker_makes_roster_unready(app, client):
    alive = {"delivery": True}
    probes.add_check(app, "delivery", lambda: None if alive["delivery"] else "stopped")
    assert ready(client)[0] == 200
    alive["delivery"] = False
    assert ready(client) == (503, {"status": "unavailable", "checks": {"delivery": "stopped"}})
    alive["delivery"] = True
    assert ready(client)[0] == 200


@pytest.mark.backends("tinydb")
def test_a_data_folder_moved_away_and_back(app, client, store):
    folder = Path(app.config["ROSTER"]["data_dir"])
    aside = folder.with_name("aside")
    folder.rename(aside)
    status, body = ready(client)
    assert status == 503 and body["checks"]["store"] == "the data folder is missing"
    folder.mkdir()  # an empty folder in its place is not the store's folder
    assert ready(client)[1]["checks"]["store"] == "the data folder was moved or replaced"
    folder.rmdir()
    aside.rename(folder)
    assert ready(client)[0] == 200


@contextmanager
def read_only(folder: Path):
    """Make ``folder`` read-only for everything that opens a path in it, as a read-only
    remount does. (``mount -o remount,ro`` of the folder's own file system fails with EBUSY
    while the journal is open for writing; a read-only bind mount over the folder does not.)"""
    if os.geteuid() != 0:
        unavailable("a read-only bind mount needs root")
    for command in (
        ["mount", "--bind", str(folder), str(folder)],
        ["mount", "-o", "remount,bind,ro", str(folder)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            subprocess.run(["umount", str(folder)], capture_output=True, timeout=30)
            unavailable(f"{' '.join(command)} failed: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True, timeout=30)


@pytest.mark.backends("tinydb")
def test_a_read_only_data_folder_and_back(app, client, store):
    folder = Path(app.config["ROSTER"]["data_dir"])
    with read_only(folder):
        status, body = ready(client)
        assert status == 503
        reason = body["checks"]["store"]
        assert reason == "the data folder cannot be written (Read-only file system)"
        assert str(folder) not in str(body)
        assert client.get("/healthz").status_code == 200  # alive all the same
    assert ready(client) == (200, {"status": "ready"})


def test_a_database_that_stops_and_comes_back(tmp_path):
    try:
        cluster = pgcluster.Cluster().start()
    except pgcluster.Unavailable as exc:
        unavailable(f"PostgreSQL is unavailable ({exc})")
    try:
        dsn = cluster.create_database("roster_ready")
        app = create_app(
            {"data_dir": str(tmp_path / "data"), "secret_key": "x", "database_url": dsn}
        )
        client = app.test_client()
        try:
            assert ready(client) == (200, {"status": "ready"})
            cluster.halt()
            status, body = ready(client)
            assert status == 503
            assert body["checks"] == {"store": "the database does not answer"}
            assert "127.0.0.1" not in str(body) and "postgres" not in str(body)
            cluster.resume()
            # The pool reconnects in the background: ready again within seconds, same process.
            wait_for(lambda: client.get("/readyz").status_code == 200, 30, "ready again")
        finally:
            storage.close_store(app)
    finally:
        cluster.stop()
