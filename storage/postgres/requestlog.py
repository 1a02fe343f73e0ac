"""The request log in the PostgreSQL store: the same log as ``storage.tinydb.requestlog``
(read its docstring), in the ``request_log`` table that every process shares. It is best
effort in the same way: ``append`` never raises, a failure is counted and logged."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from psycopg.types.json import Jsonb

from storage.failures import Failures
from storage.interface import SAFE_ID

if TYPE_CHECKING:
    from storage.postgres.store import PostgresStore


class DatabaseRequestLog:
    """The same log in the PostgreSQL store's ``request_log`` table, shared by every process.

    Entries are committed without waiting for the WAL flush (``PostgresStore.log_connection``):
    as with the files, a machine crash may lose the last entries and a request never waits for
    a disk. Each process trims an IdP's oldest rows after every ``size // 10`` appends, so the
    table holds at most about ``size`` rows per IdP plus what the processes appended since;
    reads never show more than the newest ``size``.
    """

    in_store = True  # when the store has just failed, the log is not tried (it would wait again)

    def __init__(self, store: Callable[[], PostgresStore], size: int):
        self._store = store  # resolved on first use: the store opens lazily
        self.size = size
        self.failures = Failures("request log in PostgreSQL")
        self._trim_every = max(size // 10, 1)
        self._appended: dict[str, int] = {}
        self._lock = threading.Lock()

    def append(self, idp: str, entry: dict) -> None:
        """Record one request of ``idp`` (an id that is not a plain token is ignored).

        Never raises (see the module docstring)."""
        if not SAFE_ID.match(idp):
            return
        try:
            self._insert(idp, entry)
        except Exception as exc:  # best effort: see the module docstring
            self.failures.record(exc)

    def _insert(self, idp: str, entry: dict) -> None:
        with self._lock:
            appended = self._appended[idp] = self._appended.get(idp, 0) + 1
        with self._store().log_connection() as conn:
            conn.execute(
                "INSERT INTO request_log (idp, status, entry) VALUES (%s, %s, %s)",
                [idp, entry["status"], Jsonb(entry)],
            )
            if appended % self._trim_every == 0:
                conn.execute(
                    "DELETE FROM request_log WHERE idp = %s AND seq <= (SELECT seq FROM"
                    " request_log WHERE idp = %s ORDER BY seq DESC OFFSET %s LIMIT 1)",
                    [idp, idp, self.size],
                )

    def entries(self, idp: str, *, errors_only: bool = False, limit: int | None = None) -> list:
        """Return ``idp``'s entries, newest first."""
        if not SAFE_ID.match(idp):
            return []
        wanted = self.size if limit is None else min(limit, self.size)
        errors = "WHERE status >= 400" if errors_only else ""
        with self._store().connection() as conn:
            rows = conn.execute(
                "SELECT entry FROM (SELECT seq, status, entry FROM request_log WHERE idp = %s"
                f" ORDER BY seq DESC LIMIT %s) newest {errors} ORDER BY seq DESC LIMIT %s",
                [idp, self.size, wanted],
            ).fetchall()
        return [row[0] for row in rows]

    def forget(self, idp: str) -> None:
        """Delete ``idp``'s log (when the IdP itself is deleted)."""
        with self._store().connection() as conn:
            conn.execute("DELETE FROM request_log WHERE idp = %s", [idp])
