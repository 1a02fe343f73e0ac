"""The PostgreSQL backend: the same contract as ``storage.tinydb.store``, shared by several
Roster processes through one database (tables in ``storage.postgres.pg_schema``).

Concurrency. Every write is one transaction. Resource writes of an IdP first take a
transaction-level advisory lock on the IdP, in one of two modes. Deletes (of a resource or of
the whole IdP) take it exclusively; creates and updates share it. So a Group cannot gain a
member that a concurrent delete removes (its ``prepare`` checks the member under the shared
lock, which the delete waits for), while creates and updates of one IdP never wait for each
other on it: uniqueness does not rely on the lock (unique indexes decide it, so a duplicate is
refused whoever writes it), and two updates of one resource take turns on its row
(``SELECT … FOR UPDATE``). A multi-operation PATCH lands whole or not at all: it is one
transaction. Reads take no lock; a listing
reads its total and its page in one statement, so from one snapshot.

Reads that ``prepare`` or ``change`` make (``existing_ids`` while checking members) run on the
transaction's own connection, found through a thread-local, so they see the transaction's
state and never wait for a second connection from the pool.

Outages. Connections come from ``storage.postgres.pg_pool``, which checks them before lending
them and bounds every wait; a failure to reach the database raises StoreUnavailable
(``translated``). A write whose COMMIT loses its connection is never run again here (it might
be stored twice): the database is asked what became of its transaction (``pg_pool.settle``).

Change events (``scim.core.events``) are written in the same transaction as the change, by
``storage.postgres.pg_events``, which also says how they stay in seq order across processes.

The store is composed of parts, one module each, over one base:

- ``pg_tx``: ``Transactions``, connections and transactions (the locking above), ``batch``
  and ``atomic``;
- ``pg_reads``: ``Reads``, resource reads and listings;
- ``pg_records``: ``Records``, the records table (IdPs, tokens, holds, webhooks, …);
- ``pg_feed``: ``Feed``, the change feed's events drafted, recorded and read;
- ``pg_writes``: ``Writes``, resource writes and the deletion of an IdP;
- ``pg_audit``: ``Audit``, the audit trail;
- ``pg_analyze``: ``Analyzer``, ``ANALYZE`` after a bulk load.

This module opens the pools and holds what concerns the store as a whole: its start (the
schema's migrations), the feed's pruning, health, backup and close.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import PoolTimeout

from scim.core import jsonio
from storage.errors import StoreUnavailable
from storage.interface import Store
from storage.postgres import pg_events, pg_pool, pg_schema
from storage.postgres.pg_analyze import Analyzer
from storage.postgres.pg_audit import Audit
from storage.postgres.pg_schema import one
from storage.postgres.pg_tx import TENANT_LOCK
from storage.postgres.pg_writes import Writes
from storage.stamps import cutoff

# What other modules import from here.
__all__ = ["TENANT_LOCK", "Analyzer", "PostgresStore", "describe"]

# Connections of the request log's own pool (see log_connection).
LOG_CONNECTIONS = 4
# Seconds a health check waits for a connection: a probe must answer, not hang.
HEALTH_TIMEOUT = 2.0


def describe(dsn: str) -> str:
    """Return ``dsn`` without its password, for messages."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "the configured database_url"
    host = parts.get("host") or "localhost"
    return f"{parts.get('user', '')}@{host}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


class PostgresStore(Writes, Audit):
    """A ``storage.interface.Store`` in a PostgreSQL database."""

    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int = 10,
        connect_timeout: int = 10,
        retention_days: float = 30,
        record_events: bool = True,
    ):
        self.dsn = dsn
        self._local = threading.local()
        self._retention = timedelta(days=retention_days)
        # Off only for the benchmark, which measures what recording events costs.
        self._record_events = record_events
        self._listener: pg_events.Listener | None = None
        self._listening = threading.Lock()
        self.pruner = pg_events.Pruner(self.prune_events)
        self._pool = pg_pool.make_pool(
            dsn,
            name="roster",
            min_size=1,
            max_size=max(pool_size, 2),
            timeout=pg_pool.WAIT,
            configure=_use_fast_json,
        )
        self.analyzer = Analyzer(self._pool)
        # Connects on first use: a store that never logs a request never connects it.
        self._log_pool = pg_pool.make_pool(
            dsn,
            name="roster-log",
            min_size=0,
            max_size=LOG_CONNECTIONS,
            timeout=pg_pool.LOG_WAIT,
            configure=_without_commit_wait,
        )
        options = pg_pool.connect_options(dsn)
        if "connect_timeout" in options:
            options["connect_timeout"] = max(connect_timeout, pg_pool.CONNECT_TIMEOUT)
        try:
            # A connection of its own first: a database that is down fails here at once, with
            # libpq's reason, instead of after the pool's wait.
            with psycopg.connect(dsn, **options) as conn:
                _use_fast_json(conn)
                pg_schema.migrate(conn)
            self._pool.open()
            self._log_pool.open()
        except (psycopg.Error, RuntimeError) as exc:
            self.close()
            raise StoreUnavailable(
                f"cannot use PostgreSQL at {describe(dsn)}: {pg_pool.first_line(exc)}",
                retry_after=pg_pool.RETRY_AFTER,
            ) from None

    # --- the change feed's retention -------------------------------------------------------

    def prune_events(self) -> int:
        # Beside the store's retention (``cutoff`` of it), and the pruner that calls it.
        with pg_pool.translated(), self._pool.connection() as conn:
            return pg_events.prune(conn, cutoff(self._retention))

    # --- operations ------------------------------------------------------------------------

    def health(self) -> str | None:
        try:
            with self._pool.connection(timeout=HEALTH_TIMEOUT) as conn:
                recovering, read_only = one(
                    conn.execute(
                        "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')"
                    )
                )
        except (PoolTimeout, psycopg.Error):
            return "the database does not answer"
        if recovering or read_only == "on":
            return "the database is read-only"
        return None

    def stats(self) -> dict[str, float]:
        return {}

    # --- lifecycle -------------------------------------------------------------------------

    def backup(self, destination: str) -> None:
        from storage import migrate

        migrate.write_snapshot_file(migrate.read_tables(self), destination)

    def close(self) -> None:
        self.analyzer.wait()
        self.pruner.wait()
        if self._listener is not None:
            self._listener.close()
        self._log_pool.close()
        self._pool.close()


def _use_fast_json(conn: psycopg.Connection) -> None:
    """JSONB in and out through orjson (``scim.core.jsonio``): a 10,000-member group's document
    is encoded and decoded on every membership change."""
    set_json_dumps(jsonio.dumps, conn)
    set_json_loads(jsonio.loads, conn)


def _without_commit_wait(conn: psycopg.Connection) -> None:
    _use_fast_json(conn)
    conn.execute("SET synchronous_commit TO off")


if TYPE_CHECKING:  # mypy holds the class to the contract; nothing runs here
    _: type[Store] = PostgresStore
