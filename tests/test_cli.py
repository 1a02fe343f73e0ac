"""The admin CLI: idp create/list/delete, token generate/revoke, --json, errors."""

from __future__ import annotations

import json

import pytest

import storage
import tokens


def invoke(runner, *args):
    return runner.invoke(args=list(args))


def create(runner, name="JumpCloud", kind="jumpcloud") -> str:
    result = invoke(runner, "idp", "create", "--name", name, "--kind", kind)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_idp_create_prints_the_id(runner, store):
    idp = create(runner)
    assert store.get_record("idps", idp)["name"] == "JumpCloud"


def test_idp_create_json(runner):
    result = invoke(runner, "idp", "create", "--name", "Okta", "--kind", "okta", "--json")
    data = json.loads(result.output)
    assert data["kind"] == "okta" and data["name"] == "Okta" and data["id"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--name", "X", "--kind", "nope"], "Invalid value for '--kind'"),
        (["--name", "  ", "--kind", "okta"], "must not be empty"),
    ],
)
def test_idp_create_rejects_bad_input(runner, args, message):
    result = invoke(runner, "idp", "create", *args)
    assert result.exit_code != 0
    assert message in result.output


def test_duplicate_idp_name_is_refused(runner):
    create(runner, "Corp")
    result = invoke(runner, "idp", "create", "--name", "corp", "--kind", "okta")
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_token_generate_prints_endpoint_and_token(runner, app, store):
    idp = create(runner)
    result = invoke(runner, "token", "generate", idp)
    assert result.exit_code == 0
    endpoint_line, token_line = result.output.strip().splitlines()
    assert endpoint_line == f"endpoint: http://127.0.0.1:8080/scim/v2/{idp}"
    token = token_line.removeprefix("token: ")
    assert tokens.verify(store, idp, token)


def test_token_generate_json_uses_public_url(runner, app):
    app.config["ROSTER"]["public_url"] = "https://roster.example.com"
    idp = create(runner)
    data = json.loads(invoke(runner, "token", "generate", idp, "--json").output)
    assert data["endpoint"] == f"https://roster.example.com/scim/v2/{idp}"
    assert data["token"].startswith(tokens.PREFIX)


def test_generate_revokes_previous_and_revoke_revokes(runner, store):
    idp = create(runner)
    first = json.loads(invoke(runner, "token", "generate", idp, "--json").output)["token"]
    second = json.loads(invoke(runner, "token", "generate", idp, "--json").output)["token"]
    assert not tokens.verify(store, idp, first)
    assert tokens.verify(store, idp, second)
    result = invoke(runner, "token", "revoke", idp)
    assert result.exit_code == 0
    assert not tokens.verify(store, idp, second)


def test_unknown_idp_is_an_error(runner):
    for command in (
        ["token", "generate", "nope"],
        ["token", "revoke", "nope"],
        ["idp", "delete", "nope", "--yes"],
    ):
        result = invoke(runner, *command)
        assert result.exit_code == 1
        assert "no identity provider" in result.output


def test_idp_list_shows_counts_and_token_state(runner, scim):
    scim.create_user("ann")
    scim.create_group("Team")
    create(runner, "Spare", "generic")
    rows = {r["name"]: r for r in json.loads(invoke(runner, "idp", "list", "--json").output)}
    assert rows["Primary IdP"]["users"] == 1
    assert rows["Primary IdP"]["groups"] == 1
    assert rows["Primary IdP"]["token"] == "active"
    assert rows["Spare"]["token"] == "none"
    text = invoke(runner, "idp", "list").output
    assert text.splitlines()[0].split() == ["ID", "NAME", "KIND", "USERS", "GROUPS", "TOKEN"]
    assert scim.id in text


def test_idp_delete_removes_everything(runner, scim, store):
    scim.create_user("ann")
    result = invoke(runner, "idp", "delete", scim.id, "--yes")
    assert result.exit_code == 0
    assert store.get_record("idps", scim.id) is None
    assert store.count("User", scim.id) == 0
    assert scim.get("/Users").status_code == 401


def test_idp_delete_without_yes_and_no_terminal_refuses(runner, scim, store):
    result = invoke(runner, "idp", "delete", scim.id)
    assert result.exit_code != 0
    assert store.get_record("idps", scim.id) is not None


@pytest.mark.backends("tinydb")  # PostgreSQL is made for several processes at once
def test_cli_refuses_when_another_process_holds_the_folder(app, runner):
    held = storage.open_store(app.config["ROSTER"])  # stands in for a running server
    try:
        result = invoke(runner, "idp", "list")
        assert result.exit_code == 1
        assert "in use by another Roster process" in result.output
    finally:
        held.close()
