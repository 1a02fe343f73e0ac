"""The PostgreSQL store's connections and transactions (``storage.postgres.store``): the
``Transactions`` base every other part of the store builds on.

A write runs in ``_transaction``: one transaction, holding its IdP's advisory lock exclusively
(deletes) or shared (creates and updates, sent as a pipeline), and settled through
``pg_pool.settle`` when its COMMIT loses its connection. Reads take ``connection``: the
thread's transaction connection if it has one (``atomic``, or a write's ``prepare``), else a
pooled one in autocommit. ``batch`` defers the WAL flush of a thread's writes to the block's
end. These live apart from the store's data because every other part (resources, records,
the change feed, the audit trail) goes through them, and their locking is the backend's
concurrency: see ``storage.postgres.store``'s docstring.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from storage.postgres import pg_events, pg_pool
from storage.postgres.pg_schema import scalar

# classid of pg_advisory_xact_lock(classid, hashtext(idp)): keeps our locks apart from others'.
TENANT_LOCK = 0x526F73
IDLE = TransactionStatus.IDLE
# psycopg's default: a statement run this many times on a connection is prepared there.
PREPARE_THRESHOLD = 5


class Transactions:
    """Connections and transactions for ``PostgresStore`` (which opens the pools)."""

    _local: threading.local  # ``conn``: the thread's transaction; ``batch``; ``fresh``
    _pool: ConnectionPool
    _log_pool: ConnectionPool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """Yield this thread's transaction connection if it has one, else a pooled one in
        autocommit: each statement is its own transaction, and a read costs one round trip
        (not a second for the COMMIT of the transaction it would otherwise open)."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with pg_pool.translated(), self._pool.connection() as conn:
            conn.autocommit = True  # a loaned connection is idle: no round trip
            try:
                yield conn
            finally:
                if not conn.broken:
                    conn.autocommit = False

    @contextmanager
    def log_connection(self) -> Iterator[psycopg.Connection]:
        """Yield a connection whose commits do not wait for the disk (``synchronous_commit``
        off), for the request log alone: a crash may lose its last entries, never the store's
        writes, and a request never waits on a WAL flush for its log line."""
        with pg_pool.translated(), self._log_pool.connection() as conn:
            yield conn

    @contextmanager
    def _transaction(
        self, idp: str | None = None, *, shared: bool = False, proof: Callable | None = None
    ) -> Iterator[psycopg.Connection]:
        """Run the block in one transaction (a savepoint when nested), holding ``idp``'s lock
        (``shared``: in shared mode, for writes that add or change but never remove; they are
        pipelined, so the block must not read a statement's rowcount).

        When the connection is lost during the COMMIT, the block returns if the transaction
        was committed after all, and raises StoreUnavailable if it was not, OutcomeUnknown
        if that cannot be learnt (``pg_pool.settle``). A pipelined write may lose its
        connection before its transaction's id came back: ``proof()`` then settles it (None:
        OutcomeUnknown)."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            with current.transaction():
                if idp is not None:
                    self._lock_tenant(current, idp)
                yield current
            return
        state: dict = {}
        with pg_pool.translated(), self._pool.connection() as conn:
            self._local.conn = conn
            try:
                run = self._pipelined if shared else self._plain
                with run(conn, idp, state):
                    yield conn
            except psycopg.OperationalError:
                if not (state.get("committing") and conn.broken):
                    raise
            else:
                return
            finally:
                self._local.conn = None
                self._local.fresh = ()
        if state.get("xid") is not None:
            pg_pool.settle(self._pool, state["xid"])
        elif proof is not None:
            proof()
        else:
            raise pg_pool.unknown()

    @contextmanager
    def _plain(self, conn: psycopg.Connection, idp: str | None, state: dict) -> Iterator[None]:
        """One transaction whose statements each wait for their answer (a delete reads what
        each did)."""
        with conn.transaction():
            state["xid"] = scalar(self._begin(conn, idp))
            yield
            state["committing"] = True

    @contextmanager
    def _pipelined(self, conn: psycopg.Connection, idp: str | None, state: dict) -> Iterator[None]:
        """One transaction sent as a pipeline: BEGIN, the lock, the block's statements and the
        COMMIT go out as they come, and the connection waits once, at the end, for all their
        answers (and once for each read the block makes). psycopg's own transaction block
        would wait after its BEGIN and before its COMMIT: the commands are ours here."""
        conn.autocommit = True  # an idle connection: no round trip; BEGIN is explicit below
        # Nothing is prepared in the pipeline: a statement psycopg prepares there (on its fifth
        # run) after one that failed is skipped by the server, and psycopg, which believes it
        # prepared, then names a statement the server never had.
        conn.prepare_threshold = None
        xid = None
        try:
            with conn.pipeline():
                conn.execute("BEGIN")
                xid = self._begin(conn, idp, shared=True, lazy=True)
                yield
                conn.execute("COMMIT")
                state["committing"] = True
                if not self._batched():  # a batch's end waits, once for all
                    conn.execute(pg_pool.DURABLE)
        except BaseException:
            # An error of the block or of a statement leaves the transaction open or
            # failed: end it before the connection goes back to the pool.
            if not conn.broken and conn.info.transaction_status != IDLE:
                conn.execute("ROLLBACK")
            raise
        finally:
            state["xid"] = _received(xid)
            conn.prepare_threshold = PREPARE_THRESHOLD
            if not conn.broken:
                conn.autocommit = False

    def _begin(
        self, conn: psycopg.Connection, idp: str | None, shared: bool = False, lazy: bool = False
    ) -> psycopg.Cursor:
        """Take ``idp``'s lock (if given); the cursor's row is the transaction's id, by which
        ``pg_pool.settle`` asks what became of it (one round trip either way).

        ``lazy`` (and inside ``batch()``): the COMMIT does not wait for the WAL flush. A
        pipelined write then waits for it in a statement of its own after the COMMIT, in the
        same round trip (``pg_pool.DURABLE``; a batch's end does it once for all): so the
        flush happens after the feed's lock (``pg_events``) is released, and the flushes of
        concurrent writers are one (PostgreSQL's group commit), where a synchronous COMMIT
        would flush while holding the lock and writers that record events took turns on the
        disk. The write is visible a moment before it is durable; its client is answered
        only once it is, and a reader of events makes what it shows durable first
        (``pg_events.make_durable``)."""
        lazy = lazy or self._batched()
        off = ", set_config('synchronous_commit', 'off', true)" if lazy else ""
        if idp is None:
            return conn.execute(f"SELECT pg_current_xact_id()::text{off}")
        lock = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        return conn.execute(
            f"SELECT pg_current_xact_id()::text{off} FROM {lock}(%s, hashtext(%s))",
            [TENANT_LOCK, idp],
        )

    def _batched(self) -> bool:
        return bool(getattr(self._local, "batch", 0))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make this thread's writes inside the block durable together (``Store.batch``)."""
        self._local.batch = getattr(self._local, "batch", 0) + 1
        try:
            yield
        finally:
            self._local.batch -= 1
            if not self._local.batch:
                with self.connection() as conn:
                    pg_events.make_durable(conn)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Run this thread's writes inside the block in one transaction (``Store.atomic``):
        every write method joins the thread's transaction (a savepoint each), and the audit
        trail's statements run on it too (``connection``)."""
        with self._transaction():
            yield

    @staticmethod
    def _lock_tenant(conn: psycopg.Connection, idp: str) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [TENANT_LOCK, idp])


def _received(cursor: psycopg.Cursor | None) -> str | None:
    """The transaction id a pipelined ``_begin`` asked for, if its answer came back."""
    if cursor is None or cursor.pgresult is None:
        return None
    try:
        row = cursor.fetchone()
    except psycopg.Error:
        return None
    return row[0] if row else None
