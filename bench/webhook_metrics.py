"""What a /metrics scrape costs for the webhook figures, against a large delivery log:

    .venv/bin/python bench/webhook_metrics.py                     # TinyDB
    .venv/bin/python bench/webhook_metrics.py --backend postgres  # a throwaway cluster

The store is filled with ``--settled`` delivered deliveries and ``--pending`` waiting ones
spread over ``--endpoints`` endpoints. Then, alternately (so that both see the same machine),
the webhook collector (``webhooks.metrics``: the pending deliveries through the store's index,
and per endpoint one delivery and one event) and what it replaces, a scan of the delivery log
for the pending deliveries. Printed: the p50 of each and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

import storage  # noqa: E402
from app import create_app  # noqa: E402
from bench.run import database  # noqa: E402
from webhooks.endpoints import DELIVERIES, TABLE  # noqa: E402
from webhooks.metrics import DeliveryCollector  # noqa: E402

CHUNK = 5_000


def delivery(endpoint: str, seq: int, state: str) -> dict:
    event = {
        "id": f"ev{seq}",
        "seq": seq,
        "type": "user.created",
        "occurred_at": "2026-12-01T00:00:00.000Z",
        "resource": {"type": "User", "id": f"u{seq}"},
    }
    return {
        "key": f"{endpoint}:{seq:020d}",
        "endpoint": endpoint,
        "seq": seq,
        "state": state,
        "attempts": [] if state == "pending" else [{"time": time.time(), "status": 200}],
        "event": event,
        "resource": f"User:u{seq}",
        "next_at": None,
    }


def fill(store, endpoints: int, settled: int, pending: int) -> None:
    names = [f"endpoint{n}" for n in range(endpoints)]
    for name in names:
        store.put_record(TABLE, name, {"id": name, "types": [], "idps": [], "enabled": True,
                                       "cursor": store.last_seq()})  # fmt: skip
    rows = [(names[n % endpoints], n + 1, "succeeded") for n in range(settled)]
    rows += [(names[n % endpoints], settled + n + 1, "pending") for n in range(pending)]
    for start in range(0, len(rows), CHUNK):
        chunk = [delivery(*row) for row in rows[start : start + CHUNK]]
        store.put_records(DELIVERIES, {d["key"]: d for d in chunk})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("tinydb", "postgres"), default="tinydb")
    parser.add_argument("--database-url", help="PostgreSQL server for --backend postgres")
    parser.add_argument("--settled", type=int, default=200_000)
    parser.add_argument("--pending", type=int, default=1_000)
    parser.add_argument("--endpoints", type=int, default=5)
    parser.add_argument("--scrapes", type=int, default=20)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="roster-metrics-bench-"))
    cluster = None
    if args.backend == "postgres" and not args.database_url:
        from tests.pgcluster import Cluster

        cluster = Cluster().start()
        args.database_url = cluster.dsn()
    config = {"data_dir": str(work / "data"), "secret_key": "bench"}
    config.update(enabled=True, allow=["127.0.0.1/32"])
    if args.backend == "postgres":
        dsn = database(args.database_url, "roster_metrics_bench")
        config.update(backend="postgres", database_url=dsn)
    app = create_app(config)
    try:
        store = storage.get_store(app)
        fill(store, args.endpoints, args.settled, args.pending)
        collector = DeliveryCollector(app)
        scrape, scan = [], []
        for _ in range(args.scrapes):
            started = time.perf_counter()
            list(collector.collect())
            scrape.append(time.perf_counter() - started)
            started = time.perf_counter()
            store.records(DELIVERIES, lambda r: r["state"] == "pending")
            scan.append(time.perf_counter() - started)
        a, b = statistics.median(scrape) * 1000, statistics.median(scan) * 1000
        print(f"{args.backend}: {args.settled:,} settled + {args.pending:,} pending deliveries,"
              f" {args.endpoints} endpoints, {args.scrapes} scrapes")  # fmt: skip
        print(f"  webhook collector p50 {a:8.2f} ms")
        print(f"  delivery log scan p50 {b:8.2f} ms  (x{b / a:.0f} the collector)")
    finally:
        storage.close_store(app)
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
