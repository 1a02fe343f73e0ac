"""The PostgreSQL store's ``Analyzer`` (``storage.postgres.store``): ``ANALYZE`` run in the
background after a bulk load, so that the planner does not take a freshly filled table for an
empty one. A class of its own: it has its own lock and thread, and shares nothing with the
store but the pool (its thread is a ``storage.postgres.background.BackgroundJob``).
"""

from __future__ import annotations

import logging
import threading

from psycopg_pool import ConnectionPool

from storage.postgres.background import BackgroundJob
from storage.postgres.pg_schema import scalar

# The backend's messages keep one logger name, whichever part of the store logs them.
log = logging.getLogger("storage.postgres.store")


class Analyzer:
    """Keeps the planner's statistics up with a bulk load.

    Right after an IdP's first sync of thousands of users the tables have no statistics until
    autovacuum reaches them (a minute or more), and the planner, taking them for nearly
    empty, answered ``userName eq`` by reading every row of the IdP: 6 ms instead of 0.3 at
    5,000 users, and growing with them. So each process runs ``ANALYZE`` itself, in the
    background, once the rows it inserted since its last one reach a tenth of the table as
    it last saw it, and at least ``LEAST``.
    """

    LEAST = 1000

    def __init__(self, pool: ConnectionPool):
        self._pool = pool
        self._lock = threading.Lock()
        self._since = 0
        self._rows = 0
        self._job = BackgroundJob(self._analyze, "roster-analyze")

    def inserted(self, rows: int = 1) -> None:
        with self._lock:
            self._since += rows
            # While one runs, the rows keep counting towards the next.
            if self._since < max(self.LEAST, self._rows // 10) or not self._job.start():
                return
            self._since = 0

    def _analyze(self) -> None:
        try:
            with self._pool.connection() as conn:
                conn.execute("ANALYZE resources, members")
                rows = conn.execute("SELECT reltuples FROM pg_class WHERE relname = 'resources'")
                self._rows = max(int(scalar(rows)), 0)
        except Exception:  # a closed pool or a lost server: autovacuum still gets there
            log.warning("ANALYZE after a bulk load failed", exc_info=True)

    def wait(self) -> None:
        """Wait for a running ``ANALYZE`` to finish."""
        self._job.join()
