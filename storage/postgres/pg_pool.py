"""PostgreSQL connections for ``storage.postgres.store``: pools that lend only working
connections, waits with a bound, and the one place where psycopg's failures become storage
errors (``translated``).

A database restart ends every session, but an idle pooled connection shows nothing until it
is used, and then fails the request that used it. So the pool checks each connection before
lending it (``check`` in ``make_pool``): a healthy idle session has nothing to read, so a
look at its socket is enough, and only a connection with something waiting (the server's
goodbye, or the end of the stream) is asked with a round trip. On the first dead one it
sweeps all the idle ones at once: left to psycopg_pool, a request would meet them one by
one, sleeping 1 s, then 2 s… between them.

While the database is down, a request waits at most ``WAIT`` seconds for a connection and
fails with ``StoreUnavailable`` (503 with Retry-After). Meanwhile the pool tries to connect
about once every ``RECONNECT`` seconds, as long as requests wait (``_retry``), so the database
is found again within about that time after it is back, without restarting Roster: a request
that arrived during a short restart is served, not refused.
"""

from __future__ import annotations

import logging
import os
import select
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from storage.errors import OutcomeUnknown, StoreFull, StoreUnavailable
from storage.postgres.pg_schema import scalar

# Seconds a request waits for a connection before it is answered 503.
WAIT = 3.0
# Seconds a request waits for a request-log connection: the log is best effort.
LOG_WAIT = 1.0
# libpq's connect_timeout when the DSN sets none: bounds a connection attempt to a host that
# does not answer (a refused one fails at once). 2 is the least libpq accepts.
CONNECT_TIMEOUT = 2
# Seconds the pool keeps retrying a failed connection in the background before giving it up.
RECONNECT = 1.0
# What a 503 tells the client: a restart takes a few seconds.
RETRY_AFTER = 5
# Seconds ``settle`` waits for a transaction whose session has not yet seen its client go.
SETTLE_WAIT = 2.0

log = logging.getLogger(__name__)


def make_pool(
    dsn: str,
    *,
    name: str,
    min_size: int,
    max_size: int,
    timeout: float,
    configure: Callable[[psycopg.Connection], None],
) -> ConnectionPool:
    """Return a closed pool of autocommit connections to ``dsn`` that checks what it lends."""
    pool: ConnectionPool

    def check(conn: psycopg.Connection) -> None:
        if not _has_input(conn):
            return
        try:
            ConnectionPool.check_connection(conn)
        except psycopg.Error as exc:
            # One session ended by the server: a restart ended the idle others too.
            log.warning("PostgreSQL closed a pooled connection (%s): reconnecting", exc)
            pool.check()
            raise

    pool = ConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        kwargs=connect_options(dsn),
        configure=configure,
        check=check,
        timeout=timeout,
        reconnect_timeout=RECONNECT,
        reconnect_failed=_retry,
        open=False,
        name=name,
    )
    return pool


def _retry(pool: ConnectionPool) -> None:
    """Start a new connection attempt if requests still wait (psycopg_pool starts one when a
    request begins to wait, not while it waits; with no request waiting, none is made)."""
    if pool.get_stats().get("requests_waiting"):
        pool.check()  # with no idle connection to check, this starts an attempt


def connect_options(dsn: str) -> dict:
    """Return the keyword arguments of every connection: autocommit, and a connect timeout
    unless the DSN (or ``PGCONNECT_TIMEOUT``) chooses one."""
    options: dict = {"autocommit": True}
    try:
        chosen = "connect_timeout" in conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        chosen = False  # a malformed DSN fails on connecting, with libpq's own message
    if not chosen and "PGCONNECT_TIMEOUT" not in os.environ:
        options["connect_timeout"] = CONNECT_TIMEOUT
    return options


def _has_input(conn: psycopg.Connection) -> bool:
    """Whether anything waits on the socket of an idle connection.

    It costs no round trip: ``check_connection`` on every loan added 50 to 200 µs here, a few
    times per request, where this adds a few (``bench/pool_check.py``)."""
    try:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN)
    except (psycopg.Error, ValueError, OSError):  # closed: there is no socket to look at
        return True
    return bool(poller.poll(0))


@contextmanager
def translated() -> Iterator[None]:
    """Raise the storage error that names a failure to reach PostgreSQL, for the block."""
    try:
        yield
    except PoolTimeout as exc:
        raise StoreUnavailable(
            f"PostgreSQL is unavailable: {first_line(exc)}", retry_after=RETRY_AFTER
        ) from exc
    except psycopg.OperationalError as exc:
        error = unavailable(exc)
        if error is None:
            raise
        raise error from exc


def unavailable(exc: psycopg.OperationalError) -> StoreUnavailable | None:
    """Return the storage error ``exc`` amounts to, or None when it is no outage.

    Lost or refused connections, a server shutting down or starting up (SQLSTATE class 08 and
    57), lack of resources (53; a full disk is StoreFull), I/O errors (58), lock timeouts (55)
    and serialization failures (40) pass with time. A program limit (54, such as a value too
    big for an index) does not: retrying the same request fails the same way.
    """
    state = exc.sqlstate or ""
    if state.startswith("54"):
        return None
    if isinstance(exc, psycopg.errors.DiskFull):
        return StoreFull(f"PostgreSQL is out of disk space: {first_line(exc)}")
    return StoreUnavailable(
        f"PostgreSQL is unavailable: {first_line(exc)}", retry_after=RETRY_AFTER
    )


def first_line(exc: Exception) -> str:
    """Return the first line of ``exc``'s message (libpq adds hints on further lines)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# A statement that returns once every transaction committed before it is durable: a
# synchronous commit that writes WAL (a transactional logical-decoding message, which any role
# may write at any wal_level and nothing reads), whose flush covers every commit before it. A
# transaction that only has an id would commit asynchronously: it must write something.
DURABLE = "SELECT pg_logical_emit_message(true, 'roster-durable', '')"


def settle(pool: ConnectionPool, xid: str) -> None:
    """Learn what became of transaction ``xid``, whose COMMIT lost its connection.

    Return if it was committed: the write is stored, and is reported as made. Raise
    StoreUnavailable if it was not (nothing is stored; a retry is safe), and OutcomeUnknown if
    that cannot be learnt in time (the database is still down). The write is never run again
    here: had the first COMMIT been applied, a second run would store it twice.
    """
    status = None
    try:
        with pool.connection() as conn:
            deadline = time.monotonic() + SETTLE_WAIT
            status = _status(conn, xid)
            while status == "in progress" and time.monotonic() < deadline:
                time.sleep(0.05)  # its session has yet to notice that its client is gone
                status = _status(conn, xid)
            if status == "committed":
                conn.execute(DURABLE)  # a held write's COMMIT does not wait for the disk
    except (psycopg.Error, PoolTimeout) as exc:
        log.warning("cannot learn whether transaction %s was committed: %s", xid, first_line(exc))
    if status == "committed":
        log.warning("a COMMIT lost its connection but was applied (transaction %s)", xid)
        return
    if status == "aborted":
        raise not_made()
    raise unknown()


def not_made() -> StoreUnavailable:
    """The error of a write whose connection was lost before it was committed."""
    return StoreUnavailable(
        "the connection to PostgreSQL was lost before the write was committed",
        retry_after=RETRY_AFTER,
    )


def unknown() -> OutcomeUnknown:
    """The error of a write whose COMMIT lost its connection, when its fate is unknown."""
    return OutcomeUnknown(
        "the connection to PostgreSQL was lost while a write was being committed;"
        " it may or may not be stored",
        retry_after=RETRY_AFTER,
    )


def _status(conn: psycopg.Connection, xid: str) -> str | None:
    # PostgreSQL 13+: "committed", "aborted" (also when the server crashed before the commit
    # was durable), "in progress", or NULL for a transaction too old to tell.
    return scalar(conn.execute("SELECT pg_xact_status(%s::xid8)", [xid]))
