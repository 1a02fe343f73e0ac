"""``flask --app app apikey create|list|revoke``: the application API's keys."""

from __future__ import annotations

import click

import audit
from cli.common import StoreGroup, emit, json_option, open_store, print_table
from tokens import apikeys

apikey_group = StoreGroup("apikey", help="Create, list and revoke API keys (the application API).")


def _public(record: dict) -> dict:
    """An API key's record as it is shown: everything but the digest."""
    return {k: v for k, v in record.items() if k != "digest"}


@apikey_group.command("create")
@click.option("--name", required=True, help="Which application will use the key.")
@json_option
def apikey_create(name: str, as_json: bool) -> None:
    """Create an API key and print it once (Roster keeps only its digest)."""
    store = open_store()
    try:
        with audit.action(store):
            record, key = apikeys.issue(store, name)
            audit.record("apikey.create", f"apikey:{record['id']}", detail=record["name"])
    except apikeys.BadName as exc:
        audit.record("apikey.create", "apikey:(none)", "failure", detail=str(exc))
        raise click.ClickException(str(exc)) from None
    data = {**_public(record), "key": key}
    emit(as_json, data, f"id: {record['id']}\nkey: {key}")


@apikey_group.command("list")
@json_option
def apikey_list(as_json: bool) -> None:
    """List API keys, newest first (never the keys themselves)."""
    rows = [_public(r) for r in apikeys.keys(open_store())]
    if as_json:
        emit(True, rows, "")
        return
    header = ("ID", "NAME", "PREFIX", "CREATED", "LAST USED", "REVOKED")
    fields = ("id", "name", "prefix", "created", "last_used", "revoked")
    print_table(header, [tuple(r[f] or "-" for f in fields) for r in rows])


@apikey_group.command("revoke")
@click.argument("key_id")
@json_option
def apikey_revoke(key_id: str, as_json: bool) -> None:
    """Revoke an API key by its id: requests with it are refused from now on."""
    store = open_store()
    with audit.action(store):
        record = apikeys.revoke(store, key_id)
        if record is not None:
            audit.record("apikey.revoke", f"apikey:{key_id}", detail=record["name"])
    if record is None:
        audit.record("apikey.revoke", f"apikey:{key_id}", "failure", detail="no such active key")
        raise click.ClickException(f"no active API key with id {key_id!r} (see 'apikey list')")
    emit(as_json, _public(record), f"revoked API key {key_id} ({record['name']})")
