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
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from scim.core import events as changes
from scim.core import jsonio
from storage.clone import clone
from storage.errors import Conflict, NotFound, StoreUnavailable, VersionMismatch
from storage.interface import UNIQUE, Screen, Store, fold
from storage.postgres import pg_events, pg_pool, pg_schema
from storage.postgres.pg_schema import (
    add_members,
    derived_columns,
    member_ids,
    one,
    remove_members,
    scalar,
)
from storage.postgres.sql import page_query, sort_key, translate
from storage.query import run_query
from storage.stamps import cutoff, new_version, now, stamp

# classid of pg_advisory_xact_lock(classid, hashtext(idp)): keeps our locks apart from others'.
TENANT_LOCK = 0x526F73
# Connections of the request log's own pool (see log_connection).
LOG_CONNECTIONS = 4
# Seconds a health check waits for a connection: a probe must answer, not hang.
HEALTH_TIMEOUT = 2.0

log = logging.getLogger(__name__)


def describe(dsn: str) -> str:
    """Return ``dsn`` without its password, for messages."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "the configured database_url"
    host = parts.get("host") or "localhost"
    return f"{parts.get('user', '')}@{host}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


class PostgresStore:
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

    # --- connections and transactions ------------------------------------------------------

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
        self, idp: str | None = None, *, shared: bool = False
    ) -> Iterator[psycopg.Connection]:
        """Run the block in one transaction (a savepoint when nested), holding ``idp``'s lock
        (``shared``: in shared mode, for writes that add or change but never remove; they are
        pipelined, so the block must not read a statement's rowcount).

        When the connection is lost during the COMMIT, the block returns if the transaction
        was committed after all, and raises StoreUnavailable if it was not, OutcomeUnknown
        if that cannot be learnt (``pg_pool.settle``)."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            with current.transaction():
                if idp is not None:
                    self._lock_tenant(current, idp)
                yield current
            return
        committing = lost = False
        with pg_pool.translated(), self._pool.connection() as conn:
            self._local.conn = conn
            try:
                # A create or an update is pipelined: BEGIN goes out with the first statement,
                # and the last statements with the COMMIT, rather than each on its own (in
                # process, 300 POST /Users: p50 3.1-4.2 ms pipelined, 5.1-5.8 ms not). Other
                # writes read what their statements did (rowcount), which a pipeline only
                # tells at its end.
                with conn.pipeline() if shared else nullcontext(), conn.transaction():
                    xid = self._begin(conn, idp, shared)
                    yield conn
                    committing = True
            except psycopg.OperationalError:
                lost = committing and conn.broken
                if not lost:
                    raise
            finally:
                self._local.conn = None
        if lost:
            pg_pool.settle(self._pool, xid)

    def _begin(self, conn: psycopg.Connection, idp: str | None, shared: bool = False) -> str:
        """Take ``idp``'s lock (if given) and return the transaction's id, by which
        ``pg_pool.settle`` asks what became of it (one round trip either way). Inside
        ``batch()`` the commit does not wait for the WAL flush (the batch's end does, once),
        unless it records events (``pg_events.record``)."""
        lazy = ", set_config('synchronous_commit', 'off', true)" if self._batched() else ""
        if idp is None:
            return scalar(conn.execute(f"SELECT pg_current_xact_id()::text{lazy}"))
        lock = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        return scalar(
            conn.execute(
                f"SELECT pg_current_xact_id()::text{lazy} FROM {lock}(%s, hashtext(%s))",
                [TENANT_LOCK, idp],
            )
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
                # A transaction that has an id writes a commit record, and its synchronous
                # commit returns once the WAL is flushed up to it: with every asynchronous
                # commit of the batch before it.
                with self._transaction():
                    pass

    @staticmethod
    def _lock_tenant(conn: psycopg.Connection, idp: str) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [TENANT_LOCK, idp])

    # --- resources -------------------------------------------------------------------------

    def get(self, kind: str, idp: str, id: str) -> dict | None:
        with self.connection() as conn:
            row = conn.execute(
                "SELECT data FROM resources WHERE id = %s AND idp = %s AND kind = %s",
                [id, idp, kind],
            ).fetchone()
        return row[0] if row else None

    def get_each(self, kind: str, idp: str, ids: Iterable[str]) -> dict[str, dict]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT id, data FROM resources WHERE idp = %s AND kind = %s AND id = ANY(%s)",
                [idp, kind, wanted],
            ).fetchall()
        return dict(rows)

    def create(
        self,
        kind: str,
        idp: str,
        resource: dict,
        *,
        prepare: Callable[[dict], dict] | None = None,
        source: dict | None = None,
        screen: Screen | None = None,
        id: str | None = None,
    ) -> dict:
        data = clone(resource)
        try:
            with self._transaction(idp, shared=True) as conn:
                if prepare is not None:
                    data = prepare(data)
                data["id"] = id or str(uuid.uuid4())
                stamp(kind, data)
                conn.execute(
                    "INSERT INTO resources (id, kind, idp, unique_name, external_id, head, data)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [data["id"], kind, idp, *derived_columns(kind, data), Jsonb(data)],
                )
                if kind == "Group":
                    add_members(conn, idp, data["id"], member_ids(data))
                drafts = self._drafts(kind, None, data, idp)
                drafts = self._screened(conn, screen, kind, None, data, drafts)
                self._record(conn, idp, drafts, source, data["meta"]["lastModified"])
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name == "resources_pkey":
                raise Conflict("id", data["id"]) from None
            # RFC 7644 §3.3: a duplicate is 409 with scimType uniqueness.
            raise Conflict(UNIQUE[kind], data.get(UNIQUE[kind])) from None
        self.analyzer.inserted()
        self._recorded(drafts)
        return data

    def update(
        self,
        kind: str,
        idp: str,
        id: str,
        change: Callable[[dict], dict],
        *,
        if_version: str | None = None,
        source: dict | None = None,
        screen: Screen | None = None,
    ) -> dict:
        try:
            with self._transaction(idp, shared=True) as conn:
                current = self._locked(conn, kind, idp, id, if_version)
                created, old = current["meta"]["created"], member_ids(current)
                # ``current`` was decoded for this call alone, and what ``change`` returns is
                # serialized here: neither needs a copy (storage.interface says who owns what).
                data = change(current)
                data["id"] = id
                if changes.unchanged(current, data):
                    # Nothing to write (Okta re-sends whole users, Entra known members): no
                    # event, and the version stays, so the client's ETag stays valid.
                    return current
                stamp(kind, data, created=created)
                conn.execute(
                    "UPDATE resources SET unique_name = %s, external_id = %s, head = %s,"
                    " data = %s WHERE id = %s",
                    [*derived_columns(kind, data), Jsonb(data), id],
                )
                if kind == "Group":
                    new = member_ids(data)
                    remove_members(conn, id, old - new)
                    add_members(conn, idp, id, new - old)
                drafts = self._drafts(kind, current, data, idp)
                drafts = self._screened(conn, screen, kind, current, data, drafts)
                self._record(conn, idp, drafts, source, data["meta"]["lastModified"])
        except psycopg.errors.UniqueViolation:
            raise Conflict(UNIQUE[kind], data.get(UNIQUE[kind])) from None
        self._recorded(drafts)
        return data

    def _locked(
        self, conn: psycopg.Connection, kind: str, idp: str, id: str, if_version: str | None
    ) -> dict:
        row = conn.execute(
            "SELECT data FROM resources WHERE id = %s AND idp = %s AND kind = %s FOR UPDATE",
            [id, idp, kind],
        ).fetchone()
        if row is None:
            raise NotFound(id)
        if if_version is not None and if_version != row[0]["meta"]["version"]:
            raise VersionMismatch(id)
        return row[0]

    def delete(
        self,
        kind: str,
        idp: str,
        id: str,
        *,
        if_version: str | None = None,
        source: dict | None = None,
        screen: Screen | None = None,
    ) -> None:
        with self._transaction(idp) as conn:
            before = self._locked(conn, kind, idp, id, if_version)
            drafts = self._drafts(kind, before, None, idp)
            conn.execute("DELETE FROM resources WHERE id = %s", [id])
            changed = self._drop_memberships(conn, idp, [id])
            if drafts:
                # Its groups lose it before the deletion is recorded: user.deleted is the last
                # word about it.
                drafts[-1:-1] = [
                    draft
                    for old, new in changed
                    for draft in changes.removal_drafts(old, new, idp, id)
                ]
            drafts = self._screened(conn, screen, kind, before, None, drafts)
            self._record(conn, idp, drafts, source, now())
        self._recorded(drafts)

    def _drop_memberships(self, conn: psycopg.Connection, idp: str, ids: list) -> list:
        """Take ``ids`` out of every Group of ``idp`` that lists them; return each Group's
        (before, after)."""
        gone = set(ids)
        rows = conn.execute(
            "SELECT r.id, r.data FROM resources r WHERE r.id IN"
            " (SELECT group_id FROM members WHERE idp = %s AND member_id = ANY(%s))",
            [idp, [fold(m) for m in gone]],
        ).fetchall()
        changed = []
        for gid, data in rows:
            before = dict(data)  # shallow: members and meta are replaced below, not modified
            changed.append((before, data))
            data["members"] = [m for m in data.get("members", []) if m["value"] not in gone]
            if not data["members"]:
                del data["members"]
            stamp("Group", data, created=data["meta"]["created"])
            head = derived_columns("Group", data)[2]
            conn.execute(
                "UPDATE resources SET head = %s, data = %s WHERE id = %s", [head, Jsonb(data), gid]
            )
            remove_members(conn, gid, {fold(m) for m in gone})
        return changed

    def count(self, kind: str, idp: str) -> int:
        with self.connection() as conn:
            return scalar(
                conn.execute(
                    "SELECT count(*) FROM resources WHERE idp = %s AND kind = %s", [idp, kind]
                )
            )

    def groups_of(self, idp: str, member_id: str) -> list[dict]:
        return self.groups_of_each(idp, [member_id])[member_id]

    def groups_of_each(self, idp: str, member_ids: list[str]) -> dict[str, list[dict]]:
        wanted = {member: fold(member) for member in member_ids}
        if not wanted:
            return {}
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT m.member_id, r.head FROM members m JOIN resources r ON r.id = m.group_id"
                " WHERE m.idp = %s AND m.member_id = ANY(%s) ORDER BY r.seq",
                [idp, sorted(set(wanted.values()))],
            ).fetchall()
        by_folded: dict[str, list[dict]] = {}
        for folded, head in rows:
            by_folded.setdefault(folded, []).append(head)
        # Each member gets its own copies: callers may modify what they are given.
        return {
            member: [clone(head) for head in by_folded.get(folded, [])]
            for member, folded in wanted.items()
        }

    def existing_ids(self, idp: str, ids: Iterable[str]) -> dict[str, str]:
        wanted = list(ids)
        if not wanted:
            return {}
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT id, kind FROM resources WHERE idp = %s AND id = ANY(%s)", [idp, wanted]
            ).fetchall()
        return dict(rows)

    def query(
        self,
        kind: str,
        idp: str,
        *,
        filter=None,
        sort_by: str | None = None,
        descending: bool = False,
        start_index: int = 1,
        count: int | None = None,
    ) -> tuple[int, list[dict]]:
        condition = translate(kind, filter) if filter is not None else None
        where, params = "r.idp = %s AND r.kind = %s", [idp, kind]
        if condition is not None:
            where, params = f"{where} AND {condition.sql}", [*params, *condition.params]
        key = sort_key(kind, sort_by)
        if (filter is None or (condition and condition.exact)) and key is not None:
            # RFC 7644 §3.4.2.4: startIndex is 1-based; totalResults counts every match.
            offset = max(start_index, 1) - 1
            with self.connection() as conn:
                rows = conn.execute(
                    page_query(where, key, descending), [*params, *params, offset, count]
                ).fetchall()
            return rows[0][0], [data for _, data in rows if data is not None]
        # SQL narrows; the whole filter, the order and the page are worked out in Python.
        with self.connection() as conn:
            rows = conn.execute(
                f"SELECT r.data FROM resources r WHERE {where} ORDER BY r.seq", params
            ).fetchall()
        candidates = [row[0] for row in rows]
        return run_query(kind, candidates, filter, sort_by, descending, start_index, count)

    # --- records ---------------------------------------------------------------------------

    def last_seq(self) -> int:
        with self.connection() as conn:
            return pg_events.last_seq(conn)

    def events(
        self, after: int, limit: int, *, types: frozenset | None = None, idp: str | None = None
    ) -> tuple[list[dict], int, bool]:
        with self.connection() as conn:
            return pg_events.read(conn, after, limit, types, idp)

    def wait_for_event(self, after: int, timeout: float) -> bool:
        return self.listener().wait(lambda: self.last_seq() > after, timeout)

    def listener(self) -> pg_events.Listener:
        """This process's LISTEN connection for new events, opened on first use."""
        with self._listening:
            if self._listener is None:
                self._listener = pg_events.Listener(self.dsn)
            return self._listener

    def events_for(self, kind: str, idp: str, id: str, limit: int = 20) -> list[dict]:
        with self.connection() as conn:
            return pg_events.for_resource(conn, kind, idp, id, limit)

    def prune_events(self) -> int:
        with pg_pool.translated(), self._pool.connection() as conn:
            return pg_events.prune(conn, cutoff(self._retention))

    # --- the change feed: events written with the change ------------------------------------

    def _drafts(self, kind: str, before: dict | None, after: dict | None, idp: str) -> list:
        """The events of one resource write (``scim.core.events``), with what the store knows."""
        if not self._record_events:
            return []
        own = after if after is not None else before
        assert own is not None  # a write has a before or an after, never neither
        # A deletion's version after the change is a new one (see ``changes.drafts``).
        version = new_version() if after is None else None
        groups = self.groups_of(idp, own["id"]) if kind == "User" and before else []
        return changes.drafts(kind, before, after, idp, groups=groups, version=version)

    def _screened(self, conn, screen, kind: str, before, after, drafts: list) -> list:
        """Run a write's ``screen`` (``storage.interface``) in its transaction: make the
        record writes it asks for, and return the events to record."""
        if screen is None:
            return drafts
        drafts, records = screen(kind, before, after, drafts)
        self._write_records(conn, records)
        return drafts

    @staticmethod
    def _write_records(conn: psycopg.Connection, writes: list) -> None:
        for table, key, record in writes:
            if record is None:
                conn.execute("DELETE FROM records WHERE tbl = %s AND key = %s", [table, key])
            else:
                conn.execute(
                    "INSERT INTO records (tbl, key, data) VALUES (%s, %s, %s)"
                    " ON CONFLICT (tbl, key) DO UPDATE SET data = EXCLUDED.data",
                    [table, key, Jsonb(record)],
                )

    def commit(self, idp: str, work: Callable[[], tuple[list, list]]) -> None:
        with self._transaction(idp) as conn:
            writes, events = work()
            self._write_records(conn, writes)
            # Stamped when they were held: they keep their id, time and source.
            pg_events.record(conn, idp, events, batched=self._batched())
        self._recorded(events)

    def _record(
        self, conn: psycopg.Connection, idp: str, drafts: list, source: dict | None, at: str
    ) -> None:
        """Append ``drafts`` as events to the transaction: the last statement before COMMIT
        (from here on, other transactions that record events wait for this one)."""
        # The IdP (its name at this moment) and the seq are filled in by the database.
        event = partial(changes.stamp, seq=None, occurred_at=at, idp=None, source=source)
        events = [event(d, id=str(uuid.uuid4())) for d in drafts]
        pg_events.record(conn, idp, events, batched=self._batched())

    def _recorded(self, drafts: list) -> None:
        """After a commit that recorded events: wake this process's readers at once, and
        prune now and then."""
        if drafts:
            if self._listener is not None:
                self._listener.bump()
            self.pruner.written()

    def get_record(self, table: str, key: str) -> dict | None:
        with self.connection() as conn:
            row = conn.execute(
                "SELECT data FROM records WHERE tbl = %s AND key = %s", [table, key]
            ).fetchone()
        return row[0] if row else None

    def put_record(self, table: str, key: str, record: dict) -> None:
        # In a transaction, as every write: a lost connection then tells "not stored" from
        # "perhaps stored" (an autocommit statement cannot).
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO records (tbl, key, data) VALUES (%s, %s, %s)"
                " ON CONFLICT (tbl, key) DO UPDATE SET data = EXCLUDED.data",
                [table, key, Jsonb(record)],
            )

    def put_records(self, table: str, records: dict[str, dict]) -> None:
        if not records:
            return
        with self._transaction() as conn, conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO records (tbl, key, data) VALUES (%s, %s, %s)"
                " ON CONFLICT (tbl, key) DO UPDATE SET data = EXCLUDED.data",
                [[table, key, Jsonb(r)] for key, r in records.items()],
            )

    def update_record(self, table: str, key: str, change: Callable[[dict], dict]) -> dict | None:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT data FROM records WHERE tbl = %s AND key = %s FOR UPDATE", [table, key]
            ).fetchone()
            if row is None:
                return None
            record = change(row[0])
            conn.execute(
                "UPDATE records SET data = %s WHERE tbl = %s AND key = %s",
                [Jsonb(record), table, key],
            )
        return record

    def delete_record(self, table: str, key: str) -> bool:
        with self._transaction() as conn:
            cursor = conn.execute("DELETE FROM records WHERE tbl = %s AND key = %s", [table, key])
            return cursor.rowcount > 0

    def records(self, table: str, where: Callable[[dict], bool] | None = None) -> list[dict]:
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT data FROM records WHERE tbl = %s ORDER BY seq", [table]
            ).fetchall()
        return [row[0] for row in rows if where is None or where(row[0])]

    def delete_idp(self, idp: str, *, source: dict | None = None) -> None:
        with self._transaction(idp) as conn:
            drafts = self._idp_drafts(conn, idp)
            # First, while the IdP's record (its name, for the events) is still there.
            self._record(conn, idp, drafts, source, now())
            conn.execute("DELETE FROM resources WHERE idp = %s", [idp])
            # Every record naming it (its tokens, its holds…), and its own.
            conn.execute(
                "DELETE FROM records WHERE data->>'idp' = %s OR (tbl = 'idps' AND key = %s)",
                [idp, idp],
            )
        self._recorded(drafts)

    def _idp_drafts(self, conn: psycopg.Connection, idp: str) -> list[dict]:
        """The events of deleting every resource of ``idp``: its Users, then its Groups."""
        if not self._record_events:
            return []
        rows = conn.execute(
            "SELECT kind, data FROM resources WHERE idp = %s ORDER BY kind DESC, seq", [idp]
        ).fetchall()
        users = [data["id"] for kind, data in rows if kind == "User"]
        groups = self.groups_of_each(idp, users)
        return [
            draft
            for kind, data in rows
            for draft in changes.drafts(
                kind, data, None, idp, groups=groups.get(data["id"], []), version=new_version()
            )
        ]

    # --- the audit trail -------------------------------------------------------------------

    def append_audit(self, entry: dict) -> None:
        with self.connection() as conn:
            conn.execute(
                "INSERT INTO audit_log (time, entry) VALUES (%s, %s)",
                [entry["time"], Jsonb(entry)],
            )

    def prune_audit(self, before: str) -> int:
        with self.connection() as conn:
            return conn.execute("DELETE FROM audit_log WHERE time < %s", [before]).rowcount

    def audit_entries(
        self,
        *,
        since: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        object: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[int, list[dict]]:
        where, params = ["TRUE"], []
        for sql, value in (
            ("time >= %s", since),
            ("entry->>'actor' = %s", actor),
            ("entry->>'action' = %s", action),
            # strpos of lower(): a substring, with no LIKE wildcards to escape.
            ("strpos(lower(entry->>'object'), lower(%s)) > 0", object),
        ):
            if value is not None:
                where.append(sql)
                params.append(value)
        condition = " AND ".join(where)
        with self.connection() as conn:
            rows = conn.execute(
                f"SELECT count(*) OVER (), entry FROM audit_log WHERE {condition}"
                " ORDER BY seq DESC OFFSET %s LIMIT %s",
                [*params, offset, limit],
            ).fetchall()
            if not rows and offset:  # past the end: the total still counts every match
                total = scalar(
                    conn.execute(f"SELECT count(*) FROM audit_log WHERE {condition}", params)
                )
                return total, []
        return (rows[0][0] if rows else 0), [entry for _, entry in rows]

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
        self._thread: threading.Thread | None = None

    def inserted(self, rows: int = 1) -> None:
        with self._lock:
            self._since += rows
            if self._since < max(self.LEAST, self._rows // 10) or self._thread is not None:
                return
            self._since = 0
            thread = self._thread = threading.Thread(target=self._analyze, name="roster-analyze")
        thread.start()

    def _analyze(self) -> None:
        try:
            with self._pool.connection() as conn:
                conn.execute("ANALYZE resources, members")
                rows = conn.execute("SELECT reltuples FROM pg_class WHERE relname = 'resources'")
                self._rows = max(int(scalar(rows)), 0)
        except Exception:  # a closed pool or a lost server: autovacuum still gets there
            log.warning("ANALYZE after a bulk load failed", exc_info=True)
        finally:
            with self._lock:
                self._thread = None

    def wait(self) -> None:
        """Wait for a running ``ANALYZE`` to finish."""
        thread = self._thread
        if thread is not None:
            thread.join()


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
