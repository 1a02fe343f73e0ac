"""Copy a whole store between backends: ``flask --app app migrate --to postgres DSN`` and back.

Both sides speak the data folder's table shape (``storage.tinydb.files.Tables``): records under
their key, resources under their id as ``{"idp", "data"}``, each table in creation order. A copy
keeps everything the contract exposes: ids, ``meta`` (versions, timestamps), creation order,
records, and the change feed (events keep their ``seq``; the next one continues above). The
destination must be empty. After writing, the destination is read back
independently and compared with the source by row counts and a checksum over every row in
order; any difference is an error. The audit trail is copied (the ``audit`` table of a data
folder, ``audit_log`` in PostgreSQL). The request log is not: it is diagnostics, not data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from storage.backup import read_folder
from storage.errors import StoreUnavailable
from storage.interface import AUDIT_TABLE, RECORD_TABLES, RESOURCE_KINDS
from storage.tinydb import files
from storage.tinydb import folder as folders
from storage.tinydb.feed import EVENTS, STATE

# PostgreSQL's side is imported where it is used: a TinyDB install never loads psycopg.
if TYPE_CHECKING:
    from storage.postgres.store import PostgresStore

Progress = Callable[[int], None]


def _none(advance: int) -> None:
    pass


def read_tables(store: PostgresStore) -> files.Tables:
    """Return every table of a PostgreSQL store as of one moment, in creation order."""
    tables: files.Tables = {name: {} for name in (*RESOURCE_KINDS, *RECORD_TABLES, AUDIT_TABLE)}
    with store.connection() as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # A server-side cursor streams rows instead of holding the whole result twice.
        with conn.cursor(name="roster_export") as cursor:
            cursor.itersize = 2000
            cursor.execute("SELECT kind, id, idp, data FROM resources ORDER BY seq")
            for kind, id, idp, data in cursor:
                tables[kind][id] = {"idp": idp, "data": data}
        for table, key, data in conn.execute("SELECT tbl, key, data FROM records ORDER BY seq"):
            tables.setdefault(table, {})[key] = data
        for (entry,) in conn.execute("SELECT entry FROM audit_log ORDER BY seq"):
            tables[AUDIT_TABLE][entry["id"]] = entry
        _read_feed(conn, tables)
    _flush_wal(store)
    return tables


def _flush_wal(store: PostgresStore) -> None:
    """Make every commit the copy saw durable. Inside ``Store.batch()`` (a /Bulk request) a
    commit does not wait for the WAL flush, and a copy must not hold what a crash could still
    take from the database. A synchronous commit returns once the WAL is flushed up to it, so
    with every commit before it, but only if its transaction wrote WAL (PostgreSQL does not
    wait for one that merely took a transaction id): hence an update that changes nothing, of
    the one-row table no request writes."""
    with store.connection() as conn, conn.transaction():
        conn.execute("SET LOCAL synchronous_commit TO on")
        conn.execute("UPDATE roster_schema SET version = version")


def _read_feed(conn, tables: files.Tables) -> None:
    """Add the change feed to ``tables`` as the data folder keeps it (``storage.tinydb.feed``)."""
    from storage.postgres.pg_schema import scalar

    tables[EVENTS] = {
        str(seq): {**doc, "seq": seq}
        for seq, doc in conn.execute("SELECT seq, doc FROM events ORDER BY seq")
    }
    floor = scalar(conn.execute("SELECT pruned_through FROM event_feed"))
    if floor:
        tables[STATE] = {"state": {"pruned_through": floor}}


def _write_feed(conn, cursor, tables: files.Tables) -> None:
    """Load the change feed of ``tables``; the next event's seq follows the last one."""
    from psycopg.types.json import Jsonb

    last = 0
    with cursor.copy(
        "COPY events (seq, type, idp, resource_id, occurred_at, doc) FROM STDIN"
    ) as copy:
        for event in tables.get(EVENTS, {}).values():
            doc = {k: v for k, v in event.items() if k != "seq"}
            row = (event["seq"], event["type"], event["idp"]["id"], event["resource"]["id"])
            copy.write_row((*row, event["occurred_at"], Jsonb(doc)))
            last = max(last, event["seq"])
    floor = tables.get(STATE, {}).get("state", {}).get("pruned_through", 0)
    conn.execute("UPDATE event_feed SET pruned_through = %s", [floor])
    if max(last, floor):
        conn.execute("SELECT setval('events_seq', %s)", [max(last, floor)])


def write_postgres(store: PostgresStore, tables: files.Tables, progress: Progress = _none) -> None:
    """Load ``tables`` into an empty PostgreSQL store in one transaction (COPY, not INSERT)."""
    from psycopg.types.json import Jsonb

    from storage.postgres.pg_schema import derived_columns, member_ids, scalar

    with store.connection() as conn, conn.transaction():
        used = scalar(
            conn.execute(
                "SELECT EXISTS (SELECT 1 FROM resources) OR EXISTS (SELECT 1 FROM records)"
                " OR EXISTS (SELECT 1 FROM events)"
            )
        )
        if used:
            raise StoreUnavailable("the destination database already holds a Roster store")
        cursor = conn.cursor()
        with cursor.copy(
            "COPY resources (id, kind, idp, unique_name, external_id, head, data) FROM STDIN"
        ) as copy:
            for kind in RESOURCE_KINDS:
                for id, row in tables.get(kind, {}).items():
                    columns = derived_columns(kind, row["data"])
                    copy.write_row((id, kind, row["idp"], *columns, Jsonb(row["data"])))
                    progress(1)
        with cursor.copy("COPY members (group_id, idp, member_id) FROM STDIN") as copy:
            for id, row in tables.get("Group", {}).items():
                for member in sorted(member_ids(row["data"])):
                    copy.write_row((id, row["idp"], member))
        with cursor.copy("COPY records (tbl, key, data) FROM STDIN") as copy:
            for table, rows in tables.items():
                if table in (*RESOURCE_KINDS, AUDIT_TABLE, EVENTS, STATE):
                    continue
                for key, record in rows.items():
                    copy.write_row((table, key, Jsonb(record)))
                    progress(1)
        with cursor.copy("COPY audit_log (time, entry) FROM STDIN") as copy:
            for entry in tables.get(AUDIT_TABLE, {}).values():
                copy.write_row((entry["time"], Jsonb(entry)))
                progress(1)
        _write_feed(conn, cursor, tables)
        progress(sum(len(tables.get(table, {})) for table in (EVENTS, STATE)))


def write_folder(folder: Path, tables: files.Tables, progress: Progress = _none) -> None:
    """Write ``tables`` as the snapshot of a new data folder."""
    if folder.exists() and any(folder.iterdir()):
        raise StoreUnavailable(f"{folder} is not empty; choose a new folder")
    folders.create(folder, tables)
    progress(rows(tables))


def write_snapshot_file(tables: files.Tables, destination: str) -> None:
    """Write ``tables`` as a TinyDB snapshot file at ``destination`` (``Store.backup``)."""
    path = Path(destination)
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_snapshot(path.parent, tables, 0, name=path.name)


def counts(tables: files.Tables) -> dict[str, int]:
    """Return the number of rows of every table, empty ones left out."""
    return {name: len(found) for name, found in sorted(tables.items()) if found}


def rows(tables: files.Tables) -> int:
    return sum(len(found) for found in tables.values())


def checksum(tables: files.Tables) -> str:
    """Return a SHA-256 over every row of every non-empty table, in creation order.

    JSON objects are hashed with sorted keys: PostgreSQL's JSONB keeps no key order, and none
    is promised, while row order (creation order, which paging follows) is."""
    digest = hashlib.sha256()
    for name in sorted(tables):
        for key, doc in tables[name].items():
            line = json.dumps([name, key, doc], sort_keys=True, separators=(",", ":"))
            digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def copy_store(
    source: files.Tables,
    backend: str,
    destination: str,
    progress: Progress = _none,
) -> dict:
    """Write ``source`` to an empty store of ``backend`` at ``destination`` (a DSN or a
    folder), read it back and verify it; return the counts and the checksum."""
    expected = {"counts": counts(source), "checksum": checksum(source)}
    if backend == "postgres":
        from storage.postgres.store import PostgresStore

        store = PostgresStore(destination)
        try:
            write_postgres(store, source, progress)
            written = read_tables(store)
        finally:
            store.close()
    else:
        write_folder(Path(destination), source, progress)
        written = read_folder(Path(destination))
    found = {"counts": counts(written), "checksum": checksum(written)}
    if found != expected:
        raise StoreUnavailable(f"the copy differs from the source: {found} != {expected}")
    return expected


def read_source(config: dict, store) -> files.Tables:
    """Return the whole of the configured store (``store`` is it, open)."""
    if config["backend"] == "postgres":
        return read_tables(store)
    return read_folder(Path(config["data_dir"]))
