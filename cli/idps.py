"""``flask --app app idp create|list|delete`` (and ``idp policy``, in ``lifecycle.cli``)."""

from __future__ import annotations

import sys

import click

import audit
import clock
from cli.common import StoreGroup, emit, find_idp, json_option, open_store, print_table
from lifecycle.cli import policy_command
from providers import KINDS, create_idp, delete_idp, summary

idp_group = StoreGroup("idp", help="Manage identity providers (SCIM tenants).")
idp_group.add_command(policy_command)


@idp_group.command("create")
@click.option("--name", required=True, help="A name to recognise the IdP by.")
@click.option("--kind", required=True, type=click.Choice(list(KINDS)), help="The IdP's product.")
@json_option
def idp_create(name: str, kind: str, as_json: bool) -> None:
    """Create an identity provider and print its id."""
    store = open_store()
    try:
        with audit.action(store):
            record = create_idp(store, name, kind)
            audit.record("idp.create", f"idp:{record['id']}", detail=record["name"])
    except ValueError as exc:
        audit.record("idp.create", "idp:(new)", "failure", detail=str(exc))
        raise click.ClickException(str(exc)) from None
    emit(as_json, record, record["id"])


@idp_group.command("list")
@json_option
def idp_list(as_json: bool) -> None:
    """List identity providers with their synchronized users and groups."""
    store = open_store()
    records = sorted(store.records("idps"), key=lambda r: r["created"])
    rows = [summary(store, r, clock.now()) for r in records]
    if as_json:
        emit(True, rows, "")
        return
    header = ("ID", "NAME", "KIND", "USERS", "GROUPS", "TOKEN")
    fields = ("id", "name", "kind", "users", "groups", "token")
    print_table(header, [tuple(str(r[f]) for f in fields) for r in rows])
    for r in rows:
        for warning in r["token_warnings"]:
            click.echo(f"warning: {r['name']}: {warning}")


@idp_group.command("delete")
@click.argument("idp")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def idp_delete(idp: str, yes: bool, as_json: bool) -> None:
    """Delete an identity provider and everything provisioned through it."""
    store = open_store()
    row = summary(store, find_idp(store, idp))
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException("refusing to delete without --yes (no terminal to ask)")
        click.confirm(
            f"Delete {row['name']} with {row['users']} users and {row['groups']} groups?",
            abort=True,
        )
    detail = f"{row['name']}, with {row['users']} users and {row['groups']} groups"
    with audit.action(store):
        source = {"method": "CLI", "path": f"idp delete {idp}", "request_id": None}
        delete_idp(store, idp, source)
        audit.record("idp.delete", f"idp:{idp}", detail=detail)
    emit(
        as_json, {"deleted": idp, "users": row["users"], "groups": row["groups"]}, f"deleted {idp}"
    )
