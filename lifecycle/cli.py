"""``flask --app app hold list|show|apply|discard``: the console's Held changes, for scripts;
and ``flask --app app idp policy``, the IdP's General tab → Deprovisioning.

Like the other admin commands, each takes ``--json``; errors go to stderr with exit status 1
and change nothing; Apply and Discard leave the audit entries the console's buttons leave.
"""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup, with_appcontext

import audit
import clock
import storage
from lifecycle import holds, policy
from providers import set_policy

hold_group = AppGroup("hold", help="Review what the mass-deprovisioning guard held.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
WHO = audit.CLI_ACTOR


def _store() -> storage.Store:
    try:
        return storage.get_store()
    except storage.StoreError as exc:
        raise click.ClickException(str(exc)) from None


def _names(store: storage.Store) -> dict[str, str]:
    return {r["id"]: r["name"] for r in store.records("idps")}


def _row(hold: dict, names: dict[str, str]) -> dict:
    name = names.get(hold["idp"], hold["idp"])
    return {**hold, "idp_name": name, "headline": holds.headline(hold, name)}


@hold_group.command("list")
@click.option("--all", "everything", is_flag=True, help="Also the holds applied or discarded.")
@json_option
def hold_list(everything: bool, as_json: bool) -> None:
    """List the open holds (with --all, every hold), newest first."""
    store = _store()
    names = _names(store)
    rows = [_row(h, names) for h in holds.holds(store, open_only=not everything)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("nothing is held" if not everything else "nothing was ever held")
    for row in rows:
        click.echo(f"{row['id']}  {row['state']:9}  {row['headline']}")


@hold_group.command("show")
@click.argument("hold_id")
@json_option
def hold_show(hold_id: str, as_json: bool) -> None:
    """Show a hold and its held changes, in their original order."""
    store = _store()
    hold = store.get_record("holds", hold_id)
    if hold is None:
        raise click.ClickException(f"there is no hold with id {hold_id!r} (see 'hold list')")
    changes = [
        {k: c[k] for k in ("n", "at", "user_id", "username", "what")}
        for c in holds.changes_of(store, hold_id)
    ]
    row = _row(hold, _names(store))
    if as_json:
        click.echo(json.dumps({**row, "held": changes}, indent=2))
        return
    click.echo(f"{row['headline']} ({row['state']})")
    for c in changes:
        click.echo(f"{c['n']:>6}  {c['at']}  {c['what']:12}  {c['username']}  {c['user_id']}")


def _decide(verb: str, hold_id: str, as_json: bool, text: str) -> None:
    store = _store()
    action = {"apply": holds.apply, "discard": holds.discard}[verb]
    try:
        with audit.action(store):
            hold = action(store, hold_id, clock.now(), WHO)
            row = _row(hold, _names(store))
            detail = holds.audit_detail(hold, row["idp_name"])
            audit.record(f"hold.{verb}", f"hold:{hold_id}", detail=detail)
    except holds.HoldError as exc:
        audit.record(f"hold.{verb}", f"hold:{hold_id}", "failure", detail=str(exc))
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(row, indent=2) if as_json else text.format(**row))


@hold_group.command("apply")
@click.argument("hold_id")
@json_option
def hold_apply(hold_id: str, as_json: bool) -> None:
    """Release a hold's changes to the applications, in their original order."""
    _decide("apply", hold_id, as_json, "applied {changes} held changes of {idp_name}")


@hold_group.command("discard")
@click.argument("hold_id")
@json_option
def hold_discard(hold_id: str, as_json: bool) -> None:
    """Drop a hold's changes: the applications keep the users as they were, each marked as
    diverged from its IdP until the IdP writes it again."""
    _decide(
        "discard",
        hold_id,
        as_json,
        "discarded {changes} held changes of {idp_name}; fix the assignments in {idp_name}",
    )


@click.command("policy")
@click.argument("idp")
@click.option("--on-delete", help="What a SCIM DELETE of a user does: delete or deactivate.")
@click.option("--keep-days", help="Days a deactivated user is kept before it is deleted.")
@click.option("--guard", help="The mass-deprovisioning guard: on or off.")
@click.option("--guard-users", help="Hold once more than this many users are deprovisioned…")
@click.option("--guard-percent", help="…and more than this percent of the active users…")
@click.option("--guard-minutes", help="…within this many minutes.")
@json_option
@with_appcontext
def policy_command(idp: str, as_json: bool, **changes) -> None:
    """Show the IdP's deprovisioning policy, or change the parts given."""
    store = _store()
    record = store.get_record("idps", idp)
    if record is None:
        raise click.ClickException(f"no identity provider with id {idp!r} (see 'idp list')")
    current = policy.of(record)
    if any(v is not None for v in changes.values()):
        try:
            current = policy.check(changes, current)
        except policy.BadPolicy as exc:
            audit.record("idp.update", f"idp:{idp}", "failure", detail=f"{exc.field}: {exc}")
            option = "--" + exc.field.replace("_", "-")
            raise click.ClickException(f"{option}: {exc}") from None
        detail = f"{record['name']}: {policy.summary(current)}"
        with audit.action(store):
            set_policy(store, idp, current)
            audit.record("idp.update", f"idp:{idp}", detail=detail)
    text = policy.describe(current)
    data = {"idp": idp, **current.to_record()}
    click.echo(json.dumps(data, indent=2) if as_json else f"{text['on_delete']}\n{text['guard']}")
