"""What delivery needs of the store, on both backends: a lease only one owner holds at a time,
and a delivery log pruned after the events' retention. (``put_records``, which writes a batch's
deliveries in one step, is in the store contract: ``tests/storage/test_contract.py``.)"""

from __future__ import annotations

import time

from webhooks import endpoints
from webhooks.delivery import Settings, claim, gone, release

SETTINGS = Settings(lease_seconds=4.0, timeout=1.0)


def test_one_owner_holds_the_lease_until_it_expires_or_is_released(store):
    record, _ = endpoints.add(store, "http://127.0.0.1:9/", allow_private=True)
    assert claim(store, record["id"], "a", SETTINGS) is not None
    assert claim(store, record["id"], "b", SETTINGS) is None
    assert claim(store, record["id"], "a", SETTINGS) is not None  # renewal
    release(store, record["id"], "a")
    assert claim(store, record["id"], "b", SETTINGS) is not None
    # An expired lease (a process killed while holding it) is free.
    expired = {"owner": "b", "until": time.time() - 1}
    store.update_record("webhooks", record["id"], lambda r: {**r, "lease": expired})
    assert claim(store, record["id"], "a", SETTINGS) is not None


def test_a_disabled_endpoint_is_not_claimed(store):
    record, _ = endpoints.add(store, "http://127.0.0.1:9/", allow_private=True)
    endpoints.set_enabled(store, record["id"], False)
    assert claim(store, record["id"], "a", SETTINGS) is None


def test_settled_deliveries_older_than_the_retention_are_pruned(store):
    from webhooks.delivery import Settings
    from webhooks.runner import Runner

    record, _ = endpoints.add(store, "http://127.0.0.1:9/", allow_private=True)
    old = {"time": time.time() - 100}
    rows = {
        "old": {"key": "old", "endpoint": record["id"], "state": "succeeded", "attempts": [old]},
        "queued": {
            "key": "queued",
            "endpoint": record["id"],
            "state": "pending",
            "attempts": [old],
        },
        "new": {
            "key": "new",
            "endpoint": record["id"],
            "state": "dead",
            "attempts": [{"time": time.time()}],
        },
    }
    store.put_records("webhook_deliveries", rows)
    worker = type("W", (), {"store": store, "settings": Settings(log_retention_seconds=50)})()
    Runner(worker, record["id"])._prune()
    assert sorted(r["key"] for r in store.records("webhook_deliveries")) == ["new", "queued"]


def test_a_lease_is_taken_from_a_process_that_no_longer_runs_here(store):
    import os
    import socket
    import subprocess
    import sys

    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = f"{socket.gethostname()}:{finished.stdout.strip()}:abc"
    alive = f"{socket.gethostname()}:{os.getppid()}:abc"
    assert gone(dead) and not gone(alive) and not gone(f"elsewhere:{finished.stdout.strip()}:a")
    record, _ = endpoints.add(store, "http://127.0.0.1:9/", allow_private=True)
    lease = {"owner": dead, "until": time.time() + 60}
    store.update_record("webhooks", record["id"], lambda r: {**r, "lease": lease})
    assert claim(store, record["id"], "me", SETTINGS) is None
    assert claim(store, record["id"], "me", SETTINGS, take_from=dead) is not None
