"""The record tables of the embedded store (a part of ``storage.tinydb.store.TinyStore``, see
``storage.tinydb.base``): IdPs, tokens, holds, webhook endpoints and their deliveries; the
delivery backlog (``storage.tinydb.backlog``) for metrics; ``commit``, which writes records
and releases held events in one step.

Reads of records go through ``_row``/``_rows`` so that an ``atomic()`` block sees its own
writes; each write is one ``_commit`` under the writer lock (``_writing``).
"""

from __future__ import annotations

from collections.abc import Callable

from storage.clone import clone
from storage.tinydb.base import Base


class Records(Base):
    """The record tables (``Store.get_record`` … ``Store.commit``)."""

    def get_record(self, table: str, key: str) -> dict | None:
        record = self._row(table, key)
        return clone(record) if record is not None else None

    def put_record(self, table: str, key: str, record: dict) -> None:
        with self._writing():
            self._commit([(table, key, clone(record))])

    def put_records(self, table: str, records: dict[str, dict]) -> None:
        if records:
            with self._writing():
                self._commit([(table, key, clone(r)) for key, r in records.items()])

    def update_record(self, table: str, key: str, change: Callable[[dict], dict]) -> dict | None:
        with self._writing():
            current = self._row(table, key)
            if current is None:
                return None
            record = clone(change(clone(current)))
            self._commit([(table, key, record)])
        return clone(record)

    def delete_record(self, table: str, key: str) -> bool:
        with self._writing():
            if self._row(table, key) is None:
                return False
            self._commit([(table, key, None)])
            return True

    def records(
        self, table: str, where: Callable[[dict], bool] | None = None, *, idp: str | None = None
    ) -> list[dict]:
        with self._view:
            rows = list(self._rows(table).values())
        if idp is not None:
            rows = [r for r in rows if r.get("idp") == idp]
        return [clone(r) for r in rows if where is None or where(r)]

    def delivery_backlog(self) -> dict[str, tuple[int, str]]:
        with self._view:
            return self._backlog.summary()

    def commit(self, idp: str, work: Callable[[], tuple[list, list]]) -> None:
        with self._writing():
            writes, events = work()
            writes = [(t, k, clone(d) if d is not None else None) for t, k, d in writes]
            if writes or events:
                self._commit(writes, idp=idp, released=events)
