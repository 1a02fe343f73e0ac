"""``flask --app app admin …``: create, list, re-password and delete console admins.

A password comes from a hidden prompt (typed twice) or, with ``--password-stdin``, from the
first line of standard input, so that scripts never put it on a command line. Like the other
commands, each takes ``--json`` and reports errors on stderr with exit status 1, having
changed nothing.
"""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

import audit
import storage
from console import admins, sessions

admin_group = AppGroup("admin", help="Manage console admins.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
stdin_option = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


def _store() -> storage.Store:
    try:
        return storage.get_store()
    except storage.StoreError as exc:
        raise click.ClickException(str(exc)) from None


def _emit(as_json: bool, data, text: str) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else text)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _sessions(count: int) -> str:
    return f"{count} session{'s' if count != 1 else ''}"


@admin_group.command("create")
@click.argument("username")
@stdin_option
@json_option
def create(username: str, password_stdin: bool, as_json: bool) -> None:
    """Create a console admin (the first one or another)."""
    try:
        username = admins.check_username(username)
        store = _store()
        password = _read_password(password_stdin)
        with audit.action(store):
            admins.create_admin(store, username, password)
            audit.record("admin.create", f"admin:{username}")
    except (admins.AdminError, storage.StoreError) as exc:
        audit.record("admin.create", f"admin:{username}", "failure", detail=str(exc))
        raise click.ClickException(str(exc)) from None
    _emit(as_json, {"created": username}, f"created admin {username}; sign in at /sign-in")


@admin_group.command("list")
@json_option
def list_admins(as_json: bool) -> None:
    """List console admins with their number of live sessions."""
    rows = [
        {
            "username": r["username"],
            "created": r["created"],
            "sessions": sessions.live_count(r.get("sessions", {})),
        }
        for r in sorted(_store().records("admins"), key=lambda r: r["key"])
    ]
    if as_json:
        _emit(True, rows, "")
        return
    for row in rows:
        click.echo(f"{row['username']}  created {row['created']}  {_sessions(row['sessions'])}")


@admin_group.command("password")
@click.argument("username")
@stdin_option
@json_option
def password(username: str, password_stdin: bool, as_json: bool) -> None:
    """Set an admin's password; every session of theirs ends."""
    try:
        store = _store()
        name = admins.find_admin(store, username)["username"]
        password = _read_password(password_stdin)
        with audit.action(store):
            ended = admins.change_password(store, name, password)
            audit.record("admin.password", f"admin:{name}")
    except (admins.AdminError, storage.StoreError) as exc:
        audit.record("admin.password", f"admin:{username}", "failure", detail=str(exc))
        raise click.ClickException(str(exc)) from None
    _emit(
        as_json,
        {"admin": name, "sessions_ended": ended},
        f"changed the password of {name}; ended {_sessions(ended)}",
    )


@admin_group.command("delete")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def delete(username: str, yes: bool, as_json: bool) -> None:
    """Delete an admin and end their sessions (never the last admin)."""
    try:
        store = _store()
        record = admins.find_admin(store, username)
        name = record["username"]
        admins.refuse_last(store, record)  # before asking, not after
        if not yes:
            if not sys.stdin.isatty():
                raise click.ClickException("refusing to delete without --yes (no terminal to ask)")
            click.confirm(f"Delete admin {name}? Their sessions end at once.", abort=True)

        def entry() -> None:
            with audit.action(store):  # inside the deletion's write
                audit.record("admin.delete", f"admin:{name}")

        ended = admins.delete_admin(store, name, then=entry)
    except (admins.AdminError, storage.StoreError) as exc:
        audit.record("admin.delete", f"admin:{username}", "failure", detail=str(exc))
        raise click.ClickException(str(exc)) from None
    _emit(as_json, {"deleted": name, "sessions_ended": ended}, f"deleted admin {name}")
