"""The embedded store's change feed (``storage.tinydb.store``): its events in memory, in
``seq`` order, and the condition long-polling readers wait on.

The events themselves are journaled with the writes that caused them, as ops of the same
journal line (``["events", "<seq>", event]``), and land in the snapshot as its ``events``
table; pruning is one op, ``["feed", "state", {"pruned_through": seq}]``. The store applies
both through ``put``, on load and on commit alike, so what a reader sees after a restart is
exactly what it saw before.

Why a reader never finds a new event behind its cursor: ``seq`` is allocated under the store's
writer lock and events are applied under its view lock in the same step as the write, one
write after another, so they are applied in ``seq`` order. Readers see them only up to
``durable``, which the store advances once the journal is fsynced up to them: a write inside
``Store.batch()`` applies its events at once, but they stay hidden until the batch's fsync,
because a machine crash before it would take them away and their seqs would be drawn again
for other events.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable
from operator import itemgetter

from storage.errors import CursorExpired

EVENTS, STATE = "events", "feed"
_seq = itemgetter("seq")


class Feed:
    """The events of one store. Writers call ``next_seq`` under the writer lock and ``put``
    under the view lock; readers call ``window`` under the view lock (references only)."""

    def __init__(self) -> None:
        self.events: list[dict] = []  # in seq order
        self.last = 0  # the newest seq recorded (or pruned)
        self.durable = 0  # the newest seq readers see: journaled and fsynced
        self.pruned_through = 0  # every event up to here is gone
        self._by_resource: dict[str, deque] = {}
        self.changed = threading.Condition()
        self.waiting = 0  # readers in ``wait`` (tests watch it)

    # --- writing ---------------------------------------------------------------------------

    def next_seq(self) -> int:
        """The seq the next recorded event gets (the caller holds the writer lock)."""
        return self.last + 1

    def put(self, table: str, key: str, doc: dict | None) -> None:
        """Apply a journal op of the feed's tables (an event, or the pruning state)."""
        if table == STATE:
            self.prune(int((doc or {}).get("pruned_through", 0)))
            return
        if doc is None:  # events are never deleted one by one; tolerate it all the same
            return
        seq = doc["seq"]
        if seq <= self.pruned_through:
            return  # pruned after it was written (replaying an older snapshot's journal)
        self.events.append(doc)
        self.last = max(self.last, seq)
        self._by_resource.setdefault(doc["resource"]["id"], deque()).append(doc)

    def publish(self, through: int | None = None) -> bool:
        """Show readers every event recorded so far (or up to ``through``), once the journal
        holding them is fsynced (the caller holds the view lock); return whether there were
        new ones to ``notify``. Events are journaled in seq order: once the record holding
        ``through`` is durable, so is every event before it."""
        through = self.last if through is None else min(through, self.last)
        advanced = through > self.durable
        self.durable = max(self.durable, through)
        return advanced

    def discard_after(self, seq: int) -> None:
        """Drop the events recorded after ``seq`` (never shown: their record's fsync failed,
        see ``storage.tinydb.durable``). The caller holds both of the store's locks."""
        cut = bisect_right(self.events, seq, key=_seq)
        for event in reversed(self.events[cut:]):  # newest first: each is its deque's last
            kept = self._by_resource.get(event["resource"]["id"])
            if kept and kept[-1] is event:
                kept.pop()
                if not kept:
                    del self._by_resource[event["resource"]["id"]]
        del self.events[cut:]
        self.last = max(seq, self.pruned_through)

    def notify(self) -> None:
        """Wake the readers waiting for a new event."""
        with self.changed:
            self.changed.notify_all()

    def prune(self, through: int) -> None:
        """Drop every event up to ``through`` (the caller holds the view lock)."""
        if through <= self.pruned_through:
            return
        self.pruned_through = through
        self.last = max(self.last, through)
        cut = bisect_right(self.events, through, key=_seq)
        for event in self.events[:cut]:
            kept = self._by_resource.get(event["resource"]["id"])
            if kept and kept[0] is event:
                kept.popleft()
                if not kept:
                    del self._by_resource[event["resource"]["id"]]
        del self.events[:cut]

    def expired_through(self, cutoff: str) -> int | None:
        """The seq of the newest durable event that occurred by ``cutoff`` (RFC 3339 text,
        which orders as time does), if the oldest one did; the prefix up to it is prunable.
        (Pruning an event a crash could take away would move ``last_seq`` past it.)"""
        if not self.events or self.events[0]["occurred_at"] > cutoff:
            return None
        at = 0
        while (
            at < len(self.events)
            and self.events[at]["occurred_at"] <= cutoff
            and self.events[at]["seq"] <= self.durable
        ):
            at += 1
        if at == 0:
            return None
        return self.events[at - 1]["seq"]

    # --- reading ---------------------------------------------------------------------------

    def window(self, after: int, size: int) -> list[dict]:
        """Return up to ``size`` durable events after ``after``, in seq order.

        Raises CursorExpired when events after ``after`` were pruned. The caller holds the
        view lock: this takes references, in C."""
        if after < self.pruned_through:
            raise CursorExpired(self.pruned_through)
        begin = bisect_right(self.events, after, key=_seq)
        end = begin + size
        if self.events and self.events[-1]["seq"] > self.durable:  # only inside a batch
            end = min(end, bisect_right(self.events, self.durable, key=_seq))
        return self.events[begin:end]

    def for_resource(self, id: str, limit: int) -> list[dict]:
        """The newest ``limit`` durable events about resource ``id``, newest first."""
        kept = [e for e in self._by_resource.get(id, ()) if e["seq"] <= self.durable]
        return list(reversed(kept[-limit:])) if limit > 0 else []

    def wait(self, after: int, timeout: float) -> bool:
        """Wait until a durable event after ``after`` is recorded, or ``timeout`` seconds
        pass."""
        with self.changed:
            self.waiting += 1
            try:
                return self.changed.wait_for(lambda: self.durable > after, timeout)
            finally:
                self.waiting -= 1

    def table(self, events: Iterable[dict]) -> dict[str, dict]:
        """The snapshot's ``events`` table for ``events``."""
        return {str(e["seq"]): e for e in events}

    def state(self) -> dict[str, dict]:
        """The snapshot's ``feed`` table (empty until something was pruned)."""
        return {"state": {"pruned_through": self.pruned_through}} if self.pruned_through else {}
