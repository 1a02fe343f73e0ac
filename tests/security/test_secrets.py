"""Tokens and passwords: never on disk in plain text, never in a log, the request log, the audit
trail or an error message; a revoked or replaced token is refused on the very next request;
repeated failures from one client are throttled (429, Retry-After) without slowing the others,
also behind a reverse proxy.

The throttle's own behaviour is tested in ``tests/test_throttle.py``.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys

import pytest

import audit
import storage
import tokens
from app import create_app
from storage import get_request_log
from tests.conftest import ADMIN_NAME, ADMIN_PASSWORD, Tenant, stored_text
from tests.consoletools import submit
from tests.live import ROOT, LiveServer, environment, flask_cli
from tests.security import CORE_GROUP, CORE_USER, PATCH_OP, assert_scim_error
from tests.security.test_fuzz_http import ENDPOINTS

PASSWORDS = [f"Plain-Password-{n}-Zebra" for n in range(6)]


def assert_kept_nowhere(secrets: list[str], **texts: str) -> None:
    """Assert no secret appears in any of ``texts`` (name → what a place keeps, as text)."""
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"{secret[:16]}… in {where}"


def _cli_token(data_dir, idp: str) -> str:
    done = flask_cli(data_dir, "token", "generate", idp, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["token"]


def _cli_idp(data_dir, name: str) -> str:
    done = flask_cli(data_dir, "idp", "create", "--name", name, "--kind", "generic")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _console_admin(data_dir, password: str) -> bool:
    """Create a console admin through the CLI, if this Roster has a console."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "app",
            "admin",
            "create",
            "ada",
            "--password-stdin",
        ],
        cwd=ROOT,
        env=environment(data_dir),
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode == 0


def _provision(server, idp: str, token: str, other_token: str, old_token: str) -> None:
    """What an IdP does in a day, plus what an attacker and a careless client do."""
    base = f"/scim/v2/{idp}"

    def call(method, path, body=None, token=token):
        return server.request(method, base + path, token, body)

    status, _, ann = call(
        "POST", "/Users", {"schemas": [CORE_USER], "userName": "ann", "password": PASSWORDS[0]}
    )
    assert status == 201
    user = f"/Users/{ann['id']}"
    full = {"schemas": [CORE_USER], "userName": "ann", "password": PASSWORDS[1], "active": True}
    assert call("PUT", user, full)[0] == 200
    ops = [
        {"op": "replace", "path": "password", "value": PASSWORDS[2]},
        {"op": "replace", "value": {"password": PASSWORDS[3], "title": "Boss"}},
    ]
    assert call("PATCH", user, {"schemas": [PATCH_OP], "Operations": ops})[0] == 200
    # Refused requests that carry a password all the same.
    bad = {"schemas": [CORE_USER], "userName": 42, "password": PASSWORDS[4]}
    assert call("POST", "/Users", bad)[0] == 400
    assert call("POST", "/Users", {"userName": "x", "password": PASSWORDS[5]})[0] == 400
    group = {"schemas": [CORE_GROUP], "displayName": "Team", "members": [{"value": ann["id"]}]}
    assert call("POST", "/Groups", group)[0] == 201
    assert call("GET", "/Users?filter=userName%20eq%20%22ann%22")[0] == 200
    # Tokens where they do not belong: revoked, another tenant's, in the URL, in a body.
    assert call("GET", "/Users", token=old_token)[0] == 401
    assert call("GET", "/Users", token=other_token)[0] == 401
    assert call("GET", f"/Users?access_token={token}")[0] == 200
    assert call("POST", "/.search", {"token": token, "filter": f'userName eq "{token}"'})[0] == 200


def test_no_token_or_password_in_plain_text_anywhere_after_a_full_run(tmp_path):
    data_dir = tmp_path / "data"
    config = tmp_path / "roster.toml"
    config.write_text('[logging]\nlevel = "DEBUG"\nlog_bodies = true\n')
    a, b = _cli_idp(data_dir, "A"), _cli_idp(data_dir, "B")
    old = _cli_token(data_dir, a)
    token = _cli_token(data_dir, a)  # replaces, and so revokes, the first one
    other = _cli_token(data_dir, b)
    admin_password = "Console-Admin-Password-Quokka"
    has_console = _console_admin(data_dir, admin_password)
    with LiveServer(data_dir, "--config", str(config)) as server:
        _provision(server, a, token, other, old)
    assert flask_cli(data_dir, "backup", str(data_dir / "backup")).returncode == 0
    assert flask_cli(data_dir, "log", a, "--limit", "100").returncode == 0

    secrets = [old, token, other, *PASSWORDS] + ([admin_password] if has_console else [])
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert len(files) >= 4, files  # the journal, the request logs, the backup, the key…
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"{secret[:16]}… in {path}"
    output = "".join(server.output)
    assert "/Users" in output  # the process log is on: it saw the requests
    trail = flask_cli(data_dir, "audit", "--json")
    assert trail.returncode == 0, trail.stderr
    actions = [entry["action"] for entry in json.loads(trail.stdout)]
    assert actions.count("token.generate") == 3 and actions.count("idp.create") == 2
    assert_kept_nowhere(secrets, **{"the process log": output, "the audit trail": trail.stdout})
    # What is kept instead: digests and salted hashes.
    everything = b"".join(p.read_bytes() for p in files)
    assert tokens.digest(token).encode() in everything
    assert b"scrypt$" in everything


def test_no_secret_in_the_audit_trail_after_every_console_action(client, app, admin, store):
    typed = "Typed-Into-The-Username-Box-Wombat"
    submit(client, "/sign-in", {"username": typed, "password": ADMIN_PASSWORD})
    submit(client, "/sign-in", {"username": ADMIN_NAME, "password": ADMIN_PASSWORD})
    idps = "/settings/identity-providers"
    submit(client, f"{idps}/new", {"name": "Okta", "kind": "okta"})
    idp = store.records("idps")[0]["id"]
    advanced = f"{idps}/{idp}/advanced"
    shown = set()
    for old in ("", "revoke"):  # a first token, then one replacing it
        page = submit(client, f"{idps}/{idp}/token", {"old": old}, page=advanced)
        shown.update(re.findall(r"roster_scim_[A-Za-z0-9_-]{20,}", page.get_data(as_text=True)))
    assert len(shown) == 2
    submit(client, f"{idps}/{idp}/token/revoke", page=advanced)
    with app.app_context():
        _, entries = audit.entries(store)
    assert len(entries) >= 6
    secrets = [*shown, ADMIN_PASSWORD, typed]
    assert_kept_nowhere(
        secrets, **{"the audit trail": json.dumps(entries), "the store": stored_text(app)}
    )


@pytest.fixture
def chatty(app, caplog):
    """The app with request bodies logged and every logger at DEBUG, captured."""
    app.config["ROSTER"]["log_bodies"] = True
    caplog.set_level(logging.DEBUG)
    return caplog


def test_tokens_never_reach_logs_or_error_messages(app, scim, other, store, chatty):
    revoked = scim.token
    token = tokens.issue(store, scim.id)
    scim.headers = {"Authorization": f"Bearer {token}"}
    sent = [
        ("GET", "/Users", None, {"Authorization": f"Bearer {revoked}"}),
        ("GET", "/Users", None, {"Authorization": f"Bearer {other.token}"}),
        ("GET", "/Users", None, {"Authorization": f"Bearer {token}x"}),
        ("GET", "/Users", None, {"Authorization": f"Basic {token}"}),
        ("GET", f"/Users?access_token={token}", None, {}),
        ("GET", f"/Users/{token}", None, {}),
        ("GET", "/Users", None, {"User-Agent": f"client/1.0 ({token})"}),
        ("POST", "/Users", {"schemas": [CORE_USER], "userName": 5, "token": token}, {}),
        ("POST", "/Users/.search", {"filter": f"userName eq {token} x"}, {}),
        ("PATCH", f"/Users/{token}", {"Operations": [{"op": "add", "path": token}]}, {}),
        ("GET", f"/{token}", None, {}),
    ]
    bodies = []
    for method, path, body, headers in sent:
        merged = {**scim.headers, **headers}
        response = scim.request(method, path, body, headers=merged)
        bodies.append(response.get_data(as_text=True))
        if response.status_code >= 400:
            assert_scim_error(response)
    with app.app_context():
        logged = json.dumps(get_request_log().entries(scim.id))
    assert len(get_request_log(app).entries(scim.id)) >= len(sent)
    for secret in (revoked, token, other.token):
        assert secret not in chatty.text, "a token in the process log"
        assert secret not in logged, "a token in the request log"
        for request, text in zip(sent, bodies, strict=True):
            assert secret not in text, request


@pytest.mark.parametrize("how", ["replaced", "revoked"])
def test_a_dead_token_is_refused_on_the_very_next_request_everywhere(scim, store, how):
    user, group = scim.create_user("ann"), scim.create_group("Team")
    live = scim.token
    if how == "replaced":
        tokens.issue(store, scim.id)
    else:
        tokens.revoke(store, scim.id)
    for method, path in ENDPOINTS:
        path = path.format(user=user["id"], group=group["id"])
        response = scim.client.open(
            scim.base + path, method=method, headers={"Authorization": f"Bearer {live}"}
        )
        assert_scim_error(response, 401)


def _proxied_app(tmp_path, trusted: list[str]):
    app = create_app(
        {
            "data_dir": str(tmp_path / "data"),
            "secret_key": "test-secret",
            "trusted_proxies": trusted,
            "auth_failures_per_minute": 3,
        }
    )
    app.config["TESTING"] = True
    return app


def test_an_attacker_cannot_dodge_the_throttle_with_x_forwarded_for(tmp_path):
    app = _proxied_app(tmp_path, trusted=[])
    idp = Tenant(app.test_client(), storage.get_store(app), "IdP")
    try:
        bad = {"Authorization": "Bearer roster_scim_guess"}
        statuses = [
            idp.client.get(
                f"{idp.base}/Users",
                headers={**bad, "X-Forwarded-For": f"198.51.100.{n}"},
                environ_base={"REMOTE_ADDR": "203.0.113.9"},
            ).status_code
            for n in range(5)
        ]
        assert statuses == [401, 401, 401, 429, 429]
    finally:
        storage.close_store(app)


def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own(tmp_path):
    app = _proxied_app(tmp_path, trusted=["10.0.0.1"])
    idp = Tenant(app.test_client(), storage.get_store(app), "IdP")
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    try:
        for _ in range(4):
            refused = idp.client.get(
                f"{idp.base}/Users",
                headers={"Authorization": "Bearer nope", "X-Forwarded-For": "203.0.113.9"},
                environ_base=proxy,
            )
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert_scim_error(refused, 429)
        # The real IdP, behind the same proxy, is not slowed.
        served = idp.get("/Users", headers={"X-Forwarded-For": "198.51.100.7"}, environ_base=proxy)
        assert served.status_code == 200
    finally:
        storage.close_store(app)
