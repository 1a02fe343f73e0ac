"""The PostgreSQL store's records (``storage.postgres.store``): the ``records`` table, keyed by
table name and key, which holds what is not a SCIM resource (IdPs, tokens, holds, webhook
endpoints and deliveries, …), and the webhook delivery backlog read for metrics.

Every record write is a transaction (``_transaction``), so that a lost connection tells "not
stored" from "perhaps stored". ``_write_records`` is the one place that writes a list of
record changes inside a transaction already open (a write's ``screen``, ``commit``).
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg.types.json import Jsonb

from storage.postgres import pg_schema
from storage.postgres.pg_tx import Transactions


class Records(Transactions):
    """Record reads and writes for ``PostgresStore``."""

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

    def get_record(self, table: str, key: str) -> dict | None:
        if key in getattr(self._local, "fresh", ()):
            # The id of a resource this transaction creates, drawn at random in it: nothing
            # stored can be keyed by it yet, and the read would cost a round trip of its own
            # (the screen of every new user asks for its ``downstream`` entry).
            return None
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

    def records(
        self, table: str, where: Callable[[dict], bool] | None = None, *, idp: str | None = None
    ) -> list[dict]:
        with self.connection() as conn:
            if idp is None:
                rows = conn.execute(
                    "SELECT data FROM records WHERE tbl = %s ORDER BY seq", [table]
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT data FROM records WHERE tbl = %s AND data->>'idp' = %s ORDER BY seq",
                    [table, idp],
                ).fetchall()
        return [row[0] for row in rows if where is None or where(row[0])]

    def delivery_backlog(self) -> dict[str, tuple[int, str]]:
        # The partial index records_pending_deliveries holds only pending deliveries: this
        # reads those rows, not the delivery log (pg_schema, migration 5).
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT data->>'endpoint', count(*), min(key) FROM records"
                f" WHERE {pg_schema.PENDING_DELIVERIES} GROUP BY 1"
            ).fetchall()
        return {endpoint: (count, first) for endpoint, count, first in rows}
