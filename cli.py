"""Admin commands: ``flask --app app idp …``, ``token …``, ``apikey …``, ``log``, ``audit``,
``backup``, ``migrate`` (and ``hold …``, in ``lifecycle.cli``). Each change an admin makes
here is recorded in the audit trail (``audit.py``) as ``cli`` with the OS user, as the
console records it with the signed-in admin.

Every command takes ``--json``; errors go to stderr with exit status 1. The commands open the
same data folder as the server, under the same folder lock: while a server holds it, they
refuse with a clear message instead of writing behind its back. (With PostgreSQL they share
the database with the servers, as the servers share it with each other.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

import audit
import clock
import durations
import storage
import tokens
from lifecycle.cli import hold_group, policy_command
from providers import KINDS, create_idp, delete_idp, endpoint, summary
from storage import check, migrate
from storage.backup import backup
from storage.tinydb.recover import recover
from tokens import apikeys
from webhooks import cli as webhook_cli


class StoreGroup(AppGroup):
    """An AppGroup (each command runs inside the app context, where the store is reachable)
    whose commands report a store failure, such as a database that is down, in one line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except storage.StoreError as exc:
            raise click.ClickException(str(exc)) from None


idp_group = StoreGroup("idp", help="Manage identity providers (SCIM tenants).")
token_group = StoreGroup("token", help="Issue and revoke SCIM provisioning tokens.")
apikey_group = StoreGroup("apikey", help="Create, list and revoke API keys (the application API).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def init_app(app: Flask) -> None:
    app.cli.add_command(idp_group)
    idp_group.add_command(policy_command)
    app.cli.add_command(token_group)
    app.cli.add_command(apikey_group)
    app.cli.add_command(webhook_cli.group)
    app.cli.add_command(show_log)
    app.cli.add_command(show_audit)
    app.cli.add_command(backup_command)
    app.cli.add_command(migrate_command)
    app.cli.add_command(check_command)
    app.cli.add_command(recover_command)
    app.cli.add_command(hold_group)


def _store() -> storage.Store:
    try:
        return storage.get_store()
    except storage.StoreError as exc:
        raise click.ClickException(str(exc)) from None


def _emit(as_json: bool, data, text: str) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else text)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def find_idp(store: storage.Store, idp: str) -> dict:
    record = store.get_record("idps", idp)
    if record is None:
        raise click.ClickException(f"no identity provider with id {idp!r} (see 'idp list')")
    return record


@idp_group.command("create")
@click.option("--name", required=True, help="A name to recognise the IdP by.")
@click.option("--kind", required=True, type=click.Choice(list(KINDS)), help="The IdP's product.")
@json_option
def idp_create(name: str, kind: str, as_json: bool) -> None:
    """Create an identity provider and print its id."""
    store = _store()
    try:
        with audit.action(store):
            record = create_idp(store, name, kind)
            audit.record("idp.create", f"idp:{record['id']}", detail=record["name"])
    except ValueError as exc:
        audit.record("idp.create", "idp:(new)", "failure", detail=str(exc))
        raise click.ClickException(str(exc)) from None
    _emit(as_json, record, record["id"])


@idp_group.command("list")
@json_option
def idp_list(as_json: bool) -> None:
    """List identity providers with their synchronized users and groups."""
    store = _store()
    records = sorted(store.records("idps"), key=lambda r: r["created"])
    rows = [summary(store, r, clock.now()) for r in records]
    if as_json:
        _emit(True, rows, "")
        return
    header = ("ID", "NAME", "KIND", "USERS", "GROUPS", "TOKEN")
    fields = ("id", "name", "kind", "users", "groups", "token")
    _table(header, [tuple(str(r[f]) for f in fields) for r in rows])
    for r in rows:
        for warning in r["token_warnings"]:
            click.echo(f"warning: {r['name']}: {warning}")


@idp_group.command("delete")
@click.argument("idp")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def idp_delete(idp: str, yes: bool, as_json: bool) -> None:
    """Delete an identity provider and everything provisioned through it."""
    store = _store()
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
    _emit(
        as_json, {"deleted": idp, "users": row["users"], "groups": row["groups"]}, f"deleted {idp}"
    )


def _duration(least, most):
    """A click callback that turns ``90m``/``24h``/``7d`` into a timedelta, or refuses."""

    def convert(ctx, param, value):
        if value is None:
            return None
        try:
            return durations.parse(value, least=least, most=most)
        except durations.BadDuration as exc:
            raise click.BadParameter(str(exc)) from None

    return convert


@token_group.command("generate")
@click.argument("idp")
@click.option(
    "--keep-old",
    metavar="DURATION",
    callback=_duration(min(tokens.GRACE), max(tokens.GRACE)),
    help="Keep the live token working this long (1h, 24h or 7d) instead of revoking it now.",
)
@click.option(
    "--expires-in",
    metavar="DURATION",
    callback=_duration(*tokens.LIFETIME),
    help="Make the new token stop working after this long (e.g. 90d); default: never.",
)
@click.option("--label", help="A name to recognise the token by (default: Token N).")
@json_option
def token_generate(idp, keep_old, expires_in, label, as_json: bool) -> None:
    """Issue a new token and print endpoint and token once.

    The previous token is revoked at once, unless --keep-old keeps it working for a grace
    period while the IdP is given the new one."""
    store = _store()
    idp_record = find_idp(store, idp)
    try:
        with audit.action(store):
            record, token = tokens.rotate(
                store, idp, now=clock.now(), label=label, keep_old=keep_old, expires_in=expires_in
            )
            detail = tokens.describe(idp_record["name"], record, keep_old)
            audit.record("token.generate", f"idp:{idp}", detail=detail)
    except tokens.TokenError as exc:
        audit.record("token.generate", f"idp:{idp}", "failure", detail=str(exc))
        raise click.ClickException(str(exc)) from None
    data = {
        "endpoint": endpoint(current_app.config["ROSTER"], idp),
        "token": token,
        **_token_row(record, clock.now()),
    }
    _emit(as_json, data, f"endpoint: {data['endpoint']}\ntoken: {data['token']}")


def _token_row(record: dict, now) -> dict:
    """A token as ``token list`` shows it: never its plaintext, nor its digest."""
    return {
        "id": tokens.public_id(record),
        "label": record.get("label") or "",
        "prefix": record["prefix"],
        "created": record["created"],
        "last_used": record["last_used"],
        "expires": record.get("expires"),
        "revoked": record["revoked"],
        "state": tokens.status(record, now),
    }


@token_group.command("list")
@click.argument("idp")
@json_option
def token_list(idp: str, as_json: bool) -> None:
    """List the IdP's tokens, newest first, with their state and last use."""
    store = _store()
    find_idp(store, idp)
    now = clock.now()
    rows = [_token_row(r, now) for r in tokens.tokens_of(store, idp)]
    if as_json:
        _emit(True, rows, "")
        return
    if not rows:
        click.echo(f"no tokens for {idp} (see 'token generate')")
        return
    header = ("ID", "LABEL", "PREFIX", "STATE", "CREATED", "LAST USED", "EXPIRES")
    _table(
        header,
        [
            (r["id"], r["label"], r["prefix"] + "…", r["state"], r["created"],
             r["last_used"] or "never", r["expires"] or "never")
            for r in rows
        ],
    )  # fmt: skip
    for warning in tokens.warnings(tokens.tokens_of(store, idp), now):
        click.echo(f"warning: {warning}")


def _table(header: tuple, body: list[tuple]) -> None:
    table = [header, *body]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@token_group.command("revoke")
@click.argument("idp")
@click.argument("token_id", required=False)
@json_option
def token_revoke(idp: str, token_id: str | None, as_json: bool) -> None:
    """Revoke the IdP's token TOKEN_ID (see 'token list'), or every live one without it:
    SCIM requests with it are refused from now on."""
    store = _store()
    idp_record = find_idp(store, idp)
    what = f"token {token_id}" if token_id else "every live token"
    with audit.action(store):
        count = tokens.revoke(store, idp, token_id, now=clock.now())
        if count or token_id is None:
            detail = f"{idp_record['name']}: {what}, {count} revoked"
            audit.record("token.revoke", f"idp:{idp}", detail=detail)
    if token_id is not None and not count:
        audit.record("token.revoke", f"idp:{idp}", "failure", detail=f"no live {what}")
        raise click.ClickException(
            f"{idp} has no live token with id {token_id!r} (see 'token list {idp}')"
        )
    _emit(as_json, {"idp": idp, "revoked": count}, f"revoked {count} token(s) of {idp}")


def _public(record: dict) -> dict:
    """An API key's record as it is shown: everything but the digest."""
    return {k: v for k, v in record.items() if k != "digest"}


@apikey_group.command("create")
@click.option("--name", required=True, help="Which application will use the key.")
@json_option
def apikey_create(name: str, as_json: bool) -> None:
    """Create an API key and print it once (Roster keeps only its digest)."""
    store = _store()
    try:
        with audit.action(store):
            record, key = apikeys.issue(store, name)
            audit.record("apikey.create", f"apikey:{record['id']}", detail=record["name"])
    except apikeys.BadName as exc:
        audit.record("apikey.create", "apikey:(none)", "failure", detail=str(exc))
        raise click.ClickException(str(exc)) from None
    data = {**_public(record), "key": key}
    _emit(as_json, data, f"id: {record['id']}\nkey: {key}")


@apikey_group.command("list")
@json_option
def apikey_list(as_json: bool) -> None:
    """List API keys, newest first (never the keys themselves)."""
    rows = [_public(r) for r in apikeys.keys(_store())]
    if as_json:
        _emit(True, rows, "")
        return
    header = ("ID", "NAME", "PREFIX", "CREATED", "LAST USED", "REVOKED")
    fields = ("id", "name", "prefix", "created", "last_used", "revoked")
    _table(header, [tuple(r[f] or "-" for f in fields) for r in rows])


@apikey_group.command("revoke")
@click.argument("key_id")
@json_option
def apikey_revoke(key_id: str, as_json: bool) -> None:
    """Revoke an API key by its id: requests with it are refused from now on."""
    store = _store()
    with audit.action(store):
        record = apikeys.revoke(store, key_id)
        if record is not None:
            audit.record("apikey.revoke", f"apikey:{key_id}", detail=record["name"])
    if record is None:
        audit.record("apikey.revoke", f"apikey:{key_id}", "failure", detail="no such active key")
        raise click.ClickException(f"no active API key with id {key_id!r} (see 'apikey list')")
    _emit(as_json, _public(record), f"revoked API key {key_id} ({record['name']})")


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
        _emit(True, entries, "")
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
        _store(), since=start, actor=actor, action=action, object=object_, limit=limit
    )
    if as_json:
        _emit(True, found, "")
        return
    if not found:
        click.echo("no audit entries")
    for e in found:
        who = f"{e['actor']} ({e['os_user']})" if e.get("os_user") else e["actor"]
        click.echo(
            f"{e['time']}  {who}  {e['address']}  {e['action']}  {e['object']}  {e['outcome']}"
            + (f"  {e['detail']}" if e.get("detail") else "")
        )


@click.command("backup")
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@json_option
@with_appcontext
def backup_command(destination: Path, as_json: bool) -> None:
    """Write a consistent, loadable copy of the store into a new folder.

    Safe while the server runs: it reads the data folder's files without writing to them (or,
    with PostgreSQL, reads one snapshot of the database).
    """
    values = current_app.config["ROSTER"]
    try:
        if values["backend"] == "postgres":
            tables = migrate.read_tables(_store())
            migrate.write_folder(destination, tables)
            counts = migrate.counts(tables)
        else:
            counts = backup(Path(values["data_dir"]), destination)
    except storage.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    summary_text = ", ".join(f"{n} {t}" for t, n in counts.items() if n)
    _emit(
        as_json,
        {"destination": str(destination), "rows": counts},
        f"backed up to {destination} ({summary_text or 'empty'})",
    )


@click.command("migrate")
@click.option(
    "--to", "backend", required=True, type=click.Choice(["postgres", "tinydb"]),
    help="The backend to copy the store into.",
)  # fmt: skip
@click.argument("destination")
@json_option
@with_appcontext
def migrate_command(backend: str, destination: str, as_json: bool) -> None:
    """Copy the whole store into an empty store of another backend and verify the copy.

    DESTINATION is a PostgreSQL connection string for --to postgres, a new folder for --to
    tinydb. Stop the servers first: what they write during the copy is not in it. The copy
    is read back and compared with the source (row counts and a checksum); then point the
    configuration at it.
    """
    values = current_app.config["ROSTER"]
    try:
        tables = migrate.read_source(values, _store())
        with click.progressbar(
            length=migrate.rows(tables), label=f"copying to {backend}", file=sys.stderr
        ) as bar:
            report = migrate.copy_store(tables, backend, destination, bar.update)
    except storage.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    if backend == "postgres":
        from storage.postgres.store import describe  # psycopg, only when it is used

        where = describe(destination)
    else:
        where = destination
    rows = ", ".join(f"{n} {table}" for table, n in report["counts"].items())
    _emit(
        as_json,
        {"backend": backend, "destination": where, **report},
        f"copied to {backend} {where} ({rows or 'empty'}); checksum {report['checksum']}",
    )


@click.command("check")
@json_option
@with_appcontext
def check_command(as_json: bool) -> None:
    """Verify the store: checksums, the journal's framing, uniqueness and references.

    Exit status 0 when nothing is wrong, 1 otherwise. Safe while the server runs (a data folder
    is read without writing to it).
    """
    values = current_app.config["ROSTER"]
    try:
        if values["backend"] == "postgres":
            from storage.postgres.store import describe  # psycopg, only when it is used

            report = check.check_tables(
                describe(values["database_url"]), migrate.read_tables(_store())
            )
        else:
            report = check.check_folder(Path(values["data_dir"]))
    except storage.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    _emit(as_json, report.as_dict(), report.text())
    if not report.clean:
        sys.exit(1)


@click.command("recover")
@json_option
@with_appcontext
def recover_command(as_json: bool) -> None:
    """Start a damaged data folder again from what is intact.

    Stop the server first. The damaged files are copied into damaged-<time>/ inside the data
    folder before anything changes; what could not be read is listed. A folder that is intact
    is left as it is.
    """
    values = current_app.config["ROSTER"]
    if values["backend"] == "postgres":
        raise click.ClickException(
            "recover repairs a data folder; PostgreSQL recovers from its own write-ahead log"
        )
    try:
        report = recover(Path(values["data_dir"]))
    except storage.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    _emit(as_json, report, _recovery_text(report))


def _recovery_text(report: dict) -> str:
    kept = ", ".join(f"{n} {table}" for table, n in report["kept"].items()) or "nothing"
    if not report["recovered"]:
        lines = [f"{report['folder']} is intact: nothing to recover ({kept})"]
    else:
        lines = [f"recovered {report['folder']}: kept {kept}"]
        lines.append(f"  the damaged files are in {report['copy']}")
    lines += [f"  left out: {line}" for line in report["dropped"]]
    lines += [f"  still wrong (see 'check'): {line}" for line in report["problems"]]
    return "\n".join(lines)
