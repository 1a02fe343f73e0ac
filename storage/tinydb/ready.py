"""Whether the data folder can take writes (``Store.health``, which ``/readyz`` asks), cheaply
enough for a probe every few seconds.

The cheap checks come first and touch no file: the journal broken by a failed fsync, the folder
moved or replaced (``FolderLock.lost``), a read-only file system (``statvfs``: a read-only
remount, also of a bind mount). A journal write that the disk took recently then vouches for the
rest; only when none did (an idle server), or the last one was refused (a full disk, an I/O
error: has it been fixed?), is a small file written and removed, as the journal would write.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

from storage.tinydb.files import FolderLock
from storage.tinydb.journal import Journal

# Seconds a write the disk took (a journal record, or a probe's file) vouches for the folder.
FRESH = 10.0


class Readiness:
    """The readiness of one store's data folder; ``check`` may run on several threads."""

    def __init__(self, folder: Path, lock: FolderLock):
        self.folder = folder
        self._lock = lock
        self.probed_at: float | None = None  # when a probe file was last written

    def check(self, journal: Journal) -> str | None:
        """Return None when the folder can take writes, else why not (no path: a probe's
        answer is public, see ``monitoring.probes``)."""
        if journal.broken:
            return "the journal refuses writes since one failed (restart Roster once fixed)"
        if self._lock.lost() is not None:
            if not self.folder.exists():
                return "the data folder is missing"
            return "the data folder was moved or replaced"
        try:
            read_only = os.statvfs(self.folder).f_flag & os.ST_RDONLY
        except OSError as exc:
            return f"the data folder cannot be read ({exc.strerror})"
        if read_only:
            return f"the data folder cannot be written ({os.strerror(errno.EROFS)})"
        now = time.monotonic()
        vouched = _within(journal.written_at, now) or _within(self.probed_at, now)
        if vouched and journal.refused is None:
            return None
        return self._probe(now)

    def _probe(self, now: float) -> str | None:
        # A real write, as a full disk or a failing device refuses it (statvfs and access()
        # would not tell). Per thread, so that probes running together never collide.
        probe = self.folder / f".ready-{threading.get_ident()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"ready\n")
            finally:
                os.close(fd)
                probe.unlink(missing_ok=True)
        except OSError as exc:
            self.probed_at = None
            return f"the data folder cannot be written ({exc.strerror})"
        self.probed_at = now
        return None


def _within(then: float | None, now: float) -> bool:
    return then is not None and now - then < FRESH
