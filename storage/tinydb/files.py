"""The files of a data folder: the TinyDB snapshot, the append-only journal and the folder lock.

This is the only module that imports TinyDB, and the only one that knows the journal's format.

- ``roster.json`` is a TinyDB JSON file (``TinyDB("roster.json").table("User").all()`` reads
  it): one TinyDB table per store table, each document carrying its key under ``_key``. A
  ``_meta`` table records which journal segments the snapshot already contains.
- ``journal-<seq>.log`` segments hold the writes made since: one line per transaction,
  ``<crc32 hex> <json>\\n``, flushed and fsynced before the write is acknowledged. A crash
  mid-append leaves a torn last line, which fails its checksum and is dropped on load.
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
from collections.abc import Iterator
from itertools import compress
from operator import itemgetter, not_
from pathlib import Path

from tinydb.storages import JSONStorage

from scim.core import jsonio
from scim.core.membership import removed_one
from storage.errors import StoreLocked, StoreUnavailable

SNAPSHOT = "roster.json"
LOCK = "roster.lock"
_SEGMENT = re.compile(r"^journal-(\d{8})\.log$")
_DELTA = "members"
_member_value = itemgetter("value")

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


# --- the snapshot ---------------------------------------------------------------------------


def read_snapshot(folder: Path) -> tuple[Tables, int]:
    """Return the snapshot's tables and the first journal segment not contained in it."""
    path = folder / SNAPSHOT
    if not path.exists():
        return {}, 0
    # One read through TinyDB's storage. (TinyDB's table API would parse the whole file again
    # for every table it opens: seven parses of a 100 MB file at start-up.)
    storage = JSONStorage(str(path), access_mode="r")
    try:
        data = storage.read() or {}
        tables: Tables = {}
        next_segment = 0
        for name, rows in data.items():
            if name == "_meta":
                meta = next(iter(rows.values()), None)
                next_segment = int(meta["next_segment"]) if meta else 0
                continue
            # The parsed documents are ours: take the key out in place rather than copy them.
            tables[name] = {doc.pop("_key"): doc for doc in rows.values()}
        return tables, next_segment
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreUnavailable(f"{path} is not a readable Roster snapshot: {exc}") from exc
    finally:
        storage.close()


def write_snapshot(folder: Path, tables: Tables, next_segment: int, name: str = SNAPSHOT) -> Path:
    """Write ``tables`` as a TinyDB file atomically: temporary file, fsync, rename, fsync dir.

    The file is written one document at a time. One ``json.dumps`` of the whole store would
    hold the GIL for as long as it runs (about a second at 100,000 users), stalling every
    request; small steps let request threads run in between. The text is what TinyDB's
    ``JSONStorage`` writes for the same data (``TinyDB(path).table(t).all()`` reads it).
    """
    target = folder / name
    tmp = folder / f".{name}.tmp"
    with open(tmp, "w", encoding="ascii") as out:
        out.write("{")
        for position, (table, rows) in enumerate(tables.items()):
            out.write(f"{', ' if position else ''}{json.dumps(table)}: {{")
            for number, (key, doc) in enumerate(rows.items(), 1):
                out.write(f'{", " if number > 1 else ""}"{number}": ')
                out.write(_with_key(key, doc))
            out.write("}")
        meta = json.dumps({"1": {"next_segment": next_segment}})
        out.write(f'{", " if tables else ""}"_meta": {meta}}}')
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)
    _fsync_dir(folder)
    return target


def _with_key(key: str, doc: dict) -> str:
    """Return ``{"_key": key, **doc}`` as JSON without building that dict."""
    body = json.dumps(doc)
    return f'{{"_key": {json.dumps(key)}{", " if len(body) > 2 else ""}{body[1:]}'


# --- the journal ----------------------------------------------------------------------------


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
    batch: list[bytes] = []
    with open(path, "rb") as handle:
        for line in handle:
            crc, _, body = line[:-1].partition(b" ")
            if not line.endswith(b"\n") or not _checksum_ok(crc, body):
                break
            batch.append(body)
            if len(batch) == _BATCH:
                transactions, whole = _parse(batch)
                yield from transactions
                if not whole:
                    return
                batch = []
    yield from _parse(batch)[0]


# Lines parsed per json.loads call: far fewer calls, and the parser shares the strings of
# repeated keys within a call (100,000 separate parses kept 100,000 copies of "userName").
_BATCH = 1000


def _checksum_ok(crc: bytes, body: bytes) -> bool:
    try:
        return int(crc, 16) == zlib.crc32(body)
    except ValueError:
        return False


def _parse(bodies: list[bytes]) -> tuple[list[list], bool]:
    """Return the ops of each body, and whether every body parsed (else the ones before the
    first that did not)."""
    try:
        parsed = [t["ops"] for t in json.loads(b"[" + b",".join(bodies) + b"]")]
        if len(parsed) == len(bodies):
            return parsed, True
    except (ValueError, KeyError, TypeError):
        pass
    # A line whose checksum matches by accident but is no transaction: one by one, to keep
    # the lines before it.
    parsed = []
    for body in bodies:
        try:
            parsed.append(json.loads(body)["ops"])
        except (ValueError, KeyError, TypeError):
            return parsed, False
    return parsed, True


def resolve(op: list, previous: dict | None) -> dict | None:
    """Return the document ``op`` leaves under its key, given the one it had before."""
    if len(op) == 3:
        return op[2]
    head, delta = op[2], op[3][_DELTA]
    if previous is None:
        raise StoreUnavailable(f"journal: a membership change to {op[1]} has no base document")
    gone = set(delta["remove"])
    members = [m for m in previous["data"].get(_DELTA) or () if m.get("value") not in gone]
    data = dict(head["data"])
    data[_DELTA] = members + delta["add"]
    return {**head, "data": data}


def apply_ops(tables: Tables, ops: list) -> None:
    """Apply one transaction's ops to plain tables (for readers of a folder, like backups)."""
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


class Journal:
    """An open journal segment that appends transactions durably."""

    def __init__(self, folder: Path, seq: int):
        self.seq = seq
        self.path = segment_path(folder, seq)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _fsync_dir(folder)
        self.size = os.fstat(self._fd).st_size
        self._broken: str | None = None

    def append(self, ops: list) -> None:
        """Append one transaction and return once it is on disk."""
        if self._broken:
            raise StoreUnavailable(self._broken)
        body = jsonio.dumps({"ops": ops})
        line = b"%08x %s\n" % (zlib.crc32(body), body)
        try:
            written = os.write(self._fd, line)
        except OSError as exc:
            self._cut(exc)
        if written != len(line):
            self._cut(OSError(f"short write, {written} of {len(line)} bytes (is the disk full?)"))
        try:
            os.fsync(self._fd)
        except OSError as exc:
            # After a failed fsync the kernel may have dropped the dirty pages: what the file
            # holds is unknown, so refuse every later write rather than build on it.
            self._broken = f"the journal {self.path} failed to sync: {exc}"
            raise StoreUnavailable(self._broken) from exc
        self.size += written

    def _cut(self, exc: OSError) -> None:
        """Drop a partial line, or refuse later writes: readers stop at the first bad line, so
        nothing may ever be appended after one."""
        message = f"the journal {self.path} cannot be written: {exc}"
        try:
            os.ftruncate(self._fd, self.size)
        except OSError:
            self._broken = message
        raise StoreUnavailable(message) from exc

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1  # a write after close fails (EBADF) like any other
