"""The PostgreSQL store's housekeeping in the background (``storage.postgres.background``): one
job at a time, the ``Analyzer`` and ``Pruner`` that use it. No database: the jobs are held back
by events, so what runs while one runs is decided, not raced."""

from __future__ import annotations

import contextlib
import logging
import threading

from storage.errors import StoreError
from storage.postgres.background import BackgroundJob
from storage.postgres.pg_analyze import Analyzer
from storage.postgres.pg_events import Pruner

WAIT = 10  # seconds: a bound on waits that end at once when all is well


class HeldJob:
    """A job that counts its runs and, while ``hold`` is clear, waits inside each run."""

    def __init__(self, fail: Exception | None = None):
        self.runs = 0
        self.inside = threading.Event()
        self.hold = threading.Event()
        self.fail = fail

    def __call__(self) -> int:
        self.runs += 1
        self.inside.set()
        assert self.hold.wait(WAIT), "the test never let the job finish"
        if self.fail is not None:
            raise self.fail
        return 0


def test_a_job_runs_once_at_a_time_and_again_once_it_has_finished():
    held = HeldJob()
    job = BackgroundJob(held, "test-job")
    assert job.start()
    assert held.inside.wait(WAIT)
    assert not job.start()  # running: nothing started
    held.hold.set()
    job.join()
    assert held.runs == 1
    assert job.start()  # finished: it runs again
    job.join()
    assert held.runs == 2


def test_join_without_a_running_job_returns():
    job = BackgroundJob(HeldJob(), "test-job")
    job.join()


def test_the_job_runs_on_a_thread_of_its_own_named_for_it():
    seen = []
    job = BackgroundJob(lambda: seen.append(threading.current_thread()), "roster-test")
    job.start()
    job.join()
    assert seen[0] is not threading.current_thread() and seen[0].name == "roster-test"


def test_the_pruner_waits_its_interval_before_the_first_pruning():
    held = HeldJob()
    held.hold.set()
    pruner = Pruner(held, every=3600)
    pruner.written()
    pruner.wait()
    assert held.runs == 0


def test_the_pruner_prunes_once_while_writes_keep_coming():
    held = HeldJob()
    pruner = Pruner(held, every=0)
    pruner.written()
    assert held.inside.wait(WAIT)
    pruner.written()  # while it prunes: not a second one
    held.hold.set()
    pruner.wait()
    assert held.runs == 1


def test_a_failed_pruning_is_logged_and_the_next_write_tries_again(caplog):
    held = HeldJob(fail=StoreError("the database is gone"))
    held.hold.set()
    pruner = Pruner(held, every=0)
    with caplog.at_level(logging.WARNING, logger="storage.postgres.pg_events"):
        pruner.written()
        pruner.wait()
        pruner.written()
        pruner.wait()
    assert held.runs == 2
    assert [r.getMessage() for r in caplog.records] == [
        "pruning change events failed: the database is gone"
    ] * 2


class HeldPool:
    """A pool whose connection's ``ANALYZE`` runs ``held``; the table then has ``rows``."""

    def __init__(self, held: HeldJob, rows: int):
        self.held = held
        self.rows = rows

    @contextlib.contextmanager
    def connection(self):
        yield self

    def execute(self, query: str):
        if query.startswith("ANALYZE"):
            self.held()
        return self

    def fetchone(self):
        return (self.rows,)


def test_rows_inserted_while_analyze_runs_count_towards_the_next_one():
    held = HeldJob()
    analyzer = Analyzer(HeldPool(held, rows=0))
    analyzer.inserted(Analyzer.LEAST - 1)
    analyzer.wait()
    assert held.runs == 0  # below the threshold: nothing ran
    analyzer.inserted(1)
    assert held.inside.wait(WAIT)
    analyzer.inserted(Analyzer.LEAST)  # while it runs: counted, not started
    held.hold.set()
    analyzer.wait()
    assert held.runs == 1
    analyzer.inserted(0)  # the rows counted meanwhile are enough on their own
    analyzer.wait()
    assert held.runs == 2


def test_a_failed_analyze_is_logged_with_its_traceback(caplog):
    held = HeldJob(fail=RuntimeError("the pool is closed"))
    held.hold.set()
    analyzer = Analyzer(HeldPool(held, rows=0))
    with caplog.at_level(logging.WARNING, logger="storage.postgres.store"):
        analyzer.inserted(Analyzer.LEAST)
        analyzer.wait()
    [record] = caplog.records
    assert record.getMessage() == "ANALYZE after a bulk load failed" and record.exc_info
