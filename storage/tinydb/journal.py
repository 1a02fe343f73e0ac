"""The journal: one record per transaction, appended and fsynced before the write is
acknowledged, in segments ``journal-<seq>.log`` (``storage.tinydb.files`` names them).

A record is one line::

    <crc32 hex> <number> <length> <body>\\n

``body`` is the transaction as JSON (``{"ops": [...]}``), ``length`` its size in bytes,
``number`` the record's place in the store's history (one more than the record before it, in
the same segment or the one before; the snapshot records the number that follows it), and the
checksum covers everything after itself. Lines of the first format, ``<crc32 hex> <body>``
(no number, no length), are still read.

The framing tells a crash from damage. Appends are sequential, one at a time, and a record is
acknowledged only once an fsync that began after it was written returns (concurrent writers
share one: ``storage.tinydb.durable``), so a crash can only leave the start of one record at
the very end of a segment (the next process opens a new segment): that **torn** record was
never acknowledged and is dropped. Anything else is **damage**, and loading it would silently
lose acknowledged writes:

- a line that fails its checksum with anything after it in its segment;
- a last line longer than its length says (a lost newline ran two records together);
- a record whose number is out of turn (a record lost, repeated, or a segment cut short);
- a checksummed record that holds no transaction.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from scim.core import jsonio
from storage.errors import StoreFull, StoreUnavailable
from storage.tinydb.files import FolderLock, fsync_dir, segment_path

log = logging.getLogger(__name__)

# Seconds a client is told to wait when the disk refuses a write (read-only, I/O errors): an
# operator has to act, so not sooner than this.
RETRY_AFTER = 30
# Lines parsed per json.loads call: far fewer calls, and the parser shares the strings of
# repeated keys within a call (100,000 separate parses kept 100,000 copies of "userName").
_BATCH = 1000


@dataclass
class Bad:
    """A stretch of a segment that holds no good record."""

    path: Path
    offset: int
    size: int
    reason: str
    following: int  # lines after it in its segment
    torn: bool  # the start of a record a crash interrupted (nothing follows it)

    def describe(self) -> str:
        where = f"{self.path.name} at byte {self.offset}"
        if self.torn:
            return f"{where}: a torn last record ({self.size} bytes), never acknowledged"
        return f"{where}: {self.reason} ({self.size} bytes, {self.following} lines after it)"


def encode(number: int, ops: list) -> bytes:
    """Return the journal line of one transaction."""
    body = jsonio.dumps({"ops": ops})
    head = b"%d %d " % (number, len(body))
    return b"%08x %s%s\n" % (zlib.crc32(body, zlib.crc32(head)), head, body)


def _record(line: bytes) -> tuple[int | None, bytes] | None:
    """Return (number, body) of a good line (number None in the first format), else None."""
    if line[-1:] != b"\n" or line[8:9] != b" ":
        return None
    rest = line[9:-1]
    try:
        crc = int(line[:8], 16)
    except ValueError:
        return None
    if rest[:1] == b"{":  # the first format
        return (None, rest) if crc == zlib.crc32(rest) else None
    if crc != zlib.crc32(rest):
        return None
    try:
        number, length, body = rest.split(b" ", 2)
        return (int(number), body) if int(length) == len(body) else None
    except ValueError:  # a checksum that holds by accident
        return None


def _overlong(line: bytes) -> bool:
    """Whether a bad line is longer than its own header says: never a torn record (a crash
    only cuts a record short), but records run together."""
    fields = line.rstrip(b"\n").split(b" ", 3)
    if len(fields) < 4 or not fields[2].isdigit():
        return False
    return len(fields[3]) > int(fields[2])


class Cursor:
    """The number the next record must carry; None when unknown (the first format)."""

    def __init__(self, number: int | None):
        self.number = number


def read_segment(
    path: Path, cursor: Cursor, bad: Callable[[Bad], None]
) -> Iterator[tuple[int, list]]:
    """Yield (offset, ops) of each good record of a segment, in order.

    ``bad`` is called with every stretch that is not a good record; it raises to stop the
    reading (a server's start) or returns to go on with the next line (check, recover).
    ``cursor`` is checked against each record's number and advanced.
    """
    batch: list[tuple[int, bytes]] = []
    offset = 0
    with open(path, "rb") as handle:
        for line in handle:
            record = _record(line)
            if record is None:
                yield from _parse(path, batch, bad)
                batch = []
                verdict = _judge(path, handle, offset, line)
                bad(verdict)
                if not verdict.torn:  # a record was lost: its number is unknown, count anew
                    cursor.number = None
            else:
                number, body = record
                if number is not None and cursor.number is not None and number != cursor.number:
                    yield from _parse(path, batch, bad)
                    batch = []
                    reason = (
                        f"record number {number} where {cursor.number} was due:"
                        " records are missing or repeated before it"
                    )
                    bad(Bad(path, offset, len(line), reason, _lines_after(handle), False))
                cursor.number = None if number is None else number + 1
                batch.append((offset, body))
                if len(batch) == _BATCH:
                    yield from _parse(path, batch, bad)
                    batch = []
            offset += len(line)
    yield from _parse(path, batch, bad)


def _judge(path: Path, handle: BinaryIO, offset: int, line: bytes) -> Bad:
    following = _lines_after(handle)
    if following == 0 and not _overlong(line):
        return Bad(path, offset, len(line), "torn", 0, True)
    if following == 0:
        reason = "a record longer than its length says (two records ran together)"
    else:
        reason = "a record that fails its checksum"
    return Bad(path, offset, len(line), reason, following, False)


def _lines_after(handle: BinaryIO) -> int:
    """Count the lines left in ``handle`` and come back to where it was."""
    here = handle.tell()
    count = sum(1 for _ in handle)
    handle.seek(here)
    return count


def _parse(
    path: Path, batch: list[tuple[int, bytes]], bad: Callable[[Bad], None]
) -> Iterator[tuple[int, list]]:
    if not batch:
        return
    try:
        parsed = [t["ops"] for t in json.loads(b"[" + b",".join(b for _, b in batch) + b"]")]
    except (ValueError, KeyError, TypeError):
        parsed = None
    if parsed is not None and len(parsed) == len(batch):
        yield from zip((o for o, _ in batch), parsed, strict=True)
        return
    # A line whose checksum holds but that is no transaction: find it, keep the others.
    for offset, body in batch:
        try:
            ops = json.loads(body)["ops"]
        except (ValueError, KeyError, TypeError):
            bad(
                Bad(
                    path,
                    offset,
                    len(body),
                    "a checksummed record that holds no transaction",
                    0,
                    False,
                )
            )
            continue
        yield offset, ops


def count_lines(path: Path) -> int:
    """Return how many records (lines) a segment holds, good or not."""
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def refusal(path: Path, exc: OSError, *, broken: bool = False) -> StoreUnavailable:
    """Return the error a write refused by the disk raises (``StoreFull`` when out of space)."""
    restart = "; restart Roster once it is fixed" if broken else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFull(f"the journal {path} cannot grow: {exc.strerror}{restart}")
    return StoreUnavailable(
        f"the journal {path} cannot be written: {exc.strerror or exc}{restart}",
        retry_after=RETRY_AFTER,
    )


class Journal:
    """An open journal segment that appends records durably.

    A write the disk refuses leaves the segment as it was: ``write(2)`` either fails having
    written nothing, or writes part of the line, which is cut off again before anything else is
    appended. So once space is freed (or the disk is writable again) writes simply go on. A
    failed fsync is different: the kernel may have dropped the pages it could not write, so
    what the file holds is unknown, and every later write is refused until a restart reads
    the file back. So is every write once the ground moved: the folder deleted, replaced or
    unmounted, or the open segment unlinked (see ``FolderLock.lost``).
    """

    def __init__(self, folder: Path, seq: int, number: int, lock: FolderLock | None = None):
        self.seq = seq
        self.number = number  # of the next record
        self.path = segment_path(folder, seq)
        self._lock = lock
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fsync_dir(folder)
        self.size = os.fstat(self._fd).st_size
        self._cut_at: int | None = None  # a partial line follows this size: cut it first
        self.broken: str | None = None
        # What the disk said to the last append, for readiness (``storage.tinydb.ready``):
        # when it last took one (monotonic seconds), why it refused the last one, if it did.
        self.written_at: float | None = None
        self.refused: str | None = None
        # Every record numbered below ``synced`` is durable (what the file held when opened
        # was fsynced by the loading). Raised only under ``_syncing``.
        self.synced = number
        self._syncing = threading.Lock()
        self.fsyncs = 0

    @property
    def unsynced(self) -> bool:
        """Whether records were appended with ``sync=False`` since the last fsync."""
        return self.synced < self.number

    def append(self, ops: list, *, sync: bool = True) -> None:
        """Append one transaction and return once it is on disk (``sync=False``: once it is
        written to the file; ``sync()`` makes it durable later, with every other one)."""
        if self.broken:
            raise StoreUnavailable(self.broken, retry_after=RETRY_AFTER)
        if self._cut_at is not None:
            self._cut()
        line = encode(self.number, ops)
        try:
            written = os.write(self._fd, line)
        except OSError as exc:
            # Nothing was written: the segment is unchanged, and a later write may succeed.
            broken = exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
            raise self._refuse(exc, broken) from exc
        if written != len(line):
            # POSIX: a short write to a file means the disk is full. Cut the partial line off
            # now, or before the next write if that fails: nothing may follow it.
            self._cut_at = self.size
            self.refused = os.strerror(errno.ENOSPC)
            self._cut()
            raise StoreFull(
                f"the journal {self.path} is full: wrote {written} of {len(line)} bytes"
            )
        self.size += written
        self.number += 1
        if sync:
            self._fsync()
        lost = self._lost()
        if lost:  # written, but into files no one will read again: not acknowledged
            self.broken = f"{lost}: writes are refused until Roster restarts"
            log.error("%s", self.broken)
            raise StoreUnavailable(self.broken, retry_after=RETRY_AFTER)
        self.written_at, self.refused = time.monotonic(), None

    def sync(self) -> None:
        """Make every record appended with ``sync=False`` durable (one fsync for them all).

        Safe without the writer lock (``storage.tinydb.durable``): it covers the records
        appended before it began, and says so only for them."""
        if self.broken:
            raise StoreUnavailable(self.broken, retry_after=RETRY_AFTER)
        with self._syncing:
            if self.unsynced:  # else closed, or synced by a write's own fsync meanwhile
                self._fsync_now()

    def _fsync(self) -> None:
        with self._syncing:
            self._fsync_now()

    def _fsync_now(self) -> None:
        """fsync, and raise ``synced``. Caller holds ``_syncing``, which ``close`` takes too:
        the descriptor stays open while an fsync outside the writer lock runs."""
        upto = self.number  # each of these records was written before the fsync begins
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise self._refuse(exc, True) from exc
        self.fsyncs += 1
        self.synced = max(self.synced, upto)

    def _refuse(self, exc: OSError, broken: bool) -> StoreUnavailable:
        self.refused = exc.strerror or str(exc)
        error = refusal(self.path, exc, broken=broken)
        if broken:
            self.broken = str(error)
            log.error("%s", self.broken)
        return error

    def _cut(self) -> None:
        if self._cut_at is None:
            return
        try:
            os.ftruncate(self._fd, self._cut_at)
        except OSError as exc:
            raise refusal(self.path, exc) from exc
        self._cut_at = None

    def _lost(self) -> str | None:
        """Why the records appended here will never be read again, or None (two syscalls)."""
        if os.fstat(self._fd).st_nlink == 0:
            return f"the journal {self.path} was deleted under the running server"
        return self._lock.lost() if self._lock is not None else None

    def close(self) -> None:
        with self._syncing:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1  # a write after close fails (EBADF) like any other
