"""A small in-memory failure throttle: after ``limit`` failures from one key within
``window`` seconds, the key is refused until its oldest failure leaves the window.

Used for SCIM bearer-token failures (per client address) and console sign-ins (per address
and username). Kept in memory on purpose: a failed attempt must not cost a durable write, and
a restart forgetting the counts is harmless. Several processes each count their own.

``attempt`` checks and counts in one step (sign-ins, where each check costs a scrypt);
``retry_after`` and ``fail`` are the two steps apart (SCIM tokens, where a check is a digest
lookup and a success must not disturb the failures counted for the address).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable


class Throttle:
    # Past this many keys, a failure also sweeps out keys with no recent failures, bounding the
    # memory a stream of made-up usernames or addresses can take.
    MAX_KEYS = 10_000

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def _wait(self, key: Hashable, now: float) -> int:
        failures = self._recent(key, now)
        if len(failures) < self.limit:
            return 0
        return max(1, math.ceil(failures[0] + self.window - now))

    def _record(self, key: Hashable, now: float) -> None:
        self._failures.setdefault(key, deque()).append(now)
        if len(self._failures) > self.MAX_KEYS:
            for stale in list(self._failures):
                self._recent(stale, now)

    def retry_after(self, key: Hashable) -> int:
        """Return the seconds until ``key`` may try again, or 0 if it may now."""
        with self._lock:
            return self._wait(key, self.clock())

    def fail(self, key: Hashable) -> None:
        """Record one failure of ``key``."""
        with self._lock:
            now = self.clock()
            self._recent(key, now)
            self._record(key, now)

    def attempt(self, key: Hashable) -> int:
        """Let ``key`` try once, counted as a failure until ``reset``: return 0, or the seconds
        to wait (counting nothing) when ``key`` already has ``limit`` failures in the window.

        Checking and counting are one step under the lock: with ``retry_after`` then ``fail``,
        parallel attempts all pass the check before any is counted, and 100 simultaneous
        guesses got 10 to 12 checked instead of 5. Here exactly ``limit`` get through. A caller
        whose attempt succeeds calls ``reset``."""
        with self._lock:
            now = self.clock()
            wait = self._wait(key, now)
            if not wait:
                self._record(key, now)
            return wait

    def reset(self, key: Hashable) -> None:
        """Forget ``key``'s failures (after a success)."""
        with self._lock:
            self._failures.pop(key, None)


def for_app(extensions: dict, name: str, limit: int, window: float) -> Throttle:
    """Return the throttle kept under ``name`` in an app's ``extensions``, creating it once.

    SCIM tokens and API keys share one: bad guesses at either count against the address."""
    throttle = extensions.get(name)
    if throttle is None:
        throttle = extensions.setdefault(name, Throttle(limit, window))
    return throttle
