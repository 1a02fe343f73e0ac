"""Admin commands: ``flask --app app idp …``, ``token …``, ``apikey …``, ``log``, ``audit``,
``backup``, ``migrate`` (and ``hold …``, in ``lifecycle.cli``). Each change an admin makes
here is recorded in the audit trail (``audit.py``) as ``cli`` with the OS user, as the
console records it with the signed-in admin.

Every command takes ``--json``; errors go to stderr with exit status 1. The commands open the
same data folder as the server, under the same folder lock: while a server holds it, they
refuse with a clear message instead of writing behind its back. (With PostgreSQL they share
the database with the servers, as the servers share it with each other.)

One module per concern: ``idps``, ``tokens``, ``apikeys``, ``logs`` (request log and audit),
``data`` (backup, migrate, check, recover), with what they share in ``common``.
"""

from __future__ import annotations

from flask import Flask

from cli.apikeys import apikey_group
from cli.data import backup_command, check_command, migrate_command, recover_command
from cli.idps import idp_group
from cli.logs import show_audit, show_log
from cli.tokens import token_group
from lifecycle.cli import hold_group
from providers import create_idp  # scripts and tests create IdPs as ``idp create`` does
from webhooks import cli as webhook_cli

__all__ = ["create_idp", "init_app"]


def init_app(app: Flask) -> None:
    """Register every admin command with ``app``'s ``flask`` command line."""
    for command in (
        idp_group,
        token_group,
        apikey_group,
        webhook_cli.group,
        show_log,
        show_audit,
        backup_command,
        migrate_command,
        check_command,
        recover_command,
        hold_group,
    ):
        app.cli.add_command(command)
