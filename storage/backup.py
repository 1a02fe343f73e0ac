"""Consistent copies of a data folder, safe while a server is writing to it.

The folder's files are never rewritten in place: the snapshot is replaced by rename and the
journal only grows (each record checksummed and numbered). So a reader that takes the current
snapshot and replays the segments after it sees exactly the acknowledged writes up to some
moment (``storage.tinydb.folder.read_tables``); the segments read are fsynced before the copy
is written, so it holds only durable writes. A damaged folder is refused, not copied: a backup
is what a restore trusts.
"""

from __future__ import annotations

from pathlib import Path

from storage.errors import StoreDamaged, StoreUnavailable
from storage.tinydb import files
from storage.tinydb import folder as folders


def read_folder(folder: Path) -> files.Tables:
    """Return every table of the data folder as of a moment, without taking its lock.

    Raises StoreDamaged when a file fails its checks (a torn last record, never acknowledged,
    is left out)."""
    return folders.read_tables(folder)[0]


def backup(folder: Path, destination: Path) -> dict[str, int]:
    """Write a verified copy of ``folder``'s store as the new data folder ``destination``.

    Returns the number of rows per table. ``destination`` must be new or empty, so a backup
    never overwrites a live store. The copy is read back and compared with what was read.
    """
    if destination.exists() and any(destination.iterdir()):
        raise StoreUnavailable(f"{destination} is not empty; choose a new folder")
    tables, found = folders.read_tables(folder)
    if found.new:
        raise StoreUnavailable(f"{folder} holds no Roster store")
    # A server's open batch (a /Bulk request) appends records it fsyncs only at its end, and
    # what was read may hold some: fsynced now, after the reading, every byte read is durable,
    # so the copy never holds what a machine crash could still take from the store.
    folders.sync_segments(folder)
    folders.create(destination, tables)
    if not same(folders.read_tables(destination)[0], tables):
        raise StoreDamaged(f"the copy in {destination} differs from {folder} once read back")
    return {name: len(rows) for name, rows in tables.items()}


def same(a: files.Tables, b: files.Tables) -> bool:
    """Whether two sets of tables hold the same rows in the same order (empty tables aside)."""
    a = {name: rows for name, rows in a.items() if rows}
    b = {name: rows for name, rows in b.items() if rows}
    return a == b and all(list(a[name]) == list(b[name]) for name in a)
