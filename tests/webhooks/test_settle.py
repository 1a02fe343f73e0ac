"""The group commit of finished attempts, as plain code: a store that records each write."""

from __future__ import annotations

import threading

from tests.live import wait_for
from webhooks.settle import Settler


class SlowStore:
    """Holds the first write until ``go`` is set; notes what each write held."""

    def __init__(self, fail: bool = False):
        self.writes: list[list[str]] = []
        self.go = threading.Event()
        self.fail = fail

    def put_records(self, table: str, records: dict) -> None:
        assert table == "webhook_deliveries"
        if not self.writes:
            self.writes.append(sorted(records))
            self.go.wait(10)
        else:
            self.writes.append(sorted(records))
        if self.fail:
            raise OSError("disk full")


def settle_in_threads(settler: Settler, store: SlowStore, count: int) -> list:
    """Put ``count`` deliveries from as many threads, the first alone; return what each raised."""
    raised: list = [None] * count

    def put(i: int) -> None:
        try:
            settler.put({"key": f"k{i}"})
        except OSError as exc:
            raised[i] = exc

    threads = [threading.Thread(target=put, args=(i,)) for i in range(count)]
    threads[0].start()
    wait_for(lambda: store.writes, 10, "the first write begun")
    for thread in threads[1:]:
        thread.start()
    wait_for(lambda: len(settler._waiting) == count - 1, 10, "the others waiting")
    store.go.set()
    for thread in threads:
        thread.join(10)
    return raised


def test_deliveries_that_end_together_are_written_in_one_step():
    store = SlowStore()
    raised = settle_in_threads(Settler(store), store, 6)
    assert raised == [None] * 6
    assert store.writes == [["k0"], ["k1", "k2", "k3", "k4", "k5"]]


def test_each_waiter_raises_what_its_write_raised():
    store = SlowStore(fail=True)
    raised = settle_in_threads(Settler(store), store, 3)
    assert all(isinstance(exc, OSError) for exc in raised)
    assert len(store.writes) == 2


def test_one_alone_is_written_at_once():
    store = SlowStore()
    store.go.set()
    settler = Settler(store)
    settler.put({"key": "a"})
    settler.put({"key": "b"})
    assert store.writes == [["a"], ["b"]]
