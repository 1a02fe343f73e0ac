"""What every admin command shares: the store group, ``--json``, printing, finding an IdP."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

import durations
import storage

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


class StoreGroup(AppGroup):
    """An AppGroup (each command runs inside the app context, where the store is reachable)
    whose commands report a store failure, such as a database that is down, in one line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except storage.StoreError as exc:
            raise click.ClickException(str(exc)) from None


def open_store() -> storage.Store:
    """Return the app's store, or fail the command with the reason it cannot be opened."""
    try:
        return storage.get_store()
    except storage.StoreError as exc:
        raise click.ClickException(str(exc)) from None


def emit(as_json: bool, data, text: str) -> None:
    """Print ``data`` as JSON with ``--json``, else ``text``."""
    click.echo(json.dumps(data, indent=2) if as_json else text)


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Print ``rows`` under ``header`` in aligned columns."""
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def find_idp(store: storage.Store, idp: str) -> dict:
    """Return the IdP's record, or fail the command naming the id it did not find."""
    record = store.get_record("idps", idp)
    if record is None:
        raise click.ClickException(f"no identity provider with id {idp!r} (see 'idp list')")
    return record


def duration(least, most):
    """A click callback that turns ``90m``/``24h``/``7d`` into a timedelta, or refuses."""

    def convert(ctx, param, value):
        if value is None:
            return None
        try:
            return durations.parse(value, least=least, most=most)
        except durations.BadDuration as exc:
            raise click.BadParameter(str(exc)) from None

    return convert
