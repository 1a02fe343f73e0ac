"""Failures of a best-effort writer (the request logs of both backends), counted and logged
without flooding the log."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from storage.errors import StoreError

log = logging.getLogger(__name__)


class Failures:
    """A best-effort writer's failures: each one counted, and logged without flooding the
    log (the first at once, then at most one line per ``EVERY`` seconds, with the count)."""

    EVERY = 60.0

    def __init__(self, what: str, clock: Callable[[], float] = time.monotonic):
        self.what = what
        self.count = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._logged_at: float | None = None
        self._since = 0  # failures since the last line

    def record(self, exc: Exception) -> None:
        """Count ``exc``; log it unless a line was logged less than ``EVERY`` seconds ago."""
        with self._lock:
            self.count += 1
            self._since += 1
            now = self._clock()
            if self._logged_at is not None and now - self._logged_at < self.EVERY:
                return
            self._logged_at, since, self._since = now, self._since, 0
        # A full disk or an outage explains itself; anything else is a bug, with its traceback.
        expected = isinstance(exc, (OSError, StoreError))
        log.warning(
            "%s: %d entries not written (%d in all); the last failure: %s",
            self.what,
            since,
            self.count,
            exc,
            exc_info=None if expected else exc,
        )
