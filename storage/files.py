"""The files of a data folder: the TinyDB snapshot, the append-only journal and the folder lock.

This is the only module that imports TinyDB.

- ``roster.json`` is a TinyDB JSON file (``TinyDB("roster.json").table("User").all()`` reads
  it): one TinyDB table per store table, each document carrying its key under ``_key``. A
  ``_meta`` table records which journal segments the snapshot already contains.
- ``journal-<seq>.log`` segments hold the writes made since: one line per transaction,
  ``<crc32 hex> <json>\\n``, flushed and fsynced before the write is acknowledged. A crash
  mid-append leaves a torn last line, which fails its checksum and is dropped on load.
- ``roster.lock`` is held with ``flock`` for as long as a process has the folder open.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

from tinydb import TinyDB
from tinydb.storages import JSONStorage

from storage.errors import StoreLocked, StoreUnavailable

SNAPSHOT = "roster.json"
LOCK = "roster.lock"
_SEGMENT = re.compile(r"^journal-(\d{8})\.log$")

Tables = dict[str, dict[str, dict]]


class FolderLock:
    """An exclusive, non-blocking lock on a data folder, released when the process dies."""

    def __init__(self, folder: Path):
        self.path = folder / LOCK
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLocked(
                f"the data folder {self.path.parent} is in use by another Roster process "
                "(stop the server first, or use a different data folder)"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _fsync_dir(folder: Path) -> None:
    # A rename or a new file is durable only once its directory entry is (POSIX).
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_snapshot(folder: Path) -> tuple[Tables, int]:
    """Return the snapshot's tables and the first journal segment not contained in it."""
    path = folder / SNAPSHOT
    if not path.exists():
        return {}, 0
    try:
        with TinyDB(path, storage=JSONStorage, access_mode="r") as db:
            tables: Tables = {}
            next_segment = 0
            for name in db.tables():
                if name == "_meta":
                    meta = db.table(name).all()
                    next_segment = int(meta[0]["next_segment"]) if meta else 0
                    continue
                tables[name] = {doc["_key"]: _without_key(doc) for doc in db.table(name).all()}
            return tables, next_segment
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreUnavailable(f"{path} is not a readable Roster snapshot: {exc}") from exc


def _without_key(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "_key"}


def write_snapshot(folder: Path, tables: Tables, next_segment: int, name: str = SNAPSHOT) -> Path:
    """Write ``tables`` as a TinyDB file atomically: temporary file, fsync, rename, fsync dir."""
    target = folder / name
    tmp = folder / f".{name}.tmp"
    data = {
        table: {str(i): {"_key": key, **doc} for i, (key, doc) in enumerate(rows.items(), 1)}
        for table, rows in tables.items()
    }
    data["_meta"] = {"1": {"next_segment": next_segment}}
    tmp.unlink(missing_ok=True)
    storage = JSONStorage(tmp, create_dirs=False, access_mode="r+")
    try:
        storage.write(data)  # TinyDB's JSONStorage flushes and fsyncs.
    finally:
        storage.close()
    os.replace(tmp, target)
    _fsync_dir(folder)
    return target


def segments(folder: Path) -> list[int]:
    """Return the sequence numbers of the journal segments present, in order."""
    found = (_SEGMENT.match(p.name) for p in folder.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def segment_path(folder: Path, seq: int) -> Path:
    return folder / f"journal-{seq:08d}.log"


def read_segment(path: Path) -> Iterator[list]:
    """Yield each transaction's operations; stop at the first torn or damaged line.

    Only the tail can be torn (appends are sequential and each is fsynced before the next
    starts), so everything after a bad line is unacknowledged and safely ignored.
    """
    with open(path, "rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                return
            crc, _, body = line[:-1].partition(b" ")
            try:
                if int(crc, 16) != zlib.crc32(body):
                    return
                yield json.loads(body)["ops"]
            except (ValueError, KeyError):
                return


class Journal:
    """An open journal segment that appends transactions durably."""

    def __init__(self, folder: Path, seq: int):
        self.seq = seq
        self.path = segment_path(folder, seq)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _fsync_dir(folder)
        self.size = os.fstat(self._fd).st_size

    def append(self, ops: list) -> None:
        """Append one transaction and return once it is on disk."""
        body = json.dumps({"ops": ops}, separators=(",", ":")).encode()
        line = b"%08x %s\n" % (zlib.crc32(body), body)
        written = os.write(self._fd, line)
        if written != len(line):  # pragma: no cover - a full disk
            raise StoreUnavailable("short write to the journal (is the disk full?)")
        os.fsync(self._fd)
        self.size += written

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
