"""Each attempt's outcome made durable as soon as the attempt ends, before its thread starts
another: so after a crash, only the attempts that were in flight are made again.

The attempts of one endpoint end in up to ``in_flight`` threads at once; their deliveries are
written together (group commit): the first thread to arrive writes every delivery waiting at
that moment in one step (one journal line and fsync, or one transaction), the others wait for
the write that holds theirs. One write per attempt when attempts end one at a time, far fewer
when they end together.
"""

from __future__ import annotations

import threading

from storage.interface import Store
from webhooks.endpoints import DELIVERIES


class _Ticket:
    """One delivery waiting to be written; ``error`` is what its write raised."""

    def __init__(self):
        self.error: BaseException | None = None


class Settler:
    """Write deliveries durably, several in one step when they arrive together."""

    def __init__(self, store: Store):
        self.store = store
        self._changed = threading.Condition()
        self._waiting: dict[str, dict] = {}
        self._tickets: list[_Ticket] = []
        self._filling = 0  # the number of the group being filled
        self._written = -1  # the number of the last group written (or failed)
        self._writing = False

    def put(self, delivery: dict) -> None:
        """Return once ``delivery`` is durable; raise what its write raised."""
        ticket = _Ticket()
        with self._changed:
            self._waiting[delivery["key"]] = delivery
            self._tickets.append(ticket)
            mine = self._filling
            while self._written < mine:
                if self._writing:
                    self._changed.wait()
                else:
                    self._write_group()
        if ticket.error is not None:
            raise ticket.error

    def _write_group(self) -> None:
        """Write every waiting delivery (caller holds ``_changed``; released while writing)."""
        group, tickets, number = self._waiting, self._tickets, self._filling
        self._waiting, self._tickets = {}, []
        self._filling += 1
        self._writing = True
        self._changed.release()
        error = None
        try:
            self.store.put_records(DELIVERIES, group)
        except BaseException as exc:  # each waiter raises it in its own thread
            error = exc
        finally:
            self._changed.acquire()
            for ticket in tickets:
                ticket.error = error
            self._written = number
            self._writing = False
            self._changed.notify_all()
