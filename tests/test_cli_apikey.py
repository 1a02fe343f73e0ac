"""``flask --app app apikey create|list|revoke``: the console's Settings → API Keys as
commands, with --json; bad input refused on stderr with exit status 1, changing nothing."""

from __future__ import annotations

import json

import pytest

from tokens import apikeys


def invoke(runner, *args):
    return runner.invoke(args=["apikey", *args])


def create(runner, name="Billing") -> dict:
    result = invoke(runner, "create", "--name", name, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_create_prints_the_key_once_and_stores_its_digest(runner, store, client):
    created = create(runner)
    assert created["key"].startswith(apikeys.PREFIX) and created["name"] == "Billing"
    assert "digest" not in created
    (record,) = apikeys.keys(store)
    assert record["id"] == created["id"] and record["digest"] == apikeys.digest(created["key"])
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert client.get("/api/v1/idps", headers=headers).status_code == 200


def test_create_in_text_prints_id_and_key(runner, store):
    result = invoke(runner, "create", "--name", "Billing")
    assert result.exit_code == 0
    id_line, key_line = result.stdout.strip().splitlines()
    (record,) = apikeys.keys(store)
    assert id_line == f"id: {record['id']}"
    assert apikeys.digest(key_line.removeprefix("key: ")) == record["digest"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", ""], "A name is required."),
        (["--name", "   "], "A name is required."),
        (["--name", "x" * 101], "A name has at most 100 characters."),
        (["--name", "bell\x07"], "A name cannot hold control characters."),
        ([], "Missing option '--name'"),
    ],
)
def test_create_refuses_a_bad_name(runner, store, args, message):
    result = invoke(runner, "create", *args)
    assert result.exit_code in (1, 2) and message in result.stderr
    assert result.stdout == ""
    assert apikeys.keys(store) == []


def test_list_shows_every_key_newest_first_without_secrets(runner, store):
    first, second = create(runner, "Billing"), create(runner, "Wiki")
    invoke(runner, "revoke", first["id"])
    rows = json.loads(invoke(runner, "list", "--json").stdout)
    assert {r["id"] for r in rows} == {first["id"], second["id"]}
    assert all("digest" not in r and "key" not in r for r in rows)
    assert {r["name"]: r["revoked"] is not None for r in rows} == {"Billing": True, "Wiki": False}
    text = invoke(runner, "list").stdout
    header = text.splitlines()[0]
    assert header.split("  ")[0] == "ID" and "LAST USED" in header and "REVOKED" in header
    assert first["id"] in text and second["id"] in text
    assert first["key"] not in text and second["key"] not in text


def test_revoke_closes_the_api_to_the_key(runner, store, client):
    created = create(runner)
    result = invoke(runner, "revoke", created["id"], "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["revoked"] is not None
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert client.get("/api/v1/idps", headers=headers).status_code == 401


@pytest.mark.parametrize("twice", [False, True])
def test_revoke_refuses_an_unknown_or_revoked_id(runner, store, twice):
    created = create(runner)
    key_id = created["id"] if twice else "nope"
    if twice:
        assert invoke(runner, "revoke", key_id).exit_code == 0
    before = apikeys.keys(store)
    result = invoke(runner, "revoke", key_id)
    assert result.exit_code == 1
    assert f"no active API key with id '{key_id}'" in result.stderr
    assert apikeys.keys(store) == before
