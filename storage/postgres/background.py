"""One background job at a time: the PostgreSQL store's housekeeping (``ANALYZE`` after a bulk
load in ``pg_analyze``, the change feed's pruning in ``pg_events``) runs on a thread of its own,
so that the write that asked for it does not wait, and never twice at once in one process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class BackgroundJob:
    """Runs ``job`` on a thread named ``name``, unless it is running already.

    ``job`` must not raise: it logs its own failures (what is worth a traceback differs by
    job). The thread is not a daemon: a process that ends without closing the store still
    lets a running job finish rather than cutting it off mid-statement."""

    def __init__(self, job: Callable[[], object], name: str):
        self._job = job
        self._name = name
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start the job in the background; return False, starting nothing, if it is running."""
        with self._lock:
            if self._thread is not None:
                return False
            thread = self._thread = threading.Thread(target=self._run, name=self._name)
        thread.start()
        return True

    def _run(self) -> None:
        try:
            self._job()
        finally:
            with self._lock:
                self._thread = None

    def join(self) -> None:
        """Wait for a running job to finish (the store's ``close``)."""
        thread = self._thread
        if thread is not None:
            thread.join()
