"""The pieces of delivery as plain functions: settings, keys, one signed attempt, the log
entry, and the lease that gives one process an endpoint (see ``worker``)."""

from __future__ import annotations

import os
import random
import socket
import time
from dataclasses import dataclass, field

from storage.interface import Store
from webhooks import endpoints, sender, signing, urls

# Retry after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h: about three days.
SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
# Longest Retry-After honoured; a longer one waits this long.
MAX_RETRY_AFTER = 86400.0


@dataclass
class Settings:
    """``[webhooks]`` in config.toml; tests shrink the times."""

    schedule: list[float] = field(default_factory=lambda: list(SCHEDULE))
    timeout: float = 15.0
    in_flight: int = 8
    batch: int = 100
    lease_seconds: float = 60.0
    disable_after_seconds: float = 5 * 86400.0
    allow_private: bool = False
    poll_seconds: float = 1.0
    # Settled deliveries are kept as long as the events ([events] retention_days).
    log_retention_seconds: float = 30 * 86400.0
    # CAs trusted beside the system's for https endpoints (a PEM file; "" for none).
    ca_file: str = ""
    # How names are resolved (socket.getaddrinfo); tests play a DNS server with it.
    resolve: urls.Resolver = socket.getaddrinfo

    @classmethod
    def from_config(cls, values: dict) -> Settings:
        return cls(
            schedule=[float(s) for s in values["webhook_retry_schedule"]],
            timeout=float(values["webhook_timeout"]),
            in_flight=values["webhook_in_flight"],
            lease_seconds=float(values["webhook_lease_seconds"]),
            disable_after_seconds=values["webhook_disable_after_days"] * 86400.0,
            allow_private=values["webhook_allow_private_networks"],
            log_retention_seconds=values["event_retention_days"] * 86400.0,
            ca_file=values["webhook_ca_file"],
        )


class LeaseLost(Exception):
    """Another process holds the endpoint now (or it was disabled or deleted)."""


def delivery_key(endpoint_id: str, seq: int) -> str:
    """The key of one event's delivery to one endpoint: sortable by seq."""
    return f"{endpoint_id}:{seq:020d}"


def resource_of(event: dict) -> str:
    resource = event.get("resource") or {}
    return f"{resource.get('type')}:{resource.get('id')}"


def attempt(record: dict, event: dict, settings: Settings) -> sender.Outcome:
    """Sign and send one event to one endpoint, checking its URL again first: the name is
    resolved once, and the attempt connects to an address that passed the check."""
    try:
        addresses = urls.check(record["url"], settings.allow_private, settings.resolve)
    except urls.UnsafeURL as exc:
        return sender.Outcome(None, 0.0, error=str(exc))
    payload = signing.body(event)
    secrets = [s["secret"] for s in endpoints.live(record)]
    headers = signing.headers(secrets, event["id"], int(time.time()), payload)
    return sender.post(
        record["url"], headers, payload, settings.timeout, addresses, settings.ca_file
    )


def log_entry(outcome: sender.Outcome, next_at: float | None) -> dict:
    """One attempt as the delivery log keeps it."""
    return {
        "time": time.time(),
        "status": outcome.status,
        "latency_ms": round(outcome.latency_ms, 1),
        "answer": outcome.answer,
        "error": outcome.error,
        "next_retry": next_at,
    }


def gone(owner: str) -> bool:
    """Whether the lease's owner is a process of this machine that no longer runs: a server
    stopped or killed on this host gives its endpoints up sooner than its lease (see
    ``worker``)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it runs, as another user
        return False
    return False


def free(lease: dict | None, owner: str, now: float, take_from: str | None = None) -> bool:
    """Whether ``owner`` may take the endpoint: no lease, its own, expired, or ``take_from``'s
    (a process of this machine that is gone)."""
    return lease is None or lease["owner"] in (owner, take_from) or lease["until"] < now


def claim(
    store: Store, endpoint_id: str, owner: str, settings: Settings, take_from: str | None = None
) -> dict | None:
    """Take or renew the endpoint's lease in one step; return the record, or None when another
    process holds it, or the endpoint is disabled or gone."""
    now = time.time()
    won = False

    def edit(record: dict) -> dict:
        nonlocal won
        if record["enabled"] and free(record.get("lease"), owner, now, take_from):
            record["lease"] = {"owner": owner, "until": now + settings.lease_seconds}
            won = True
        return record

    record = store.update_record(endpoints.TABLE, endpoint_id, edit)
    return record if won else None


def release(store: Store, endpoint_id: str, owner: str) -> None:
    def edit(record: dict) -> dict:
        if (record.get("lease") or {}).get("owner") == owner:
            record["lease"] = None
        return record

    store.update_record(endpoints.TABLE, endpoint_id, edit)


def next_delay(settings: Settings, attempts: int, outcome: sender.Outcome) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones, or None: dead letter.

    The schedule's step, give or take 10 % (jitter, so that endpoints that failed together do
    not all come back at the same second); a 429 or 503 waits what its Retry-After asks."""
    if attempts > len(settings.schedule):
        return None
    if outcome.status in (429, 503) and outcome.retry_after is not None:
        return min(outcome.retry_after, MAX_RETRY_AFTER)
    return settings.schedule[attempts - 1] * random.uniform(0.9, 1.1)
