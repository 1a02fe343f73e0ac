"""The audit trail: the store's contract on both backends (append, filters, pages, retention,
durability), every admin action from the console and from the CLI recorded once with the right
actor and address, ``flask audit``, and Settings → Audit log."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

import audit
import storage
from storage.tinydb import store as tinydb_store
from tests.conftest import ADMIN_NAME, ADMIN_PASSWORD
from tests.consoletools import submit, text

IDPS = "/settings/identity-providers"
CLIENT = "198.51.100.7"


def _entry(n: int, **fields) -> dict:
    moment = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    return {
        "id": f"entry-{n}",
        "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "actor": "ada",
        "address": "local",
        "action": "idp.create",
        "object": f"idp:IDP{n}",
        "outcome": "success",
        **fields,
    }


def recorded(*args, **kwargs) -> dict:
    """Record an entry as an action does: in its own ``audit.action`` block."""
    with audit.action():
        return audit.record(*args, **kwargs)


def trail(app) -> list[tuple]:
    """Return (action, actor, outcome, object) of every entry, oldest first."""
    with app.app_context():
        _, found = audit.entries(storage.get_store(app))
    return [(e["action"], e["actor"], e["outcome"], e["object"]) for e in reversed(found)]


# --- the store's contract ---------------------------------------------------------------------


def test_entries_come_back_newest_first_filtered_and_paged(store):
    for n in range(5):
        store.append_audit(_entry(n, actor="ada" if n % 2 else "cli"))
    total, page = store.audit_entries()
    assert total == 5 and [e["id"] for e in page] == [f"entry-{n}" for n in (4, 3, 2, 1, 0)]
    assert store.audit_entries(actor="cli")[0] == 3
    assert store.audit_entries(action="token.revoke") == (0, [])
    assert [e["id"] for e in store.audit_entries(object="idp3")[1]] == ["entry-3"]  # any case
    since = _entry(3)["time"]
    assert [e["id"] for e in store.audit_entries(since=since)[1]] == ["entry-4", "entry-3"]
    total, page = store.audit_entries(offset=1, limit=2)
    assert total == 5 and [e["id"] for e in page] == ["entry-3", "entry-2"]
    assert store.audit_entries(offset=10, limit=2) == (5, [])
    page[0]["actor"] = "changed"  # a copy: the store keeps its own
    assert store.audit_entries(offset=1, limit=1)[1][0]["actor"] == "ada"


def test_prune_drops_what_is_older_and_nothing_else(store):
    for n in range(4):
        store.append_audit(_entry(n))
    assert store.prune_audit(_entry(2)["time"]) == 2
    assert store.prune_audit(_entry(2)["time"]) == 0
    assert [e["id"] for e in store.audit_entries()[1]] == ["entry-3", "entry-2"]


def test_entries_survive_a_restart(app, store):
    store.append_audit(_entry(1))
    storage.close_store(app)
    reopened = storage.get_store(app)
    assert reopened.audit_entries()[1] == [_entry(1)]


def test_retention_hides_and_then_drops_old_entries(app, store):
    old = (datetime.now(UTC) - timedelta(days=400)).isoformat().replace("+00:00", "Z")
    store.append_audit({**_entry(1), "time": old})
    with app.app_context():
        assert audit.entries(store) == (0, [])  # past the default 365 days: never shown
        assert store.audit_entries()[0] == 1  # still there until the next entry
        recorded("idp.create", "idp:x")
    assert [e["object"] for e in store.audit_entries()[1]] == ["idp:x"]


@pytest.mark.backends("tinydb")
def test_the_embedded_store_keeps_a_bounded_trail(store, monkeypatch):
    monkeypatch.setattr(tinydb_store, "AUDIT_LIMIT", 3)
    for n in range(5):
        store.append_audit(_entry(n))
    assert [e["id"] for e in store.audit_entries()[1]] == ["entry-4", "entry-3", "entry-2"]


def test_record_refuses_what_is_not_an_action(app):
    with app.app_context(), pytest.raises(ValueError):
        audit.record("create idp", "idp:x")
    with app.app_context(), pytest.raises(ValueError):
        audit.record("idp.create", "idp:x", "maybe")


def test_record_never_keeps_a_token_shaped_text(app, store):
    with app.app_context():
        recorded("idp.create", "idp:x", detail="pasted roster_scim_abcdefghijklmnop by mistake")
    assert store.audit_entries()[1][0]["detail"] == "pasted roster_scim_[redacted] by mistake"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2030-01-31", "2030-01-31T00:00:00.000Z"),
        ("2030-01-31T08:00", "2030-01-31T08:00:00.000Z"),
        ("2030-01-31T10:00+02:00", "2030-01-31T08:00:00.000Z"),
    ],
)
def test_since_takes_dates_and_times(text, expected):
    assert audit.parse_since(text) == expected


def test_since_takes_durations_and_refuses_nonsense():
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    parsed = datetime.fromisoformat(audit.parse_since("1h").replace("Z", "+00:00"))
    assert abs((parsed - hour_ago).total_seconds()) < 60
    with pytest.raises(ValueError):
        audit.parse_since("last tuesday")


# --- the console --------------------------------------------------------------------------------


def test_each_console_action_is_recorded_once_with_the_admin(client, app, admin, store):
    client.environ_base["REMOTE_ADDR"] = CLIENT
    wrong = {"username": ADMIN_NAME, "password": "not the password"}
    assert submit(client, "/sign-in", wrong).status_code == 400
    # A password typed into the username box is never written down.
    typed = {"username": "Secret-Password-In-Username", "password": "x"}
    assert submit(client, "/sign-in", typed).status_code == 400
    right = {"username": ADMIN_NAME, "password": ADMIN_PASSWORD}
    assert submit(client, "/sign-in", right).status_code == 303
    assert submit(client, f"{IDPS}/new", {"name": "Okta", "kind": "okta"}).status_code == 303
    idp = store.records("idps")[0]["id"]
    assert submit(client, f"{IDPS}/new", {"name": "okta", "kind": "okta"}).status_code == 400
    edited = {"name": "Okta EU", "kind": "okta"}
    assert submit(client, f"{IDPS}/{idp}/edit", edited).status_code == 303
    advanced = f"{IDPS}/{idp}/advanced"
    assert submit(client, f"{IDPS}/{idp}/token", page=advanced).status_code == 200
    assert submit(client, f"{IDPS}/{idp}/token/revoke", page=advanced).status_code == 303
    delete = f"{IDPS}/{idp}/delete"
    assert submit(client, delete).status_code == 303
    assert submit(client, "/sign-out", page=IDPS).status_code == 303

    admin_object = f"admin:{ADMIN_NAME}"
    assert trail(app) == [
        ("admin.sign_in", "anonymous", "failure", admin_object),
        ("admin.sign_in", "anonymous", "failure", "admin:(unknown)"),
        ("admin.sign_in", ADMIN_NAME, "success", admin_object),
        ("idp.create", ADMIN_NAME, "success", f"idp:{idp}"),
        ("idp.create", ADMIN_NAME, "failure", "idp:(new)"),
        ("idp.update", ADMIN_NAME, "success", f"idp:{idp}"),
        ("token.generate", ADMIN_NAME, "success", f"idp:{idp}"),
        ("token.revoke", ADMIN_NAME, "success", f"idp:{idp}"),
        ("idp.delete", ADMIN_NAME, "success", f"idp:{idp}"),
        ("admin.sign_out", ADMIN_NAME, "success", admin_object),
    ]
    _, found = store.audit_entries()
    assert {e["address"] for e in found} == {CLIENT}
    assert all(len(e["request_id"]) == 32 and e["os_user"] is None for e in found)
    assert "Secret-Password-In-Username" not in json.dumps(found)


def test_a_throttled_sign_in_is_recorded_as_such(client, app, admin):
    wrong = {"username": ADMIN_NAME, "password": "not the password"}
    for _ in range(5):
        submit(client, "/sign-in", wrong)
    assert submit(client, "/sign-in", wrong).status_code == 429
    assert trail(app)[-1] == ("admin.sign_in", "anonymous", "throttled", f"admin:{ADMIN_NAME}")


def test_the_setup_link_records_the_admin_it_creates(client, app):
    from console import setup_link

    link = urlsplit(setup_link(app)).path
    form = {"username": "grace", "password": "a long enough password"}
    response = submit(client, link, {**form, "confirm": form["password"]})
    assert response.status_code == 303
    assert trail(app) == [("admin.create", "grace", "success", "admin:grace")]


def test_the_audit_log_page_filters_and_pages(signed_in, app, store, monkeypatch):
    from console import audit as page

    monkeypatch.setattr(page, "PER_PAGE", 2)
    with app.app_context():
        for name in ("alpha", "beta", "gamma"):
            recorded("idp.create", f"idp:{name}", actor="cli")
    shown = text(signed_in.get("/settings/audit-log?actor=cli"))
    assert "idp:gamma" in shown and "idp:beta" in shown and "idp:alpha" not in shown
    assert "1–2 of 3 entries" in shown
    second = text(signed_in.get("/settings/audit-log?actor=cli&page=2"))
    assert "idp:alpha" in second and "idp:gamma" not in second
    by_object = text(signed_in.get("/settings/audit-log?object=BETA"))
    assert "idp:beta" in by_object and "idp:gamma" not in by_object
    by_action = text(signed_in.get("/settings/audit-log?action=admin.sign_in"))
    assert "Signed in" in by_action and "idp:beta" not in by_action
    unknown = signed_in.get("/settings/audit-log?action=nonsense&page=x")
    assert unknown.status_code == 200 and "idp:beta" in text(unknown)


def test_the_audit_log_page_needs_an_admin(client):
    response = client.get("/settings/audit-log")
    assert response.status_code == 303 and "/sign-in" in response.headers["Location"]


# --- the CLI ------------------------------------------------------------------------------------


def invoke(runner, *args, input=None):
    result = runner.invoke(args=list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_each_cli_action_is_recorded_once_as_cli_with_the_os_user(runner, app):
    invoke(runner, "admin", "create", "grace", "--password-stdin", input="a long password!\n")
    idp = invoke(runner, "idp", "create", "--name", "JumpCloud", "--kind", "jumpcloud")
    refused = runner.invoke(args=["idp", "create", "--name", "jumpcloud", "--kind", "okta"])
    assert refused.exit_code == 1
    invoke(runner, "token", "generate", idp)
    invoke(runner, "token", "revoke", idp)
    invoke(runner, "idp", "delete", idp, "--yes")
    assert trail(app) == [
        ("admin.create", "cli", "success", "admin:grace"),
        ("idp.create", "cli", "success", f"idp:{idp}"),
        ("idp.create", "cli", "failure", "idp:(new)"),
        ("token.generate", "cli", "success", f"idp:{idp}"),
        ("token.revoke", "cli", "success", f"idp:{idp}"),
        ("idp.delete", "cli", "success", f"idp:{idp}"),
    ]
    entries = json.loads(invoke(runner, "audit", "--json"))
    assert {(e["os_user"], e["address"]) for e in entries} == {(getpass.getuser(), "local")}


def test_the_audit_command_filters(runner, app):
    with app.app_context():
        recorded("idp.create", "idp:alpha")
        recorded("token.generate", "idp:alpha", detail="Alpha")
        recorded("idp.create", "idp:beta", actor="ada")
    generated = json.loads(invoke(runner, "audit", "--action", "token.generate", "--json"))
    assert [e["object"] for e in generated] == ["idp:alpha"]
    assert len(json.loads(invoke(runner, "audit", "--actor", "ada", "--json"))) == 1
    assert len(json.loads(invoke(runner, "audit", "--object", "ALPHA", "--json"))) == 2
    assert len(json.loads(invoke(runner, "audit", "--limit", "1", "--json"))) == 1
    assert json.loads(invoke(runner, "audit", "--since", "2999-01-01", "--json")) == []
    assert len(json.loads(invoke(runner, "audit", "--since", "1h", "--json"))) == 3
    lines = invoke(runner, "audit").splitlines()
    assert len(lines) == 3 and "token.generate  idp:alpha  success  Alpha" in lines[1]
    bad = runner.invoke(args=["audit", "--since", "yesterday-ish"])
    assert bad.exit_code == 2 and "--since" in bad.output


def test_api_keys_and_admin_changes_from_the_cli_are_recorded(runner, app):
    invoke(runner, "admin", "create", "grace", "--password-stdin", input="a long password!\n")
    invoke(runner, "admin", "create", "alan", "--password-stdin", input="another password!\n")
    invoke(runner, "admin", "password", "grace", "--password-stdin", input="a new password!!\n")
    invoke(runner, "admin", "delete", "alan", "--yes")
    created = json.loads(invoke(runner, "apikey", "create", "--name", "billing", "--json"))
    assert runner.invoke(args=["apikey", "create", "--name", " "]).exit_code == 1
    invoke(runner, "apikey", "revoke", created["id"])
    assert runner.invoke(args=["apikey", "revoke", created["id"]]).exit_code == 1
    key = f"apikey:{created['id']}"
    assert trail(app)[2:] == [
        ("admin.password", "cli", "success", "admin:grace"),
        ("admin.delete", "cli", "success", "admin:alan"),
        ("apikey.create", "cli", "success", key),
        ("apikey.create", "cli", "failure", "apikey:(none)"),
        ("apikey.revoke", "cli", "success", key),
        ("apikey.revoke", "cli", "failure", key),
    ]
    with app.app_context():
        entries = audit.entries(storage.get_store(app))[1]
    assert created["key"] not in json.dumps(entries)


def test_api_keys_and_password_changes_in_the_console_are_recorded(signed_in, app, store):
    response = submit(signed_in, "/settings/api-keys", {"name": "billing"})
    assert response.status_code == 200
    record = store.records("apikeys")[0]
    revoke = f"/settings/api-keys/{record['id']}/revoke"
    assert submit(signed_in, revoke, page="/settings/api-keys").status_code == 303
    form = {
        "current": "wrong",
        "password": "a brand new password",
        "confirm": "a brand new password",
    }
    assert submit(signed_in, "/account/password", form).status_code == 400
    form["current"] = ADMIN_PASSWORD
    assert submit(signed_in, "/account/password", form).status_code == 303
    admin = f"admin:{ADMIN_NAME}"
    assert trail(app)[1:] == [
        ("apikey.create", ADMIN_NAME, "success", f"apikey:{record['id']}"),
        ("apikey.revoke", ADMIN_NAME, "success", f"apikey:{record['id']}"),
        ("admin.password", ADMIN_NAME, "failure", admin),
        ("admin.password", ADMIN_NAME, "success", admin),
    ]
