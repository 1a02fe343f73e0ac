"""``flask --app app recover``: start a damaged data folder again from what is intact.

A server refuses a damaged folder rather than silently lose what the damage hides. Recovering
is the explicit way past that, and it destroys nothing:

1. the folder's lock is taken (no server may run on it);
2. it is read to salvage (``storage.tinydb.folder``): a damaged record is left out and the reading
   goes on with the records after it; a snapshot that reads but fails its checksum is kept as
   it reads; one that cannot be read at all is left out;
3. the store's files, as they were, are copied into ``damaged-<time>/`` beside them, with
   ``recovery.json`` saying what was kept and left out;
4. what was read becomes the folder's new snapshot, written as a compaction writes it (new
   empty segment, snapshot renamed in, old segments deleted), and the manifest is rewritten.

A crash at any point leaves either the folder as it was or the recovered one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage import check
from storage.errors import StoreUnavailable
from storage.tinydb import files
from storage.tinydb import folder as folders

log = logging.getLogger("roster.recover")


def recover(folder: Path) -> dict:
    """Recover ``folder`` if it is damaged; return what was kept, left out, and still wrong."""
    lock = files.FolderLock(folder)
    lock.acquire()
    try:
        tables, found = folders.read_tables(folder, salvage=True)
        if found.new:
            raise StoreUnavailable(f"{folder} holds no Roster store")
        report: dict[str, Any] = {
            "folder": str(folder),
            "recovered": bool(found.problems),
            "dropped": found.problems + [torn.describe() for torn in found.torn],
            "kept": {name: len(rows) for name, rows in sorted(tables.items()) if rows},
            "copy": None,
            "problems": list(check.references(tables)),
        }
        if not found.problems:
            return report  # intact (a torn last record is dropped by every start anyway)
        aside = copy_aside(folder)
        report["copy"] = str(aside)
        files.write_atomic(aside / "recovery.json", json.dumps(report, indent=2).encode())
        rewrite(folder, tables, found)
        for line in report["dropped"]:
            log.warning("recover %s: left out %s", folder, line)
        log.warning(
            "recover %s: kept %s; the damaged files are in %s", folder, report["kept"], aside
        )
        return report
    finally:
        lock.release()


def copy_aside(folder: Path) -> Path:
    """Copy the store's files (manifest, snapshot, every segment) into a new folder."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    aside = folder / f"damaged-{stamp}"
    aside.mkdir()
    names = [files.MANIFEST, files.SNAPSHOT]
    names += [files.segment_path(folder, seq).name for seq in files.segments(folder)]
    for name in names:
        if (folder / name).exists():
            shutil.copyfile(folder / name, aside / name)
            _fsync(aside / name)
    files.fsync_dir(aside)
    files.fsync_dir(folder)
    return aside


def rewrite(folder: Path, tables: files.Tables, found: folders.Found) -> None:
    """Make ``tables`` the folder's whole store, as a compaction would."""
    present = files.segments(folder)
    following = max(present, default=-1) + 1
    os.close(os.open(files.segment_path(folder, following), os.O_WRONLY | os.O_CREAT, 0o600))
    files.write_snapshot(folder, tables, following, next_record=found.next_record)
    for seq in present:
        files.segment_path(folder, seq).unlink()
    files.write_manifest(folder)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
