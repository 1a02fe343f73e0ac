"""The change feed's side of the embedded store (a part of ``storage.tinydb.store.TinyStore``,
see ``storage.tinydb.base``): the events of a write, drafted (``scim.core.events``), screened
and stamped with their seqs under the writer lock, to ride on the write's journal line; and the
feed's reads and pruning, which go through ``storage.tinydb.feed.Feed``.

Kept apart from the resources because every write path records events the same way (resources,
``commit``'s released events, ``delete_idp``) and because the feed's rules (seq order, nothing
shown before it is durable) are one concern.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from scim.core import events as changes
from storage.clone import clone
from storage.feedpage import select, window_size
from storage.stamps import new_version
from storage.tinydb.base import Base
from storage.tinydb.feed import EVENTS, STATE

# How often (seconds) a write looks for events older than the retention period to prune.
PRUNE_EVERY = 60.0


def _stamped(event: dict) -> dict:
    """The stamp of an event stamped earlier, to stamp it again with its seq."""
    return {k: event[k] for k in ("id", "occurred_at", "idp", "source")}


class Events(Base):
    """Events written with the change; the feed's reads and pruning."""

    def _drafts(self, kind: str, before: dict | None, after: dict | None, idp: str) -> list:
        """The events of one resource write (``scim.core.events``), with what the store knows."""
        if not self._record_events:
            return []
        own = after if after is not None else before
        assert own is not None  # a write has a before or an after, never neither
        # A deletion's version after the change is a new one (see ``changes.drafts``).
        version = new_version() if after is None else None
        groups = self._groups_with(idp, own["id"]) if kind == "User" and before else []
        return changes.drafts(kind, before, after, idp, groups=groups, version=version)

    def _groups_with(self, idp: str, member: str) -> list[dict]:
        """The stored Groups with ``member`` (read-only: for an event's data)."""
        rows = self._tables["Group"]
        return [rows[gid]["data"] for gid in self._indexes.groups_with(idp, member)]

    def _events(
        self, drafts: Sequence[dict], idp: str | None, source: dict | None, at: str
    ) -> list:
        """The journal ops of ``drafts``, each stamped with the next seq (under ``_lock``)."""
        if not drafts:
            return []
        assert idp is not None  # every write that records events is one IdP's
        ref = changes.idp_ref(idp, self._tables["idps"].get(idp))
        first = self._feed.next_seq()
        stamped = [
            changes.stamp(
                draft, id=str(uuid.uuid4()), seq=first + n, occurred_at=at, idp=ref, source=source
            )
            for n, draft in enumerate(drafts)
        ]
        return [[EVENTS, str(event["seq"]), event] for event in stamped]

    def _released(self, events: Sequence[dict], first: int) -> list:
        """The journal ops of events stamped earlier, numbered from ``first`` on."""
        return [
            [EVENTS, str(first + n), changes.stamp(event, seq=first + n, **_stamped(event))]
            for n, event in enumerate(events)
        ]

    def _screened(self, screen, kind: str, before, after, drafts: list) -> tuple[list, list]:
        """Run a write's ``screen`` (see ``storage.interface``): return the events to record
        and the record writes to make with it."""
        if screen is None:
            return drafts, []
        drafts, records = screen(kind, before, after, drafts)
        return drafts, [(table, key, clone(doc) if doc is not None else None)
                        for table, key, doc in records]  # fmt: skip

    def _prune_ops(self) -> list:
        """The op that prunes events past the retention period, once a minute at most: it
        rides on a write's journal line, so pruning costs no fsync of its own."""
        if time.monotonic() < self._next_prune:
            return []
        self._next_prune = time.monotonic() + PRUNE_EVERY
        through = self._feed.expired_through(self._cutoff())
        return [[STATE, "state", {"pruned_through": through}]] if through else []

    def _member_drafts(self, before: dict, after: dict, idp: str, op: list) -> list | None:
        """A Group write's events, with the member ids its journal delta already names (a
        membership PATCH on 10,000 members looks at none of them again); None without one."""
        if not self._record_events:
            return []
        if len(op) <= 3:
            return None
        delta = op[3]["members"]
        removed = list(dict.fromkeys(delta["remove"]))
        gone = set(removed)
        added = [m["value"] for m in delta["add"] if m.get("value") not in gone]
        return changes.drafts("Group", before, after, idp, added=added, removed=removed)

    # --- reading and pruning ------------------------------------------------------------

    def last_seq(self) -> int:
        return self._feed.durable

    def events(
        self, after: int, limit: int, *, types: frozenset | None = None, idp: str | None = None
    ) -> tuple[list[dict], int, bool]:
        size = window_size(limit, types, idp)
        with self._view:  # references, taken in C
            window = self._feed.window(after, size)
        return select(window, after, limit, types, idp)

    def wait_for_event(self, after: int, timeout: float) -> bool:
        return self._feed.wait(after, timeout)

    def events_for(self, kind: str, idp: str, id: str, limit: int = 20) -> list[dict]:
        wanted = "user" if kind == "User" else "group"
        with self._view:
            found = self._feed.for_resource(id, limit)
        return [e for e in found if e["idp"]["id"] == idp and e["resource"]["type"] == wanted]

    def prune_events(self) -> int:
        with self._lock:
            through = self._feed.expired_through(self._cutoff())
            if through:
                mark = {"pruned_through": through}
                self._journal.append([[STATE, "state", mark]])
                with self._view:
                    self._put(STATE, "state", mark)
            return self._feed.pruned_through
