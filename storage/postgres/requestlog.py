"""The request log in the PostgreSQL store: the same log as ``storage.tinydb.requestlog``
(read its docstring), in the ``request_log`` table that every process shares. It is best
effort in the same way: ``append`` never raises, a failure is counted and logged.

The writer behind the requests (``storage.behind``) hands it what queued meanwhile through
``append_many``: one statement for all of them, where a statement (and a commit) per entry
cost each POST about 0.15 ms of Roster's CPU and 0.1 ms of PostgreSQL's (``bench/pgcpu.py``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import psycopg
from psycopg.types.json import Jsonb

from storage.errors import StoreError
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

    def append_many(self, items: list[tuple[str, dict]]) -> None:
        """Record several requests, ``(idp, entry)`` in the order they were answered, in one
        statement. Never raises, like ``append``."""
        wanted = [(idp, entry) for idp, entry in items if SAFE_ID.match(idp)]
        if not wanted:
            return
        try:
            self._insert_many(wanted)
        except (StoreError, psycopg.OperationalError) as exc:
            # The database is out of reach: each entry is lost, as it would have been alone.
            for _ in wanted:
                self.failures.record(exc)
        except Exception:  # one entry the database refuses must not cost the others theirs
            for idp, entry in wanted:
                self.append(idp, entry)

    def _insert(self, idp: str, entry: dict) -> None:
        self._insert_many([(idp, entry)])

    def _insert_many(self, items: list[tuple[str, dict]]) -> None:
        counts: dict[str, int] = {}
        for idp, _ in items:
            counts[idp] = counts.get(idp, 0) + 1
        with self._store().log_connection() as conn:
            # Rows take their seq in the order given (ORDER BY n), so the log keeps the order
            # in which the requests were answered.
            conn.execute(
                "INSERT INTO request_log (idp, status, entry) SELECT idp, status, entry"
                " FROM unnest(%s::text[], %s::int[], %s::jsonb[]) WITH ORDINALITY"
                " AS x(idp, status, entry, n) ORDER BY n",
                [
                    [idp for idp, _ in items],
                    [entry["status"] for _, entry in items],
                    [Jsonb(entry) for _, entry in items],
                ],
            )
            for idp in self._due_for_trim(counts):
                conn.execute(
                    "DELETE FROM request_log WHERE idp = %s AND seq <= (SELECT seq FROM"
                    " request_log WHERE idp = %s ORDER BY seq DESC OFFSET %s LIMIT 1)",
                    [idp, idp, self.size],
                )

    def _due_for_trim(self, counts: dict[str, int]) -> list[str]:
        """Count ``counts`` more appends per IdP; return the IdPs that crossed a multiple of
        ``_trim_every`` (each trims once, however many entries it brought)."""
        due = []
        with self._lock:
            for idp, added in counts.items():
                before = self._appended.get(idp, 0)
                self._appended[idp] = before + added
                if (before + added) // self._trim_every > before // self._trim_every:
                    due.append(idp)
        return due

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
