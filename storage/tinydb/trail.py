"""The audit trail of the embedded store (a part of ``storage.tinydb.store.TinyStore``, see
``storage.tinydb.base``): the ``audit`` table, in memory and in the journal like every other
table, bounded to the newest ``storage.tinydb.store.AUDIT_LIMIT`` entries (the oldest dropped
with the write that goes past it), newest first when read.
"""

from __future__ import annotations

import itertools

from storage.clone import clone
from storage.interface import AUDIT_TABLE, audit_matches
from storage.tinydb.base import Base, Op, log


class Trail(Base):
    """The audit trail (``Store.append_audit``, ``prune_audit``, ``audit_entries``)."""

    def append_audit(self, entry: dict) -> None:
        record = clone(entry)
        with self._writing():
            rows = self._tables[AUDIT_TABLE]
            writes: list[Op] = [(AUDIT_TABLE, record["id"], record)]
            limit = self._audit_limit()
            over = len(rows) + 1 - limit
            if over > 0:  # the oldest first: rows keep the order they were appended in
                writes += [(AUDIT_TABLE, key, None) for key in itertools.islice(rows, over)]
                log.warning("audit trail: over %d entries, the oldest dropped", limit)
            self._commit(writes)

    def prune_audit(self, before: str) -> int:
        with self._writing():
            rows = self._tables[AUDIT_TABLE]
            old = list(itertools.takewhile(lambda key: rows[key]["time"] < before, rows))
            if old:
                self._commit([(AUDIT_TABLE, key, None) for key in old])
        return len(old)

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
        with self._view:
            rows = list(self._tables[AUDIT_TABLE].values())
        found = [e for e in reversed(rows) if audit_matches(e, since, actor, action, object)]
        end = None if limit is None else offset + limit
        return len(found), [clone(e) for e in found[offset:end]]
