"""The writes of an atomic block (``Store.atomic``), held back until it ends so that they go
into one journal record: the action of an admin and its audit entry, durable together or not
at all. The block's own reads of records see them; nobody else's do."""

from __future__ import annotations

from collections.abc import Sequence

Key = tuple[str, str]  # (table, key)


class Staged:
    """What one block has written so far, not yet in the journal nor in the tables."""

    def __init__(self) -> None:
        # Insertion order is the order of the writes (a key written twice keeps its place and
        # its last document): the order they are journaled and applied in.
        self.docs: dict[Key, dict | None] = {}
        self.events: dict | None = None
        # Whether the block holds the store's writer lock (from its first write on).
        self.locked = False

    def add(
        self,
        writes: Sequence[tuple[str, str, dict | None]],
        drafts: Sequence[dict],
        released: Sequence[dict],
        **stamp,
    ) -> None:
        """Hold back one write (``TinyStore._commit``'s arguments)."""
        if drafts or released:
            # Events are numbered when they are journaled: one write's at most, so that the
            # block's record numbers them as that write would have.
            if self.events is not None:
                raise RuntimeError("an atomic block records the events of one write at most")
            self.events = {"drafts": list(drafts), "released": list(released), **stamp}
        for table, key, doc in writes:
            self.docs[(table, key)] = doc

    def writes(self) -> list[tuple[str, str, dict | None]]:
        return [(table, key, doc) for (table, key), doc in self.docs.items()]

    def get(self, table: str, key: str, rows: dict) -> dict | None:
        """The document under ``key`` as the block sees it (``rows``: the table)."""
        return self.docs[(table, key)] if (table, key) in self.docs else rows.get(key)

    def rows(self, table: str, rows: dict) -> dict:
        """The table as the block sees it."""
        mine = {key: doc for (t, key), doc in self.docs.items() if t == table}
        if not mine:
            return rows
        merged = {**rows, **mine}
        return {key: doc for key, doc in merged.items() if doc is not None}
