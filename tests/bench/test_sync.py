"""The Entra-shaped sync's verdicts (``bench/sync.py``): the least time a load can take given
the CPU it used, and the reason a failed target prints."""

from __future__ import annotations

import os

from bench.sync import _why, floor_s

RUN = {"server_cpu_s": 3.0, "database_cpu_s": 2.0, "client_cpu_s": 1.0}


def test_with_one_client_thread_the_cpu_seconds_add_up():
    assert floor_s(RUN, 1) == 6.0


def test_with_more_threads_the_cpus_are_shared_but_the_server_runs_one_thread_at_a_time():
    cpus = os.cpu_count() or 1
    assert floor_s(RUN, 4) == max(3.0, 6.0 / cpus)
    assert floor_s({"server_cpu_s": 5.0, "database_cpu_s": 1.0}, 4) == max(5.0, 6.0 / cpus)


def test_the_reason_says_whether_the_cpu_alone_exceeds_the_time_allowed():
    assert "cannot pass" in _why(RUN, 5.0, 1) and "about 6.0 s" in _why(RUN, 5.0, 1)
    assert "within the 7.0 s allowed" in _why(RUN, 7.0, 1)
    assert _why({"total_s": 9.0}, 5.0, 1) == ""  # nothing measured, nothing claimed
