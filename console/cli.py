"""``flask --app app admin create USERNAME``: create a console admin without a browser.

The password comes from a hidden prompt (typed twice) or, with ``--password-stdin``, from the
first line of standard input, so that scripts never put it on a command line.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

import audit
import storage
from console import admins

admin_group = AppGroup("admin", help="Manage console admins.")


@admin_group.command("create")
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
def create(username: str, password_stdin: bool) -> None:
    """Create a console admin (the first one or another)."""
    try:
        username = admins.check_username(username)
        store = storage.get_store()
    except (admins.AdminError, storage.StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        admins.create_admin(store, username, password)
    except admins.AdminError as exc:
        audit.record("admin.create", f"admin:{username}", "failure", detail=str(exc))
        raise click.ClickException(str(exc)) from None
    audit.record("admin.create", f"admin:{username}")
    click.echo(f"created admin {username}; sign in at /sign-in")
