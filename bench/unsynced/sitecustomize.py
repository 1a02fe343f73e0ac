"""For the benchmark only, in a Roster server ``bench/run.py --peer`` starts with this folder
on ``PYTHONPATH``:

- ``BENCH_UNSYNCED=1``: ``os.fsync`` does nothing. Run beside the real thing, the difference
  is what waiting for the disk costs a POST, measured rather than inferred from samples (a
  sampler stretches a blocking call like fsync). Never use it to serve: nothing written
  would survive a crash.
- ``BENCH_PARTS=<file>``: timers around the parts of a POST (``bench/parts.py``), written to
  that file when the server stops.
"""

import os
import sys

if os.environ.get("BENCH_UNSYNCED") == "1":
    os.fsync = lambda fd: None

if os.environ.get("BENCH_PARTS"):
    # The project is not on sys.path yet (the script's folder is added after this runs).
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    from bench import parts

    parts.install(os.environ["BENCH_PARTS"])
