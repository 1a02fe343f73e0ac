"""The PostgreSQL store's side of the change feed (``storage.postgres.store``): the events each
resource write drafts (``scim.core.events``), screened and recorded in the write's own
transaction, and the reads of the feed (pages, a resource's events, waiting for new ones).

The SQL (recording in seq order across processes, reading, pruning, LISTEN) is
``storage.postgres.pg_events``; this holds the store's methods around it. Pruning itself
stays in ``storage.postgres.store`` (``prune_events``) beside the retention it reads.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from functools import partial

import psycopg

from scim.core import events as changes
from storage.postgres import pg_events
from storage.postgres.pg_reads import Reads
from storage.postgres.pg_records import Records
from storage.postgres.pg_tx import IDLE
from storage.stamps import new_version


class Feed(Reads, Records):
    """Change-feed methods for ``PostgresStore`` (which opens the listener and the pruner)."""

    dsn: str
    _record_events: bool
    _listener: pg_events.Listener | None
    _listening: threading.Lock
    pruner: pg_events.Pruner

    def last_seq(self) -> int:
        with self.connection() as conn:
            return pg_events.last_seq(conn)

    def events(
        self, after: int, limit: int, *, types: frozenset | None = None, idp: str | None = None
    ) -> tuple[list[dict], int, bool]:
        with self.connection() as conn:
            page = pg_events.read(conn, after, limit, types, idp)
            if page[0] and conn.info.transaction_status == IDLE:
                pg_events.make_durable(conn)
            return page

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
            found = pg_events.for_resource(conn, kind, idp, id, limit)
            if found and conn.info.transaction_status == IDLE:
                pg_events.make_durable(conn)
            return found

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

    def commit(self, idp: str, work: Callable[[], tuple[list, list]]) -> None:
        with self._transaction(idp) as conn:
            writes, events = work()
            self._write_records(conn, writes)
            # Stamped when they were held: they keep their id, time and source.
            pg_events.record(conn, idp, events)
        self._recorded(events)

    def _record(
        self, conn: psycopg.Connection, idp: str, drafts: list, source: dict | None, at: str
    ) -> None:
        """Append ``drafts`` as events to the transaction: the last statement before COMMIT
        (from here on, other transactions that record events wait for this one)."""
        # The IdP (its name at this moment) and the seq are filled in by the database.
        event = partial(changes.stamp, seq=None, occurred_at=at, idp=None, source=source)
        events = [event(d, id=str(uuid.uuid4())) for d in drafts]
        pg_events.record(conn, idp, events)

    def _recorded(self, drafts: list) -> None:
        """After a commit that recorded events: wake this process's readers at once, and
        prune now and then."""
        if drafts:
            if self._listener is not None:
                self._listener.bump()
            self.pruner.written()
