"""A textual progress bar on stderr, for the long phases of the benchmark (stdlib only)."""

from __future__ import annotations

import sys
import time


class Progress:
    """``with Progress("preload", total) as bar: bar.advance()``; redraws at most 10 times a
    second, and only on a terminal (a log file gets one line per phase)."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream=None):
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.started = time.perf_counter()
        self._drawn = 0.0

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.live and (now - self._drawn >= 0.1 or self.done >= self.total):
            self._drawn = now
            self._draw(now, end="")

    def _draw(self, now: float, end: str) -> None:
        filled = int(self.WIDTH * min(self.done / self.total, 1.0))
        bar = "#" * filled + "." * (self.WIDTH - filled)
        elapsed = now - self.started
        line = f"{self.label:<34} [{bar}] {self.done:>7}/{self.total:<7} {elapsed:6.1f}s"
        self.stream.write(("\r" if self.live else "") + line + end)
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self._draw(time.perf_counter(), end="\n")
