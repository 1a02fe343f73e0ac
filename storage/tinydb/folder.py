"""Reading a whole data folder. A server's start, ``backup``, ``check`` and ``recover`` all read
a folder here, so they agree on what is damage.

A folder holds a store once it has a manifest (format 2) or, format 1, a snapshot or journal
segments. What it holds must then hang together:

- with a manifest, the snapshot is there, not empty, and its checksum holds;
- the segments from the snapshot's ``next_segment`` on are all there, in a row (each is created,
  and its folder entry fsynced, before anything refers to it);
- the records run in a row from the snapshot's ``next_record`` (``storage.tinydb.journal``).

Read strictly (a start, a backup), the first thing that does not raises ``StoreDamaged`` with
one line saying where and what would be lost. Read to salvage (``check``, ``recover``), each is
noted and the reading goes on with whatever is intact.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from storage.errors import StoreDamaged, StoreUnavailable
from storage.tinydb import files, journal
from storage.tinydb.journal import Bad, Cursor

HINT = (
    "run 'flask --app app check' for details, 'flask --app app recover' to start from what is"
    " intact (it keeps a copy of the damaged files)"
)
ATTEMPTS = 5


@dataclass
class Found:
    """What reading a folder found besides the data."""

    manifest: dict | None = None
    new: bool = False  # no store here yet
    next_segment: int = 0  # the segment a writer opens next
    next_record: int = 0  # the number its first record carries
    torn: list[Bad] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # when salvaging: what was left out


def replay(
    folder: Path,
    load: Callable[[files.Tables], None],
    apply: Callable[[list], None],
    *,
    salvage: bool = False,
) -> Found:
    """Read ``folder``: ``load`` its snapshot's tables, then ``apply`` each transaction of its
    journal in order. ``apply`` raises StoreDamaged, having changed nothing, to refuse one."""
    return _Reading(folder, salvage).run(load, apply)


class _Reading:
    def __init__(self, folder: Path, salvage: bool):
        self.folder = folder
        self.salvage = salvage
        self.found = Found()

    def problem(self, text: str) -> None:
        if not self.salvage:
            raise StoreDamaged(f"{text}: {HINT}")
        self.found.problems.append(text)

    def run(self, load, apply) -> Found:
        found = self.found
        try:
            found.manifest = files.read_manifest(self.folder)
        except StoreDamaged as exc:
            self.problem(str(exc))
            found.manifest = {"format": files.FORMAT}  # it held a store all the same
        snapshot = self._snapshot()
        present = files.segments(self.folder)
        if found.manifest is None and snapshot is None and not present:
            found.new = True
            return found
        first = snapshot.next_segment if snapshot else 0
        live = self._segments(first, present, snapshot is not None)
        if snapshot is not None:
            load(snapshot.tables)
            number = snapshot.next_record
        else:
            number = None if self.salvage else 0
        cursor = Cursor(number)
        for index, seq in enumerate(live):
            path = files.segment_path(self.folder, seq)
            later = live[index + 1 :]
            for offset, ops in journal.read_segment(path, cursor, self._bad(later)):
                try:
                    apply(ops)
                except StoreDamaged as exc:
                    self.problem(f"the journal {path} at byte {offset}: {exc}")
        found.next_segment = max(present, default=first - 1) + 1
        found.next_record = cursor.number or 0
        return found

    def _snapshot(self) -> files.Snapshot | None:
        try:
            snapshot = files.read_snapshot(self.folder)
        except StoreDamaged as exc:
            self.problem(str(exc))  # salvaging: nothing of it can be kept
            return None
        path = self.folder / files.SNAPSHOT
        if snapshot is None and self.found.manifest is not None:
            self.problem(f"the snapshot {path} is missing, but this folder held a store")
        elif snapshot is not None and snapshot.summed is False:
            self.problem(f"the snapshot {path} fails its checksum")
        elif snapshot is not None and snapshot.summed is None and self.found.manifest:
            self.problem(f"the snapshot {path} carries no checksum (it was replaced)")
        return snapshot

    def _segments(self, first: int, present: list[int], snapshot: bool) -> list[int]:
        """Return the segments to read: those from ``first`` on, which must all be there."""
        live = [seq for seq in present if seq >= first]
        name = self._name
        if not live:
            if snapshot and self.found.manifest is not None:
                self.problem(f"the journal {name(first)} is missing from {self.folder}")
            return live
        if not snapshot and live[0] != 0 and self.found.manifest is None:
            # (With a manifest, the missing snapshot was reported already.)
            self.problem(
                f"the snapshot {self.folder / files.SNAPSHOT} is missing and the journal starts"
                f" at {name(live[0])}: every earlier write would be lost"
            )
        there = set(live)
        start = first if snapshot else live[0]
        missing = [seq for seq in range(start, live[-1] + 1) if seq not in there]
        if missing:
            names = ", ".join(name(seq) for seq in missing)
            self.problem(f"journal segments are missing from {self.folder}: {names}")
        return live

    def _name(self, seq: int) -> str:
        return files.segment_path(self.folder, seq).name

    def _bad(self, later: list[int]) -> Callable[[Bad], None]:
        def bad(stretch: Bad) -> None:
            if stretch.torn:
                self.found.torn.append(stretch)
                return
            if self.salvage:
                self.problem(stretch.describe())
                return
            following = stretch.following + sum(
                journal.count_lines(files.segment_path(self.folder, seq)) for seq in later
            )
            raise StoreDamaged(
                f"the journal {stretch.path} is damaged at byte {stretch.offset} ({stretch.reason})"
                f" and {following} records follow it, which would be lost: {HINT}"
            )

        return bad


def read_tables(folder: Path, *, salvage: bool = False) -> tuple[files.Tables, Found]:
    """Return every table of ``folder`` and what reading it found, without taking its lock.

    Safe while a server writes to it: its files are never rewritten in place (the snapshot is
    replaced by rename, segments only grow), so the snapshot and the segments after it are the
    acknowledged writes up to some moment. A compaction that replaces the snapshot and removes
    segments while they are read makes the reading start again."""
    for _ in range(ATTEMPTS):
        before = _identity(folder / files.SNAPSHOT)
        tables: files.Tables = {}
        try:
            found = replay(folder, tables.update, partial(files.apply_ops, tables), salvage=salvage)
        except FileNotFoundError:
            continue  # a compaction finished under us; its snapshot has everything
        except StoreDamaged:
            if _identity(folder / files.SNAPSHOT) != before:
                continue  # segments were missing because a new snapshot holds them
            raise
        if salvage and found.problems and _identity(folder / files.SNAPSHOT) != before:
            continue
        return tables, found
    raise StoreDamaged(f"{folder} kept changing while it was read; try again")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns


def create(folder: Path, tables: files.Tables) -> None:
    """Make the new or empty ``folder`` a data folder that holds ``tables``.

    Snapshot, first segment, manifest, in that order: until the manifest is written the folder
    reads as format 1, which the next server to open it upgrades."""
    folder.mkdir(parents=True, exist_ok=True)
    files.write_snapshot(folder, tables, 0, next_record=0)
    os.close(os.open(files.segment_path(folder, 0), os.O_WRONLY | os.O_CREAT, 0o600))
    files.write_manifest(folder)  # fsyncs the folder: the segment's entry too


def sync_segments(folder: Path) -> None:
    """Fsync every journal segment of ``folder`` (records a process wrote but never fsynced,
    inside ``Store.batch()``, before it was killed, or that a running server's open batch
    wrote). Raises StoreUnavailable if the disk refuses."""
    for seq in files.segments(folder):
        path = files.segment_path(folder, seq)
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except FileNotFoundError:
            continue  # a compaction removed it: its fsynced snapshot holds every record
        except OSError as exc:
            raise StoreUnavailable(f"cannot fsync the journal {path}: {exc.strerror}") from exc
