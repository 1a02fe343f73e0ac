"""The real thing: ``python app.py`` under waitress and ``flask --app app`` in subprocesses."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests import live
from tests.live import ROOT, LiveServer, environment, flask_cli, free_port

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def provision(data_dir) -> tuple[str, str]:
    return live.provision(data_dir, "JumpCloud", "jumpcloud")


def test_cli_then_server_then_scim(data_dir):
    idp, token = provision(data_dir)
    with LiveServer(data_dir) as server:
        base = f"/scim/v2/{idp}"
        status, _, body = server.request("GET", base + "/Users", token)
        assert status == 200 and body["totalResults"] == 0
        status, headers, user = server.request(
            "POST", base + "/Users", token, {"schemas": [CORE], "userName": "ann"}
        )
        assert status == 201
        assert headers["Location"] == f"{server.url}{base}/Users/{user['id']}"
        assert headers["Content-Type"] == "application/scim+json; charset=utf-8"
        status, _, _ = server.request("GET", base + "/Users", "roster_scim_wrong")
        assert status == 401
    # Acknowledged writes survive the restart.
    with LiveServer(data_dir) as server:
        status, _, body = server.request("GET", f"/scim/v2/{idp}/Users/{user['id']}", token)
        assert status == 200 and body["userName"] == "ann"


def test_acknowledged_writes_survive_sigkill(data_dir):
    idp, token = provision(data_dir)
    base = f"/scim/v2/{idp}"
    with LiveServer(data_dir) as server:
        ids = [
            server.request(
                "POST", base + "/Users", token, {"schemas": [CORE], "userName": f"u{i}"}
            )[2]["id"]
            for i in range(20)
        ]
        server.kill()
    with LiveServer(data_dir) as server:
        status, _, body = server.request("GET", base + "/Users?count=100", token)
        assert sorted(r["id"] for r in body["Resources"]) == sorted(ids)


def test_cli_refuses_while_the_server_runs(data_dir):
    idp, _ = provision(data_dir)
    with LiveServer(data_dir):
        result = flask_cli(data_dir, "token", "generate", idp)
        assert result.returncode == 1
        assert "in use by another Roster process" in result.stderr
        assert "Traceback" not in result.stderr


def run_app(data_dir, *args, cwd=ROOT, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args],
        cwd=cwd,
        env=environment(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_second_server_on_the_same_folder_exits_2(data_dir):
    with LiveServer(data_dir):
        result = run_app(data_dir, "--port", str(free_port()))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("roster: the data folder")
    assert "Traceback" not in result.stderr


def test_port_in_use_exits_2(data_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_app(data_dir, "--port", str(busy.getsockname()[1]))
    assert result.returncode == 2
    assert "cannot listen on" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "config, message",
    [
        ("[server]\nprot = 1\n", "unknown key 'server.prot'"),
        ('[server]\nport = "x"\n', "server.port must be int"),
    ],
)
def test_bad_config_exits_2_with_one_line(data_dir, tmp_path, config, message):
    path = tmp_path / "config.toml"
    path.write_text(config)
    result = run_app(data_dir, "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_unwritable_data_folder_exits_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_app(blocker / "data")
    assert result.returncode == 2
    assert "data folder" in result.stderr and "Traceback" not in result.stderr


def test_cli_with_bad_config_prints_one_line(data_dir, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[server]\nprot = 1\n")
    result = flask_cli(data_dir, "idp", "list", ROSTER_CONFIG=str(path))
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {path}: unknown key 'server.prot'"


def test_backup_while_the_server_runs(data_dir, tmp_path):
    idp, token = provision(data_dir)
    base = f"/scim/v2/{idp}"
    with LiveServer(data_dir) as server:
        created = [
            server.request("POST", base + "/Users", token, {"schemas": [CORE], "userName": n})[2]
            for n in ("ann", "bob")
        ]
        result = flask_cli(data_dir, "backup", str(tmp_path / "copy"), "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["rows"]["User"] == 2
        # the server kept serving, and the copy is a data folder a server can start on
        status, _, _ = server.request("GET", base + "/Users", token)
        assert status == 200
    with LiveServer(tmp_path / "copy") as copy:
        status, _, body = copy.request("GET", base + "/Users", token)
        assert status == 200
        assert sorted(r["id"] for r in body["Resources"]) == sorted(u["id"] for u in created)


def test_backup_refuses_a_non_empty_destination(data_dir, tmp_path):
    provision(data_dir)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    result = flask_cli(data_dir, "backup", str(tmp_path / "taken"))
    assert result.returncode == 1
    assert "is not empty" in result.stderr


def test_oversized_body_gets_a_scim_413_from_the_real_server(data_dir):
    idp, token = provision(data_dir)
    with LiveServer(data_dir) as server:
        body = {"schemas": [CORE], "userName": "a", "title": "x" * (2 * 1024 * 1024)}
        status, headers, error = server.request("POST", f"/scim/v2/{idp}/Users", token, body)
    assert status == 413
    assert headers["Content-Type"].startswith("application/scim+json")
    assert error["status"] == "413"
