"""For the benchmark only: with this folder on ``PYTHONPATH`` and ``BENCH_UNSYNCED=1``, a
Python process's ``os.fsync`` does nothing. ``bench/run.py --peer`` runs Roster so once beside
the real thing: the difference is what waiting for the disk costs a POST, measured rather
than inferred from samples (a sampler stretches a blocking call like fsync). Never use it to
serve: nothing written would survive a crash."""

import os

if os.environ.get("BENCH_UNSYNCED") == "1":
    os.fsync = lambda fd: None
