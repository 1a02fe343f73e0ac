"""``flask --app app migrate --to postgres DSN`` and back, and ``backup`` on PostgreSQL."""

from __future__ import annotations

import json
import uuid

import pytest

import storage
from app import create_app
from storage import migrate
from storage.backup import read_folder
from storage.postgres.store import PostgresStore
from storage.tinydb import files
from storage.tinydb.store import TinyStore

IDP = "3f9c2a1b7d4e"
USERS = 10_000


def tenant_tables(users: int) -> files.Tables:
    """A store as the server would leave it: users, groups of them, an IdP, its token and the
    audit entries of their creation."""
    tables: files.Tables = {"User": {}, "Group": {}, "idps": {}, "tokens": {}, "settings": {}}
    for i in range(users):
        id = str(uuid.UUID(int=i))
        tables["User"][id] = {"idp": IDP, "data": _resource("User", id, {
            "userName": f"user{i}@example.com",
            "externalId": f"ext-{i}" if i % 3 else "",
            "name": {"givenName": f"Given{i}", "familyName": "Straße" if i % 7 else "Doe"},
            "emails": [{"value": f"user{i}@example.com", "type": "work", "primary": True}],
            "active": bool(i % 2),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": i},
        })}  # fmt: skip
    user_ids = list(tables["User"])
    for g in range(20):
        id = str(uuid.UUID(int=users + g))
        members = [{"value": m, "type": "User"} for m in user_ids[g::20][: 50 * g]]
        body = {"displayName": f"Group {g}", **({"members": members} if members else {})}
        tables["Group"][id] = {"idp": IDP, "data": _resource("Group", id, body)}
    tables["idps"][IDP] = {"id": IDP, "name": "JumpCloud", "kind": "jumpcloud", "created": "x"}
    tables["tokens"]["ab" * 32] = {"digest": "ab" * 32, "idp": IDP, "revoked": None}
    tables["settings"]["setup"] = {"nonce": "n", "created": "2026-01-01T00:00:00Z"}
    tables["audit"] = {
        f"entry{n}": {"id": f"entry{n}", "time": f"2026-01-0{n}T00:00:00.000Z", "actor": "ada",
                      "action": action, "object": f"idp:{IDP}", "outcome": "success"}
        for n, action in ((1, "idp.create"), (2, "token.generate"))
    }  # fmt: skip
    # The change feed: its first 100 events pruned, the next 50 kept.
    tables["events"] = {str(seq): _event(seq, user_ids[seq % users]) for seq in range(101, 151)}
    tables["feed"] = {"state": {"pruned_through": 100}}
    return tables


def _event(seq: int, user: str) -> dict:
    data = {"id": user, "username": f"user{seq}@example.com", "active": True}
    return {
        "id": str(uuid.UUID(int=seq)),
        "seq": seq,
        "type": "user.updated",
        "occurred_at": "2026-11-28T15:00:00.000Z",
        "idp": {"id": IDP, "name": "JumpCloud", "kind": "jumpcloud"},
        "resource": {"type": "user", "id": user, "version": 'W/"2"', "username": data["username"]},
        "data": data,
        "changed": ["active"],
        "source": {"method": None, "path": None, "request_id": None},
    }


def _resource(kind: str, id: str, body: dict) -> dict:
    stamp = "2026-11-28T15:00:00.000Z"
    meta = {"resourceType": kind, "created": stamp, "lastModified": stamp, "version": 'W/"1"'}
    schema = f"urn:ietf:params:scim:schemas:core:2.0:{kind}"
    return {"schemas": [schema], **body, "id": id, "meta": meta}


def run(app, *args: str):
    result = app.test_cli_runner().invoke(args=list(args))
    storage.close_store(app)
    return result


def folder_app(folder):
    return create_app({"data_dir": str(folder), "secret_key": "test"})


def database_app(tmp_path, dsn):
    config = {"backend": "postgres", "database_url": dsn, "secret_key": "test"}
    return create_app({**config, "data_dir": str(tmp_path / "secret")})


def test_round_trip_of_a_10000_user_store_is_exact(tmp_path, database_url):
    source = tmp_path / "source"
    source.mkdir()
    files.write_snapshot(source, tenant_tables(USERS), 0)
    original = read_folder(source)

    there = run(folder_app(source), "migrate", "--to", "postgres", database_url, "--json")
    assert there.exit_code == 0, there.output
    report = json.loads(there.stdout)
    assert report["counts"] == {
        "Group": 20, "User": USERS, "audit": 2, "events": 50, "feed": 1, "idps": 1,
        "settings": 1, "tokens": 1,
    }  # fmt: skip
    assert report["checksum"] == migrate.checksum(original)

    # What the server would answer from the copy: the same pages in the same order.
    copy_app = database_app(tmp_path, database_url)
    store = storage.get_store(copy_app)
    try:
        total, page = store.query("User", IDP, start_index=101, count=50)
        assert total == USERS
        assert page == [row["data"] for row in list(original["User"].values())[100:150]]
        group = next(iter(original["Group"].values()))["data"]["id"]
        assert store.get("Group", IDP, group) == original["Group"][group]["data"]
        trail = store.audit_entries()[1]
        assert trail == list(reversed(original["audit"].values()))  # newest first
        # The feed goes on where it was: the same events under the same cursors.
        assert store.events(100, 1000)[0] == list(original["events"].values())
        assert store.last_seq() == 150 and store.prune_events() == 100
    finally:
        storage.close_store(copy_app)

    back = run(
        database_app(tmp_path, database_url), "migrate", "--to", "tinydb", str(tmp_path / "back")
    )
    assert back.exit_code == 0, back.output
    assert report["checksum"] in back.stdout
    returned = read_folder(tmp_path / "back")
    assert {k: v for k, v in returned.items() if v} == {k: v for k, v in original.items() if v}
    for table, rows in original.items():  # creation order too, not only the same rows
        assert list(returned.get(table, {})) == list(rows)
    for store in (TinyStore(tmp_path / "back"), PostgresStore(database_url)):
        try:  # each copy's next event follows the last one
            store.create("User", IDP, {"userName": "new@example.com"})
            assert store.last_seq() == 151
        finally:
            store.close()


def test_destination_must_be_empty(tmp_path, database_url):
    source = tmp_path / "source"
    source.mkdir()
    files.write_snapshot(source, tenant_tables(3), 0)
    assert run(folder_app(source), "migrate", "--to", "postgres", database_url).exit_code == 0
    again = run(folder_app(source), "migrate", "--to", "postgres", database_url)
    assert again.exit_code == 1
    assert "already holds a Roster store" in again.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    back = run(
        database_app(tmp_path, database_url), "migrate", "--to", "tinydb", str(tmp_path / "full")
    )
    assert back.exit_code == 1
    assert "is not empty" in back.output


def test_migrate_needs_a_known_backend(tmp_path):
    result = run(folder_app(tmp_path / "data"), "migrate", "--to", "mysql", "x")
    assert result.exit_code == 2


def test_backup_of_a_database_is_a_data_folder(tmp_path, database_url):
    app = database_app(tmp_path, database_url)
    store = storage.get_store(app)
    created = store.create("User", IDP, {"userName": "ann"})
    result = run(app, "backup", str(tmp_path / "backup"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == {"User": 1, "events": 1}
    restored = TinyStore(tmp_path / "backup")
    try:
        assert restored.get("User", IDP, created["id"]) == created
    finally:
        restored.close()


@pytest.mark.parametrize("backend", ["postgres"])
def test_cli_and_server_may_share_a_database(app, runner, scim):
    # No folder lock with PostgreSQL: an admin command runs beside the servers.
    held = storage.open_store(app.config["ROSTER"])  # stands in for a running server
    try:
        result = runner.invoke(args=["idp", "list", "--json"])
        assert result.exit_code == 0, result.output
        assert [row["id"] for row in json.loads(result.stdout)] == [scim.id]
    finally:
        held.close()
