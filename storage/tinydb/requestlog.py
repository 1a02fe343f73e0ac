"""The request log: the last N SCIM requests of each IdP, kept across restarts.

``RequestLog`` keeps it in files beside the TinyDB store (``storage.postgres.requestlog`` keeps
it in the PostgreSQL store, where several processes share it).

JumpCloud shows the admin no server error, so this log is the admin's only diagnosis. It is
kept apart from the store on purpose: an entry is written for every request, reads included,
and must not cost an fsync or grow the journal. Each IdP has a JSON-lines file in
``<data_dir>/requestlog/``; entries are appended (flushed to the OS, not fsynced: a machine
crash may lose the last entries, a process crash does not), and the file is rewritten with the
newest N entries when it reaches 2N, so it stays bounded at amortised O(1) per request.

The log is written after the answer is decided, a write's commit included, and is best
effort: ``append`` never raises. A full disk, a missing folder or a database that is down
costs the entry, not the request; each failure is counted (``failures.count``) and logged, at
most one line a minute (``Failures``).
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections import OrderedDict, deque
from pathlib import Path

from storage.failures import Failures
from storage.interface import SAFE_ID


class RequestLog:
    """Bounded, persistent per-IdP request logs in a folder.

    The files of the ``OPEN`` most recently logged IdPs stay open for appending: opening and
    closing one per request cost a quarter of a millisecond, and made the store's next fsync
    slower (ext4 commits the closed file's metadata with it)."""

    OPEN = 8
    in_store = False  # the files outlive an unavailable store (and show what it answered)

    def __init__(self, folder: str | Path, size: int):
        self.folder = Path(folder)
        self.size = size
        self.failures = Failures(f"request log in {self.folder}")
        self._lock = threading.Lock()
        self._entries: dict[str, deque] = {}
        self._lines: dict[str, int] = {}
        self._stale: set[str] = set()  # IdPs whose file missed an entry or holds a torn line
        self._folder_made = False
        self._files: OrderedDict[str, int] = OrderedDict()  # idp -> descriptor, LRU
        # Descriptors, not file objects: nothing buffers a line, and nothing warns when the
        # log is dropped without close() (an app in a test); the finalizer closes them.
        self._finalizer = weakref.finalize(self, _close_all, self._files)

    def _path(self, idp: str) -> Path:
        return self.folder / f"{idp}.jsonl"

    def _load(self, idp: str) -> deque:
        entries = self._entries.get(idp)
        if entries is None:
            entries = deque(maxlen=self.size)
            lines = 0
            try:
                with open(self._path(idp), encoding="utf-8") as handle:
                    for line in handle:
                        lines += 1
                        try:
                            entries.append(json.loads(line))
                        except ValueError:
                            continue  # a torn last line after a crash
            except FileNotFoundError:
                pass
            self._entries[idp], self._lines[idp] = entries, lines
        return entries

    def append(self, idp: str, entry: dict) -> None:
        """Record one request of ``idp`` (an id that is not a plain token is ignored).

        Never raises. An entry the disk refused is still kept in memory (and shown); the file
        is rewritten from memory by the next append that succeeds."""
        if not SAFE_ID.match(idp):
            return
        try:
            line = json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n"
            with self._lock:
                entries = self._load(idp)
                entries.append(entry)
                self._write(idp, entries, line.encode("utf-8"))
        except Exception as exc:  # best effort: see the module docstring
            self.failures.record(exc)

    def _write(self, idp: str, entries: deque, line: bytes) -> None:
        """Append ``line`` to ``idp``'s file, or rewrite it (caller holds ``_lock``)."""
        try:
            if not self._folder_made:  # once per process, not once per request
                self.folder.mkdir(parents=True, exist_ok=True)
                self._folder_made = True
            if idp in self._stale or self._lines[idp] + 1 >= 2 * self.size:
                self._rewrite(idp, entries)
            elif os.write(self._file(idp), line) < len(line):
                raise OSError(f"{self._path(idp)}: short write (is the disk full?)")
            else:
                self._lines[idp] += 1
        except OSError:
            # A torn line may be left behind, or the folder may be gone: start again next time.
            self._stale.add(idp)
            self._drop_file(idp)
            self._folder_made = False
            raise

    def _file(self, idp: str) -> int:
        """The descriptor ``idp``'s log is appended through (caller holds ``_lock``)."""
        fd = self._files.get(idp)
        if fd is None:
            fd = os.open(self._path(idp), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._files[idp] = fd
            if len(self._files) > self.OPEN:
                os.close(self._files.popitem(last=False)[1])
        self._files.move_to_end(idp)
        return fd

    def _drop_file(self, idp: str) -> None:
        fd = self._files.pop(idp, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        """Close the open log files (appending reopens them)."""
        with self._lock:
            _close_all(self._files)

    def _rewrite(self, idp: str, entries: deque) -> None:
        self._drop_file(idp)  # the file is replaced: the next append opens the new one
        tmp = self._path(idp).with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            for entry in entries:
                handle.write(json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n")
        os.replace(tmp, self._path(idp))
        self._lines[idp] = len(entries)
        self._stale.discard(idp)

    def entries(self, idp: str, *, errors_only: bool = False, limit: int | None = None) -> list:
        """Return ``idp``'s entries, newest first."""
        if not SAFE_ID.match(idp):
            return []
        with self._lock:
            found = [e for e in reversed(self._load(idp)) if not errors_only or e["status"] >= 400]
        return found[:limit] if limit is not None else found

    def forget(self, idp: str) -> None:
        """Delete ``idp``'s log (when the IdP itself is deleted)."""
        if not SAFE_ID.match(idp):
            return
        with self._lock:
            self._entries.pop(idp, None)
            self._lines.pop(idp, None)
            self._stale.discard(idp)
            self._drop_file(idp)
            self._path(idp).unlink(missing_ok=True)


def _close_all(files: dict[str, int]) -> None:
    while files:
        os.close(files.popitem()[1])
