"""Running the embedded store (a part of ``storage.tinydb.store.TinyStore``, see
``storage.tinydb.base``): health and stats for the probes and metrics, compaction (a new
journal segment, and a snapshot of everything before it written in the background), backup,
closing, and the one-time upgrade of a folder of format 1.

Compaction switches segments under the writer lock, so that no write falls between the
snapshot and the segment after it; the snapshot itself is written outside every lock, from a
frozen shallow copy of the tables (documents are never mutated).
"""

from __future__ import annotations

import threading
from pathlib import Path

from storage.errors import StoreUnavailable
from storage.tinydb import files, journal
from storage.tinydb.base import Base, log
from storage.tinydb.feed import EVENTS, STATE


class Operations(Base):
    """Health, stats, compaction, backup and closing."""

    def health(self) -> str | None:
        return self._readiness.check(self._journal)

    def stats(self) -> dict[str, float]:
        return {
            "journal_bytes": self._journal.size,
            "compactions": self._compactions,
            "compaction_failures": self._compaction_failures,
        }

    def _freeze(self) -> files.Tables:
        """Return a consistent shallow copy of every table (documents are never mutated),
        the change feed's included."""
        with self._view:
            frozen = {name: dict(rows) for name, rows in self._tables.items()}
            events, state = list(self._feed.events), self._feed.state()
        frozen[EVENTS] = self._feed.table(events)
        if state:
            frozen[STATE] = state
        return frozen

    def _start_compaction(self) -> None:
        """Switch to a new journal segment and write a snapshot of everything before it in
        the background. Caller holds ``_lock``, so no write falls between the two."""
        if self._compacting is not None and self._compacting.is_alive():
            return
        if self._journal.broken:
            return  # the folder cannot be trusted any more: leave it as it is
        if self._journal.unsynced:
            return  # a batch's records are not durable yet: switch once it has synced them
        upto, number = self._journal.seq, self._journal.number
        try:
            following = journal.Journal(self.folder, upto + 1, number, self._folder_lock)
        except OSError as exc:
            # The current segment keeps taking writes; the next write tries again.
            log.error("compaction postponed: cannot open the next journal segment: %s", exc)
            return
        frozen = self._freeze()
        self._journal.close()
        self._journal = following
        self._compacting = threading.Thread(
            target=self._compact,
            args=(frozen, upto, number),
            name="roster-compaction",
            daemon=True,
        )
        self._compacting.start()

    def _compact(self, frozen: files.Tables, upto: int, number: int) -> None:
        """Write ``frozen`` as the snapshot, then drop the journal segments it contains."""
        self._compact_error = None
        try:
            lost = self._folder_lock.lost()
            if lost:  # never write a snapshot into the folder of whoever took the path
                raise StoreUnavailable(lost)
            files.write_snapshot(self.folder, frozen, upto + 1, next_record=number)
            for seq in files.segments(self.folder):
                if seq <= upto:
                    files.segment_path(self.folder, seq).unlink(missing_ok=True)
        except (OSError, StoreUnavailable) as exc:
            # The journal still holds every write: nothing is lost, the next compaction retries.
            self._compact_error = exc
            self._compaction_failures += 1
            log.error("compaction failed: %s", exc)
            return
        self._compactions += 1
        log.info("compaction finished: a new snapshot holds the journal up to segment %d", upto)

    def compact(self) -> None:
        """Compact now and wait for it (used at shutdown and by tests)."""
        with self._lock:
            self._start_compaction()
            worker = self._compacting
        if worker is not None:
            worker.join()

    def backup(self, destination: str) -> None:
        dest = Path(destination)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # A batch open on another thread (a /Bulk request) has applied writes whose records
        # are not fsynced yet: a copy must not hold what a machine crash could still take from
        # the store (events whose seqs it would draw again). So, under the writer lock, fsync
        # first: the copy is then a durable state, and the batch's end has less to sync.
        with self._lock:
            published = self._sync()
            frozen = self._freeze()
        if published:
            self._feed.notify()
        files.write_snapshot(dest.parent, frozen, 0, name=dest.name)  # records start at 0

    def close(self) -> None:
        with self._lock:
            if self._compacting is not None:
                self._compacting.join()
            self._journal.close()
            self._folder_lock.release()

    def _upgrade(self) -> None:
        """Bring a folder of format 1 (no manifest, no checksums) to the current format: a
        checksummed snapshot of everything, then the manifest. Once, at the first start."""
        with self._lock:
            self._start_compaction()
            worker = self._compacting
        if worker is None:
            raise StoreUnavailable(f"cannot upgrade the data folder {self.folder}: see the log")
        worker.join()
        if self._compact_error is not None:
            raise StoreUnavailable(
                f"cannot upgrade the data folder {self.folder}: {self._compact_error}"
            )
        files.write_manifest(self.folder)
        log.info("upgraded the data folder %s to format %d", self.folder, files.FORMAT)
