"""The PostgreSQL store's audit trail (``storage.postgres.store``): ``audit_log``, one row per
entry with an index on ``time``.

Its statements run on ``connection()``: inside ``atomic()`` they join the thread's
transaction, so an admin action and its audit entry are one write (``audit.action``).
"""

from __future__ import annotations

from psycopg.types.json import Jsonb

from storage.postgres.pg_schema import scalar
from storage.postgres.pg_tx import Transactions


class Audit(Transactions):
    """The audit trail for ``PostgresStore``."""

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
