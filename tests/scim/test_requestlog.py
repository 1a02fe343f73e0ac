"""The request log: what each IdP asked and what it was told, bounded, persistent, secret-free."""

from __future__ import annotations

import json

import pytest

import storage
from storage.tinydb.requestlog import RequestLog
from tests.conftest import patch_op, sample, stored_text

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
