"""Delivery inside the server: one supervisor thread per process and one runner per endpoint.

Each endpoint follows the event log from its own durable ``cursor``. Ordering is per resource:
a resource whose event failed is *blocked*; its later events are queued behind it (records of
``webhook_deliveries`` in state ``pending``, no attempt yet) and go out, in ``seq`` order, once
it succeeded or was dead-lettered. Other resources keep flowing. Each attempt's outcome is
durable before its thread starts another; the cursor moves past a batch of events once each of
them is settled or queued, and a runner that starts skips the events past the cursor already
settled. So a crash re-sends only the attempts that were in flight, with the same
``webhook-id`` (at least once; receivers deduplicate on it).

Several processes (PostgreSQL) share the endpoints through a *lease* on each endpoint record,
taken and renewed in one read-modify-write step: only its holder delivers for that endpoint.
An attempt starts only while the lease has more than twice the timeout left, so it is over
before another process may take the endpoint (this assumes the processes' clocks agree to
within the lease's margin). A process killed with its lease expires after ``lease_seconds``;
on the same machine, a process that no longer runs loses it once the timeout has passed since
it was noticed gone (a restart resumes delivery within seconds).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from storage.errors import StoreError
from storage.interface import Store
from webhooks import endpoints
from webhooks.delivery import Settings, claim, free, gone
from webhooks.metrics import Tally
from webhooks.runner import Runner

log = logging.getLogger("roster.webhooks")


class Worker:
    """This process's share of the deliveries: a supervisor that claims endpoints."""

    def __init__(self, store: Store, settings: Settings, tally: Tally | None = None):
        self.store = store
        self.settings = settings
        # The attempts this process makes, for /metrics (``webhooks.metrics``).
        self.tally = tally or Tally()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stopping = threading.Event()
        self.runners: dict[str, threading.Thread] = {}
        self._gone_since: dict[str, float] = {}
        self._thread = threading.Thread(target=self._supervise, name="webhooks", daemon=True)

    def start(self) -> Worker:
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop delivering: runners finish their attempt in flight and release their leases."""
        self.stopping.set()
        self._thread.join(timeout)
        for thread in list(self.runners.values()):
            thread.join(timeout)

    def _supervise(self) -> None:
        while not self.stopping.is_set():
            try:
                self._claim_all()
            except StoreError as exc:  # an outage explains itself: no traceback
                log.warning("webhook supervisor round failed: %s", exc)
            except Exception:  # a bug: its traceback; try again on the next round
                log.exception("webhook supervisor round failed")
            self.stopping.wait(self.settings.poll_seconds)

    def _claim_all(self) -> None:
        for record in self.store.records(endpoints.TABLE, lambda r: r["enabled"]):
            thread = self.runners.get(record["id"])
            if thread is not None and thread.is_alive():
                continue
            claimable = self._claimable(record)
            if not claimable:
                continue
            take_from = claimable if isinstance(claimable, str) else None
            if claim(self.store, record["id"], self.owner, self.settings, take_from):
                runner = Runner(self, record["id"])
                thread = threading.Thread(target=runner.run, name=f"webhook-{record['id']}")
                thread.daemon = True
                self.runners[record["id"]] = thread
                thread.start()

    def _claimable(self, record: dict) -> str | bool:
        """Whether this process may take the endpoint now; the owner to take it from, when
        that is a process of this machine that is gone."""
        lease = record.get("lease")
        if free(lease, self.owner, time.time()):
            return True
        if not gone(lease["owner"]):
            return False
        # Its last attempts may have started just before it died: wait out the timeout they
        # had, so that no two attempts of one event are ever in flight at once.
        first = self._gone_since.setdefault(lease["owner"], time.monotonic())
        if time.monotonic() - first < self.settings.timeout:
            return False
        return lease["owner"]
