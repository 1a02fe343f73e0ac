"""A small in-memory failure throttle: after ``limit`` failures from one key within
``window`` seconds, the key is refused until its oldest failure leaves the window.

Used for SCIM bearer-token failures (per client address) and console sign-ins. It is per
process, which is what one Roster process needs; several processes would share it through
their store.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class Throttle:
    def __init__(self, limit: int, window: float, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def retry_after(self, key: str) -> int:
        """Return the seconds until ``key`` may try again, or 0 if it may now."""
        with self._lock:
            now = self._clock()
            failures = self._recent(key, now)
            if len(failures) < self.limit:
                return 0
            return max(1, math.ceil(failures[0] + self.window - now))

    def fail(self, key: str) -> None:
        """Record one failure of ``key``."""
        with self._lock:
            now = self._clock()
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)

    def reset(self, key: str) -> None:
        """Forget ``key``'s failures (after a success)."""
        with self._lock:
            self._failures.pop(key, None)
