"""The files of a data folder: the manifest, the TinyDB snapshot, the journal's segments and
the folder lock (``storage.tinydb.journal`` knows the segments' format, ``storage.tinydb.folder``
reads a whole folder). This is the only module that knows the snapshot's format.

- ``manifest.json`` marks a folder that holds a store, with the format it is written in. It is
  written once, atomically, after the first snapshot: from then on a missing or empty
  snapshot or journal is damage, never a new store.
- ``roster.json`` is a TinyDB JSON file (``TinyDB("roster.json").table("User").all()`` reads
  it): one TinyDB table per store table, each document carrying its key under ``_key``. A
  ``_meta`` table records the first journal segment and record number the snapshot does not
  contain, and ends with a CRC-32 of every byte before it.
- ``journal-<seq>.log`` segments hold the writes made since (``storage.tinydb.journal``).
- ``roster.lock`` is held with ``flock`` for as long as a process has the folder open.

A transaction is ``{"ops": [op, ...]}``. An op is ``[table, key, doc]`` (``doc`` null deletes),
or ``[table, key, head, {"members": {"remove": [value, ...], "add": [member, ...]}}]``: a
membership change to a large Group, which carries only the change so that adding one member
to a group of 100,000 writes one short line, not the whole group. ``head`` is the new document
with ``members`` set to null; the members are the previous document's, minus those whose
``value`` is removed, plus those added, in that order. Readers apply ops with ``resolve``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import compress
from operator import itemgetter, not_
from pathlib import Path
from typing import BinaryIO

from scim.core.membership import removed_one
from storage.errors import StoreDamaged, StoreLocked, StoreUnavailable

MANIFEST = "manifest.json"
SNAPSHOT = "roster.json"
LOCK = "roster.lock"
# The folder's format: 2 numbers and checksums every record and the snapshot. (1, the first,
# had no manifest; its folders are still read, and upgraded when a server opens them.)
FORMAT = 2
_SEGMENT = re.compile(r"^journal-(\d{8})\.log$")
# How a snapshot ends: its checksum covers every byte before the checksum itself.
_SUMMED = re.compile(rb'"crc32": "([0-9a-f]{8})"\}\}\}\s*\Z')
_DELTA = "members"
_member_value = itemgetter("value")

Tables = dict[str, dict[str, dict]]


class FolderLock:
    """An exclusive, non-blocking lock on a data folder, released when the process dies."""

    def __init__(self, folder: Path):
        self.path = folder / LOCK
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None

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
        held = os.fstat(fd)
        self._identity = (held.st_dev, held.st_ino)

    def lost(self) -> str | None:
        """Why the folder's path no longer leads to the folder this lock holds, or None.

        A folder deleted, moved, replaced or unmounted under a running server takes its lock
        file with it: another process could then take the path, and nothing written to the
        old files would ever be read. One ``stat``: the path must still reach the locked file.
        """
        folder = self.path.parent
        try:
            now = os.stat(self.path)
        except OSError as exc:
            return f"the data folder {folder} is gone (deleted, moved or unmounted: {exc.strerror})"
        if (now.st_dev, now.st_ino) != self._identity:
            return f"the data folder {folder} was replaced or unmounted (its lock file changed)"
        return None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def fsync_dir(folder: Path) -> None:
    """Make the folder's entries durable: a rename or a new file is only once they are."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` whole or not at all: temporary file, fsync, rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


# --- the manifest ---------------------------------------------------------------------------


def read_manifest(folder: Path) -> dict | None:
    """Return the folder's manifest, or None for a folder that has none (new, or format 1)."""
    path = folder / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        manifest = json.loads(raw)
        version = manifest["format"]
        if not isinstance(version, int):
            raise TypeError("format is not a number")
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreDamaged(f"{path} is damaged ({len(raw)} bytes): {exc}") from None
    if version > FORMAT:
        raise StoreUnavailable(
            f"{folder} is in format {version}, written by a newer Roster: upgrade Roster"
        )
    return manifest


def write_manifest(folder: Path) -> None:
    """Mark ``folder`` as holding a store (once it has a snapshot)."""
    created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    manifest = {"store": "roster", "format": FORMAT, "created": created}
    write_atomic(folder / MANIFEST, json.dumps(manifest, indent=2).encode() + b"\n")


# --- the snapshot ---------------------------------------------------------------------------


@dataclass
class Snapshot:
    tables: Tables
    next_segment: int  # the first journal segment it does not contain
    next_record: int | None  # the number of the first record it does not contain (None: format 1)
    summed: bool | None  # whether its checksum holds; None when it has none (format 1)


def read_snapshot(folder: Path) -> Snapshot | None:
    """Return the snapshot, or None when there is none.

    Raises StoreDamaged when it cannot be read at all (empty, cut short, not JSON). A snapshot
    that reads but fails its checksum, or has none, is returned as it reads: whether to accept
    it is the caller's decision (``summed``)."""
    path = folder / SNAPSHOT
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    if not raw.strip():
        raise StoreDamaged(f"the snapshot {path} is empty ({len(raw)} bytes)")
    tail = _SUMMED.search(raw, max(len(raw) - 64, 0))
    summed = None
    if tail is not None:
        summed = int(tail.group(1), 16) == zlib.crc32(memoryview(raw)[: tail.start(1)])
    try:
        data = json.loads(raw)
        del raw
        meta: dict = next(iter(data.pop("_meta", {}).values()), {})
        # The parsed documents are ours: take the key out in place rather than copy them.
        tables = {name: {d.pop("_key"): d for d in rows.values()} for name, rows in data.items()}
        return Snapshot(tables, int(meta.get("next_segment", 0)), meta.get("next_record"), summed)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        why = "cut short or damaged" if summed is None else "it fails its checksum"
        raise StoreDamaged(f"the snapshot {path} cannot be read ({why}: {exc})") from None


def write_snapshot(
    folder: Path, tables: Tables, next_segment: int, name: str = SNAPSHOT, *, next_record: int = 0
) -> Path:
    """Write ``tables`` as a TinyDB file atomically: temporary file, fsync, rename, fsync dir.

    The file is written one document at a time. One ``json.dumps`` of the whole store would
    hold the GIL for as long as it runs (about a second at 100,000 users), stalling every
    request; small steps let request threads run in between. The text is what TinyDB's
    ``JSONStorage`` writes for the same data (``TinyDB(path).table(t).all()`` reads it), its
    ``_meta`` document ending with the checksum of everything before.
    """
    target = folder / name
    tmp = folder / f".{name}.tmp"
    try:
        with open(tmp, "wb") as raw:
            out = _Summed(raw)
            out.write("{")
            for position, (table, rows) in enumerate(tables.items()):
                out.write(f"{', ' if position else ''}{json.dumps(table)}: {{")
                for number, (key, doc) in enumerate(rows.items(), 1):
                    out.write(f'{", " if number > 1 else ""}"{number}": ')
                    out.write(_with_key(key, doc))
                out.write("}")
            meta = {"next_segment": next_segment, "next_record": next_record, "format": FORMAT}
            out.write(f'{", " if tables else ""}"_meta": {{"1": {json.dumps(meta)[:-1]}, ')
            out.write('"crc32": "')
            raw.write(b'%08x"}}}' % out.crc)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk: do not keep half a snapshot taking space
        raise
    fsync_dir(folder)
    return target


class _Summed:
    """A file that keeps the CRC-32 of what is written to it."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.crc = 0

    def write(self, text: str) -> None:
        data = text.encode("ascii")
        self.crc = zlib.crc32(data, self.crc)
        self.raw.write(data)


def _with_key(key: str, doc: dict) -> str:
    """Return ``{"_key": key, **doc}`` as JSON without building that dict."""
    body = json.dumps(doc)
    return f'{{"_key": {json.dumps(key)}{", " if len(body) > 2 else ""}{body[1:]}'


# --- the journal's segments -----------------------------------------------------------------


def segments(folder: Path) -> list[int]:
    """Return the sequence numbers of the journal segments present, in order."""
    found = (_SEGMENT.match(p.name) for p in folder.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def segment_path(folder: Path, seq: int) -> Path:
    return folder / f"journal-{seq:08d}.log"


# --- operations -----------------------------------------------------------------------------


def resolve(op: list, previous: dict | None) -> dict | None:
    """Return the document ``op`` leaves under its key, given the one it had before."""
    if len(op) == 3:
        return op[2]
    head, delta = op[2], op[3][_DELTA]
    if previous is None:
        raise StoreDamaged(f"a membership change to {op[1]} has no base document")
    gone = set(delta["remove"])
    members = [m for m in previous["data"].get(_DELTA) or () if m.get("value") not in gone]
    data = dict(head["data"])
    data[_DELTA] = members + delta["add"]
    return {**head, "data": data}


def apply_ops(tables: Tables, ops: list) -> None:
    """Apply one transaction's ops to plain tables (for readers of a folder, like backups).

    Raises StoreDamaged, having changed nothing, when a membership change has no base."""
    missing_base(tables, ops)
    for op in ops:
        rows = tables.setdefault(op[0], {})
        doc = resolve(op, rows.get(op[1]))
        if doc is None:
            rows.pop(op[1], None)
        else:
            rows[op[1]] = doc


def delta_op(table: str, key: str, old: dict | None, new: dict | None, least: int) -> list | None:
    """Return the op that writes ``new`` over ``old`` as a membership change, or None when a
    full document is as short or cannot express it (members reordered or edited).

    ``least``: the smallest previous ``members`` list worth a delta."""
    if old is None or new is None:
        return None
    before, after = old["data"].get(_DELTA), new["data"].get(_DELTA)
    if not isinstance(before, list) or not isinstance(after, list) or len(before) < least:
        return None
    head = {**new, "data": {**new["data"], _DELTA: None}}
    # The common change appends to the members, which mostly are the very same objects as
    # before: the list comparison then skips their contents, and nothing is looked at twice.
    if len(after) >= len(before) and after[: len(before)] == before:
        return [table, key, head, {_DELTA: {"remove": [], "add": after[len(before) :]}}]
    single = _single_removal(before, after)
    if single is not None:
        return [table, key, head, {_DELTA: {"remove": [single], "add": []}}]
    try:
        # set() and map() run in C: these are the only passes over a 100,000-member group.
        values = list(map(_member_value, before))
        gone = set(values).difference(map(_member_value, after))
    except (KeyError, TypeError):  # not a list of objects with hashable values
        return None
    removed = list(compress(values, map(gone.__contains__, values)))
    kept = list(compress(before, map(not_, map(gone.__contains__, values))))
    if after[: len(kept)] != kept:
        return None
    return [table, key, head, {_DELTA: {"remove": removed, "add": after[len(kept) :]}}]


def _single_removal(before: list, after: list) -> object | None:
    """The value of the one member ``after`` lacks, when ``after`` is ``before`` less one
    element, the others being the very same objects; else None. (A remove PATCH, in C.)"""
    at = removed_one(before, after)
    if at is None:
        return None
    try:
        value = before[at]["value"]
        if value in map(_member_value, after):  # replay removes by value: all of them
            return None
    except (KeyError, TypeError):
        return None
    return value


def missing_base(tables: Tables, ops: list) -> None:
    """Raise StoreDamaged when one of ``ops`` is a membership change to a group ``tables`` do
    not hold (checked before applying any op: a transaction applies whole or not at all)."""
    for op in ops:
        if len(op) > 3 and op[1] not in tables.get(op[0], ()):
            raise StoreDamaged(f"a membership change to {op[0]} {op[1]}, which does not exist")
