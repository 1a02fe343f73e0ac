"""Consistent copies of a data folder, safe while a server is writing to it.

The folder's files are never rewritten in place: the snapshot is replaced by rename and the
journal only grows (each line checksummed). So a reader that takes the current snapshot and
replays the segments after it sees exactly the acknowledged writes up to some moment. If a
compaction removes a segment while we read, a newer snapshot holds it: start again.
"""

from __future__ import annotations

from pathlib import Path

from storage.errors import StoreUnavailable
from storage.tinydb import files

ATTEMPTS = 5


def read_folder(folder: Path) -> files.Tables:
    """Return every table of the data folder as of a moment, without taking its lock."""
    for _ in range(ATTEMPTS):
        try:
            return _read_once(folder)
        except FileNotFoundError:
            continue  # a compaction finished under us; its snapshot has everything
    raise StoreUnavailable(f"{folder} kept changing while it was read; try again")


def _read_once(folder: Path) -> files.Tables:
    tables, first = files.read_snapshot(folder)
    for seq in files.segments(folder):
        if seq < first:
            continue
        for ops in files.read_segment(files.segment_path(folder, seq)):
            files.apply_ops(tables, ops)  # membership changes carry only the change
    return tables


def backup(folder: Path, destination: Path) -> dict[str, int]:
    """Write a loadable copy of ``folder``'s store into the folder ``destination``.

    Returns the number of rows per table. ``destination`` must be new or empty, so a backup
    never overwrites a live store.
    """
    if not (folder / files.SNAPSHOT).exists() and not files.segments(folder):
        raise StoreUnavailable(f"{folder} holds no Roster store")
    if destination.exists() and any(destination.iterdir()):
        raise StoreUnavailable(f"{destination} is not empty; choose a new folder")
    destination.mkdir(parents=True, exist_ok=True)
    tables = read_folder(folder)
    files.write_snapshot(destination, tables, 0)
    return {name: len(rows) for name, rows in tables.items()}
