"""The PostgreSQL store's connections and transactions (``storage.postgres.store``): the
``Transactions`` base every other part of the store builds on.

A write runs in ``_transaction``: one transaction, holding its IdP's advisory lock exclusively
(deletes) or shared (creates and updates, whose statements are held and sent together:
``Held``), and settled through
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
from typing import Any, cast

import psycopg
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg_pool import ConnectionPool

from storage.postgres import pg_events, pg_pool
from storage.postgres.pg_schema import scalar

# classid of pg_advisory_xact_lock(classid, hashtext(idp)): keeps our locks apart from others'.
TENANT_LOCK = 0x526F73
IDLE = TransactionStatus.IDLE
TUPLES_OK = ExecStatus.TUPLES_OK


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
        (``shared``: in shared mode, for writes that add or change but never remove; their
        statements are held and sent together, ``_buffered``).

        When the connection is lost during the COMMIT, the block returns if the transaction
        was committed after all, and raises StoreUnavailable if it was not, OutcomeUnknown
        if that cannot be learnt (``pg_pool.settle``). A held write may lose its connection
        before its transaction's id came back: ``proof()`` then settles it (None:
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
            try:
                run = self._buffered if shared else self._plain
                with run(conn, idp, state) as used:
                    self._local.conn = used
                    # A Held stands in for the connection: the writes use only what it has.
                    yield cast(psycopg.Connection, used)
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
    def _plain(
        self, conn: psycopg.Connection, idp: str | None, state: dict
    ) -> Iterator[psycopg.Connection]:
        """One transaction whose statements each wait for their answer (a delete reads what
        each did)."""
        with conn.transaction():
            state["xid"] = scalar(self._begin(conn, idp))
            yield conn
            state["committing"] = True

    @contextmanager
    def _buffered(self, conn: psycopg.Connection, idp: str | None, state: dict) -> Iterator[Held]:
        """One transaction whose statements are held (``Held``) and sent together as one
        simple query: BEGIN, the lock, the block's statements, the COMMIT and the wait for
        the disk go out at the end in one message, and the connection waits once for all
        their answers (and once more for each read the block makes, which sends what is held
        before it). Sent one by one, even in a pipeline, each statement cost the request
        thread a send and two polls and PostgreSQL a wake-up: about 0.17 ms of Roster's CPU
        per write (``bench/pgcpu.py``)."""
        conn.autocommit = True  # an idle connection: no round trip; BEGIN is explicit below
        held = Held(conn)
        xid = None
        try:
            held.execute("BEGIN")
            xid = self._begin(held, idp, shared=True, lazy=True)
            yield held
            held.execute("COMMIT")
            state["committing"] = True
            if not self._batched():  # a batch's end waits, once for all
                held.execute(pg_pool.DURABLE)
            held.send()
        except BaseException:
            # An error of the block or of a statement leaves the transaction open or
            # failed: end it before the connection goes back to the pool.
            if not conn.broken and conn.info.transaction_status != IDLE:
                conn.execute("ROLLBACK")
            raise
        finally:
            state["xid"] = xid.received() if xid is not None else None
            if not conn.broken:
                conn.autocommit = False

    def _begin(self, conn: Any, idp: str | None, shared: bool = False, lazy: bool = False) -> Any:
        """Take ``idp``'s lock (if given); the cursor's row is the transaction's id, by which
        ``pg_pool.settle`` asks what became of it (one round trip either way).

        ``lazy`` (and inside ``batch()``): the COMMIT does not wait for the WAL flush. A
        held write then waits for it in a statement of its own after the COMMIT, in the
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


class Pending:
    """A statement ``Held`` until it is sent: its rows are read once it was."""

    def __init__(self, owner: Held):
        self._owner = owner
        self._sent = False
        self._rows: list | None = None
        self._rowcount = -1

    def _answered(self, cursor: psycopg.ClientCursor) -> None:
        self._sent = True
        self._rowcount = cursor.rowcount
        if cursor.pgresult is not None and cursor.pgresult.status == TUPLES_OK:
            self._rows = cursor.fetchall()

    def _result(self) -> list:
        if not self._sent:
            self._owner.send()  # a read: what is held before it goes with it
        if self._rows is None:
            raise psycopg.ProgrammingError("the statement returned no rows")
        return self._rows

    def fetchone(self) -> Any:
        rows = self._result()
        return rows[0] if rows else None

    def fetchall(self) -> list:
        return self._result()

    @property
    def rowcount(self) -> int:
        if not self._sent:
            self._owner.send()
        return self._rowcount

    def received(self) -> Any:
        """The first value of the first row if the statement's answer came back, else None."""
        return self._rows[0][0] if self._sent and self._rows else None


class Held:
    """A connection for one transaction whose statements are held, then sent together.

    ``execute`` binds the parameters on the client (psycopg's ``ClientCursor``: the same
    adapters, literals quoted by libpq) and keeps the statement; ``send`` sends everything
    held as one simple query, whose statements PostgreSQL runs in order, stopping at the
    first error (raised here, as the pipeline raised it at its end). A read sends what is held
    before it. Savepoints (``transaction``) and cursors work as on a connection; anything
    else is the connection's."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self._cursor = psycopg.ClientCursor(conn)
        self._held: list[tuple[str, Pending]] = []
        self._savepoints = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    @property
    def info(self) -> Any:
        # In a transaction from its first statement, sent or held (pg_feed asks).
        return _InTransaction

    def execute(self, query: str, params: Any = None) -> Pending:
        plain = params is None and isinstance(query, str)
        text = query if plain else self._cursor.mogrify(query, params)
        pending = Pending(self)
        self._held.append((text, pending))
        return pending

    def executemany(self, query: str, params_seq: Any) -> None:
        for params in params_seq:
            self.execute(query, params)

    def cursor(self) -> Held:
        return self

    def __enter__(self) -> Held:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @contextmanager
    def transaction(self) -> Iterator[Held]:
        """A savepoint: the block's statements are undone if it raises."""
        self._savepoints += 1
        name = f"roster_{self._savepoints}"
        self.execute(f"SAVEPOINT {name}")
        try:
            yield self
        except BaseException:
            self.execute(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        self.execute(f"RELEASE SAVEPOINT {name}")

    def send(self) -> None:
        """Send what is held, in one message; read each statement's answer."""
        if not self._held:
            return
        held, self._held = self._held, []
        cursor = self._cursor
        cursor.execute(";\n".join(text for text, _ in held))
        for n, (_, pending) in enumerate(held):
            if n:
                cursor.nextset()
            pending._answered(cursor)


class _InTransaction:
    transaction_status = TransactionStatus.INTRANS
