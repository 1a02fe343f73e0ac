"""``flask --app app log`` (an IdP's recent SCIM requests) and ``audit`` (the admins' actions)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

import audit
import storage
from cli.common import emit, json_option, open_store


@click.command("log")
@click.argument("idp")
@click.option("--errors", is_flag=True, help="Only requests that failed (status 400 and up).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
@with_appcontext
def show_log(idp: str, errors: bool, limit: int, as_json: bool) -> None:
    """Show an IdP's recent SCIM requests, newest first."""
    try:
        entries = storage.get_request_log().entries(idp, errors_only=errors, limit=limit)
    except storage.StoreError as exc:  # the PostgreSQL log: the database may be down
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit(True, entries, "")
        return
    if not entries:
        click.echo(f"no requests recorded for {idp}")
    for e in entries:
        why = f"  {e.get('scim_type') or ''} {e.get('detail') or ''}".rstrip()
        click.echo(
            f"{e['time']}  {e['status']}  {e['method']:6} {e['path']}  {e['duration_ms']}ms"
            f"  {e['user_agent'] or '-'}{why if e['status'] >= 400 else ''}"
        )


@click.command("audit")
@click.option(
    "--since", help="Only entries from then on: 7d, 12h, 30m, or a date and time (UTC by default)."
)
@click.option("--actor", help="Only this admin's actions ('cli' for the CLI's).")
@click.option("--action", type=click.Choice(list(audit.ACTIONS)), help="Only this action.")
@click.option("--object", "object_", help="Only objects whose name holds this, e.g. an IdP id.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@json_option
@with_appcontext
def show_audit(
    since: str | None,
    actor: str | None,
    action: str | None,
    object_: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Show the audit trail of admin actions (console and CLI), newest first."""
    try:
        start = audit.parse_since(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    _, found = audit.entries(
        open_store(), since=start, actor=actor, action=action, object=object_, limit=limit
    )
    if as_json:
        emit(True, found, "")
        return
    if not found:
        click.echo("no audit entries")
    for e in found:
        who = f"{e['actor']} ({e['os_user']})" if e.get("os_user") else e["actor"]
        click.echo(
            f"{e['time']}  {who}  {e['address']}  {e['action']}  {e['object']}  {e['outcome']}"
            + (f"  {e['detail']}" if e.get("detail") else "")
        )
