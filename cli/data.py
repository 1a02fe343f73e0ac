"""``flask --app app backup|migrate|check|recover``: the store's data as a whole."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

import storage
from cli.common import emit, json_option, open_store
from storage import check, migrate
from storage.backup import backup
from storage.tinydb.recover import recover


@click.command("backup")
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@json_option
@with_appcontext
def backup_command(destination: Path, as_json: bool) -> None:
    """Write a consistent, loadable copy of the store into a new folder.

    Safe while the server runs: it reads the data folder's files without writing to them (or,
    with PostgreSQL, reads one snapshot of the database), and makes what it read durable
    before copying it (a /Bulk request's writes are fsynced only at its end).
    """
    values = current_app.config["ROSTER"]
    try:
        if values["backend"] == "postgres":
            tables = migrate.read_tables(open_store())
            migrate.write_folder(destination, tables)
            counts = migrate.counts(tables)
        else:
            counts = backup(Path(values["data_dir"]), destination)
    except storage.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    summary_text = ", ".join(f"{n} {t}" for t, n in counts.items() if n)
    emit(
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
        tables = migrate.read_source(values, open_store())
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
    emit(
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
                describe(values["database_url"]), migrate.read_tables(open_store())
            )
        else:
            report = check.check_folder(Path(values["data_dir"]))
    except storage.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    emit(as_json, report.as_dict(), report.text())
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
    emit(as_json, report, _recovery_text(report))


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
