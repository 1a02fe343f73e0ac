"""Sign-in throttling: at most ``limit`` failures per ``window`` for one address and username.

Kept in memory on purpose: one process serves the console, a restart forgetting the count is
harmless, and a failed sign-in must not cost a durable write.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class Throttle:
    """Count recent failures per key and say how long a key must wait."""

    def __init__(
        self, limit: int = 5, window: float = 300.0, clock: Callable[[], float] = time.monotonic
    ):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[tuple, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple, now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def wait(self, key: tuple) -> int:
        """Return the whole seconds ``key`` must wait before its next attempt (0: go ahead)."""
        with self._lock:
            now = self.clock()
            failures = self._recent(key, now)
            if len(failures) < self.limit:
                return 0
            return max(1, math.ceil(failures[0] + self.window - now))

    def failed(self, key: tuple) -> None:
        """Record a failed attempt of ``key``."""
        with self._lock:
            now = self.clock()
            self._failures[key] = self._recent(key, now)
            self._failures[key].append(now)
            if len(self._failures) > 10_000:
                self._forget_stale(now)

    def succeeded(self, key: tuple) -> None:
        """Forget ``key``'s failures: the admin got in."""
        with self._lock:
            self._failures.pop(key, None)

    def _forget_stale(self, now: float) -> None:
        # Bound the memory a stream of made-up usernames can take.
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
