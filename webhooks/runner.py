"""One endpoint's deliveries, in the process that holds its lease (see ``worker``).

``pending`` holds this endpoint's queued deliveries (state ``pending``) by seq: for each
resource, the one with the lowest seq is its *head*, the only one that may be sent; the others
wait behind it. A head with ``next_at`` None or past is due.

Each attempt's delivery is durable before its thread goes on (``webhooks.settle``); the cursor
moves past a batch only later. So a runner that starts (after a crash, or taking the endpoint
over) finds the events past the cursor that were already settled, ``done``, and skips them:
only an attempt that was in flight when the process died is made again.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

from storage.errors import StoreError
from webhooks import endpoints
from webhooks.delivery import (
    LeaseLost,
    attempt,
    claim,
    delivery_key,
    log_entry,
    next_delay,
    release,
    resource_of,
)
from webhooks.endpoints import DELIVERIES
from webhooks.metrics import outcome_of
from webhooks.settle import Settler

log = logging.getLogger("roster.webhooks")
# Seconds between two prunings of an endpoint's delivery log.
PRUNE_EVERY = 600.0


class Runner:
    """Deliver one endpoint's events until stopped, disabled, deleted or out-leased."""

    def __init__(self, worker, endpoint_id: str):
        self.worker = worker
        self.store = worker.store
        self.settings = worker.settings
        self.id = endpoint_id
        self.record: dict = {}
        self.pending: dict[int, dict] = {}
        self.done: set[int] = set()  # seqs past the cursor already succeeded or dead
        self.requeue = None
        self._lease_lock = threading.Lock()
        self._pruned = 0.0
        self._pool = ThreadPoolExecutor(self.settings.in_flight, f"webhook-{endpoint_id}")
        self._settler = Settler(self.store)

    def run(self) -> None:
        try:
            self._renew()
            while not self.worker.stopping.is_set():
                self._refresh()
                busy = self._round()
                if not busy:
                    self._idle()
        except LeaseLost:
            pass
        except StoreError as exc:  # an outage explains itself: no traceback
            log.warning("webhook %s: delivery stopped (%s); it resumes next round", self.id, exc)
        except Exception:
            log.exception("webhook %s: delivery stopped; it resumes on the next round", self.id)
        finally:
            self._pool.shutdown(wait=True)
            try:
                release(self.store, self.id, self.worker.owner)
            except Exception:
                log.warning("webhook %s: lease not released; it expires on its own", self.id)

    # --- the lease and the endpoint record ---------------------------------------------------

    def _renew(self) -> None:
        """Take the lease again, and with it the endpoint record as it is now."""
        with self._lease_lock:
            record = claim(self.store, self.id, self.worker.owner, self.settings)
            if record is None:
                raise LeaseLost(self.id)
            self.record = record

    def _refresh(self) -> None:
        """Read the endpoint again (an admin may have disabled it, replayed or requeued); take
        the lease again only past half its time, so that an idle round writes nothing."""
        record = self.store.get_record(endpoints.TABLE, self.id)
        lease = (record or {}).get("lease") or {}
        if record is None or not record["enabled"] or lease.get("owner") != self.worker.owner:
            raise LeaseLost(self.id)
        self.record = record
        if lease["until"] - time.time() < self.settings.lease_seconds / 2:
            self._renew()

    def _hold(self) -> None:
        """Before an attempt: make sure the lease outlasts it (twice the timeout, and a second)."""
        margin = 2 * self.settings.timeout + 1
        if self.record["lease"]["until"] - time.time() < margin:
            self._renew()

    def _edit(self, edit) -> None:
        with self._lease_lock:
            record = self.store.update_record(endpoints.TABLE, self.id, edit)
            if record is None:
                raise LeaseLost(self.id)
            self.record = record

    # --- one round -----------------------------------------------------------------------------

    def _round(self) -> bool:
        """Send what is due; return whether there was anything to do."""
        if self.requeue != self.record["requeue"]:
            self._load_pending()
        if self.record.get("replay_from") is not None:
            self._replay(self.record["replay_from"])
        busy = self._retry_due()
        if time.monotonic() - self._pruned > PRUNE_EVERY:
            self._prune()
        return self._follow() or busy

    def _idle(self) -> None:
        due = [d["next_at"] for d in self._heads() if d["next_at"] is not None]
        wait_for = self.settings.poll_seconds
        if due:
            wait_for = max(0.0, min(wait_for, min(due) - time.time()))
        self.store.wait_for_event(self.record["cursor"], wait_for)

    def _load_pending(self) -> None:
        """Read the queued deliveries, and those settled past the cursor (one scan)."""
        self.requeue = self.record["requeue"]
        cursor, replays = self.record["cursor"], self.record.get("replays", 0)
        mine = self.store.records(DELIVERIES, lambda r: r["endpoint"] == self.id)
        self.pending = {d["seq"]: d for d in mine if d["state"] == "pending"}
        # Settled in this pass over the log (a replay starts a new one, whose events go again).
        self.done = {
            d["seq"]
            for d in mine
            if d["state"] != "pending" and d["seq"] > cursor and d.get("replay", 0) == replays
        }

    def _replay(self, seq: int) -> None:
        def edit(record: dict) -> dict:
            record["cursor"] = seq
            record["replay_from"] = None
            record["replays"] = record.get("replays", 0) + 1
            return record

        self._edit(edit)
        self.done = set()

    def _prune(self) -> None:
        """Drop settled deliveries older than the events themselves (a scan, so seldom)."""
        self._pruned = time.monotonic()
        cutoff = time.time() - self.settings.log_retention_seconds

        def old(d: dict) -> bool:
            last = d["attempts"][-1]["time"] if d["attempts"] else None
            return d["endpoint"] == self.id and d["state"] != "pending" and last and last < cutoff

        for delivery in self.store.records(DELIVERIES, old):
            self.store.delete_record(DELIVERIES, delivery["key"])

    # --- queued deliveries: retries, and events waiting behind a failed one -----------------

    def _heads(self) -> list[dict]:
        heads: dict[str, dict] = {}
        for seq in sorted(self.pending):
            delivery = self.pending[seq]
            heads.setdefault(delivery["resource"], delivery)
        return list(heads.values())

    def _retry_due(self) -> bool:
        now = time.time()
        due = [d for d in self._heads() if d["next_at"] is None or d["next_at"] <= now]
        for future in wait([self._pool.submit(self._retry, d) for d in due]).done:
            future.result()
        return bool(due)

    def _retry(self, delivery: dict) -> None:
        self._hold()
        self._send(delivery)
        if delivery["state"] != "pending":
            self.pending.pop(delivery["seq"], None)
            # Queued past the cursor before a restart: its batch is read again, and must not
            # send it once more.
            if delivery["seq"] > self.record["cursor"]:
                self.done.add(delivery["seq"])

    def _send(self, delivery: dict) -> None:
        """Make one attempt, note it in the delivery log (durable before this returns), and
        judge the endpoint."""
        outcome = attempt(self.record, delivery["event"], self.settings)
        made = len(delivery["attempts"]) + 1
        next_at = None
        if outcome.ok:
            delivery["state"] = "succeeded"
        else:
            delay = next_delay(self.settings, made, outcome)
            delivery["state"] = "pending" if delay is not None else "dead"
            next_at = time.time() + delay if delay is not None else None
        delivery["next_at"] = next_at
        delivery["attempts"].append({**log_entry(outcome, next_at), "by": self.worker.owner})
        self.worker.tally.add(self.id, outcome_of(delivery["state"]))
        self._settler.put(delivery)
        self._judge(outcome)

    def _judge(self, outcome) -> None:
        """Note success or failure on the endpoint: 410 or 5 days of failures disable it."""
        record = self.record
        if outcome.ok:
            if record["failing_since"] is not None:
                self._edit(lambda r: {**r, "failing_since": None})
            return
        now = time.time()
        reason = None
        if outcome.status == 410:
            reason = "the endpoint answered 410 Gone"
        elif record["failing_since"] is None:
            self._edit(lambda r: {**r, "failing_since": r["failing_since"] or now})
        elif now - record["failing_since"] > self.settings.disable_after_seconds:
            reason = "every delivery failed for 5 days"
        if reason is not None:
            endpoints.set_enabled(self.store, self.id, False, reason)
            log.warning("webhook %s disabled: %s", self.id, reason)
            raise LeaseLost(self.id)

    # --- following the event log ------------------------------------------------------------

    def _follow(self) -> bool:
        record = self.record
        types = frozenset(record["types"]) or None
        batch = self.settings.batch
        events, next_after, _ = self.store.events(record["cursor"], batch, types=types)
        chains: dict[str, list[dict]] = {}
        for event in events:
            if event["seq"] not in self.done and endpoints.wants(record, event):
                chains.setdefault(resource_of(event), []).append(event)
        blocked = {d["resource"] for d in self.pending.values()}
        queued: dict[str, dict] = {}
        futures = []
        for resource, chain in chains.items():
            if resource in blocked:
                self._queue(chain, queued)
            else:
                futures.append(self._pool.submit(self._chain, chain, queued))
        for future in wait(futures).done:
            future.result()
        # The deliveries queued behind a failed one first, then the cursor past the batch: a
        # crash in between reads the batch again, and skips what was settled (``done``).
        self.store.put_records(DELIVERIES, queued)
        if next_after != record["cursor"]:
            self._edit(lambda r: {**r, "cursor": max(r["cursor"], next_after)})
            self.done = {seq for seq in self.done if seq > self.record["cursor"]}
        return bool(events)

    def _chain(self, chain: list[dict], queued: dict) -> None:
        """Send one resource's events in order; on a failure, queue the rest behind it."""
        for index, event in enumerate(chain):
            self._hold()
            delivery = self._new(event)
            self._send(delivery)
            if delivery["state"] == "pending":
                self.pending[delivery["seq"]] = delivery
                self._queue(chain[index + 1 :], queued)
                return

    def _queue(self, events: list[dict], queued: dict) -> None:
        for event in events:
            if event["seq"] in self.pending:  # queued before a crash: keep its attempts
                continue
            delivery = self._new(event)
            queued[delivery["key"]] = delivery
            self.pending[event["seq"]] = delivery

    def _new(self, event: dict) -> dict:
        return {
            "key": delivery_key(self.id, event["seq"]),
            "endpoint": self.id,
            "seq": event["seq"],
            "event_id": event["id"],
            "type": event["type"],
            "resource": resource_of(event),
            "state": "pending",
            "next_at": None,
            "attempts": [],
            "event": event,
            # The pass over the log it belongs to (see ``_load_pending``).
            "replay": self.record.get("replays", 0),
        }
