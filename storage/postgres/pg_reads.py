"""The PostgreSQL store's resource reads (``storage.postgres.store``): one resource or many,
counts, the Groups a member is in, and listings (a SCIM filter in SQL where it translates
exactly, in Python where it does not: ``storage.postgres.sql``, ``storage.query``).

They take no lock, and run on ``connection()``: inside a write's transaction they see its
state (``prepare`` checks members through ``existing_ids``). Apart from the writes because
they share nothing with them but the tables.
"""

from __future__ import annotations

from collections.abc import Iterable

from storage.clone import clone
from storage.interface import fold
from storage.postgres.pg_schema import scalar
from storage.postgres.pg_tx import Transactions
from storage.postgres.sql import page_query, sort_key, translate
from storage.query import run_query


class Reads(Transactions):
    """Resource reads for ``PostgresStore``."""

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
