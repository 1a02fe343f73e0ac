"""What the parts of the embedded store (``storage.tinydb.store.TinyStore``) share: its state
and the methods one part calls in another, declared once.

``TinyStore`` is split by concern into mixins (resources, records, the audit trail, the change
feed, batch and atomic blocks, operations), each in a module of its own and each a subclass of
``Base``. ``Base`` holds no code: its annotations tell mypy what ``TinyStore.__init__`` and
``_load`` set up, and its declarations (for mypy only) the signatures of the methods defined in
another part, so that each part is checked on its own, and ``TinyStore`` against them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from storage.tinydb import files, journal
from storage.tinydb.backlog import Backlog
from storage.tinydb.durable import GroupSync, Pending
from storage.tinydb.feed import Feed
from storage.tinydb.indexes import Indexes
from storage.tinydb.ready import Readiness

# Every part logs as the store does, whichever module it lives in.
log = logging.getLogger("storage.tinydb.store")

Op = tuple[str, str, dict | None]  # (table, key, document or None to delete)


class Base:
    """The state of one ``TinyStore`` (see its ``__init__`` and ``_load``)."""

    folder: Path
    _compact_after: int
    _retention: timedelta
    _record_events: bool
    _next_prune: float
    _lock: threading.RLock
    _view: threading.Lock
    _batching: threading.local
    _atomic: threading.local
    _local: threading.local
    _pending: Pending
    _group: GroupSync
    _compacting: threading.Thread | None
    _compact_error: Exception | None
    _compactions: int
    _compaction_failures: int
    _folder_lock: files.FolderLock
    _readiness: Readiness
    _tables: files.Tables
    _indexes: Indexes
    _backlog: Backlog
    _feed: Feed
    _journal: journal.Journal

    if TYPE_CHECKING:  # defined by the parts named; declared here for the others
        # storage.tinydb.store
        def _put(
            self, table: str, key: str, doc: dict | None, delta: dict | None = None
        ) -> None: ...

        def _op(self, table: str, key: str, doc: dict | None) -> list: ...

        def _commit(
            self,
            writes: list[Op],
            drafts: Sequence[dict] = (),
            *,
            idp: str | None = None,
            source: dict | None = None,
            at: str | None = None,
            ops: list[list] | None = None,
            released: Sequence[dict] = (),
        ) -> None: ...

        @contextmanager
        def _writing(self) -> Iterator[None]: ...

        def _cutoff(self) -> str: ...

        def _audit_limit(self) -> int: ...

        # storage.tinydb.blocks
        def _settle(self) -> None: ...

        def _sync(self) -> bool: ...

        def _rows(self, table: str) -> dict: ...

        def _row(self, table: str, key: str) -> dict | None: ...

        # storage.tinydb.events
        def _drafts(self, kind: str, before: dict | None, after: dict | None, idp: str) -> list: ...

        def _events(
            self, drafts: Sequence[dict], idp: str | None, source: dict | None, at: str
        ) -> list: ...

        def _released(self, events: Sequence[dict], first: int) -> list: ...

        def _screened(
            self, screen, kind: str, before, after, drafts: list
        ) -> tuple[list, list]: ...

        def _prune_ops(self) -> list: ...

        def _member_drafts(self, before: dict, after: dict, idp: str, op: list) -> list | None: ...

        # storage.tinydb.operations
        def _start_compaction(self) -> None: ...
