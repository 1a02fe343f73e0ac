"""Request ids, the process log, the probes and ``/metrics`` (``monitoring``), through the test
client and real servers."""
