"""A PostgreSQL outage drill: what a running Roster answers while its database is stopped.

    .venv/bin/python bench/outage.py                 # a 10 s stop
    .venv/bin/python bench/outage.py --down 30 --clients 4

Starts a throwaway durable cluster (``tests/pgcluster.py``) and ``python app.py`` on it, and
sends requests one after another from each client (half create Users, half list them). After
a few seconds of normal service the database is stopped (``pg_ctl stop -m fast``) for
``--down`` seconds, then started again. Prints the answers by status and the slowest of them,
for requests answered before the stop, those under way during it, and those sent after it,
and how long after the database came back the first request succeeded.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

import tokens  # noqa: E402
from providers import create_idp  # noqa: E402
from storage.postgres.store import PostgresStore  # noqa: E402
from tests.live import LiveServer  # noqa: E402
from tests.pgcluster import Cluster  # noqa: E402

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def drive(server: LiveServer, base: str, token: str, kind: str, stop, results: list) -> None:
    """Send requests one after another until ``stop`` is set; keep (start, end, status)."""
    for n in itertools.count():
        if stop.is_set():
            return
        started = time.monotonic()
        if kind == "POST":
            body = {"schemas": [CORE], "userName": f"{threading.get_ident()}-{n}"}
            status = server.request("POST", base, token, body)[0]
        else:
            status = server.request("GET", f"{base}?count=1", token)[0]
        results.append((started, time.monotonic(), status))


def summary(label: str, rows: list) -> str:
    statuses = collections.Counter(status for _, _, status in rows)
    slowest = max((end - start for start, end, _ in rows), default=0.0)
    counts = ", ".join(f"{n} × {status}" for status, n in sorted(statuses.items()))
    return f"{label:8} {len(rows):5} requests  {counts or '-':30}  slowest {slowest:5.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", type=float, default=10.0, help="seconds the database is down")
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args(argv)
    cluster = Cluster(durable=True).start()
    try:
        dsn = cluster.create_database("roster_outage")
        store = PostgresStore(dsn)
        idp = create_idp(store, "Drill", "generic")["id"]
        token = tokens.issue(store, idp)
        store.close()
        env = {"ROSTER_DATABASE_URL": dsn, "ROSTER_SECRET_KEY": "outage drill"}
        with tempfile.TemporaryDirectory() as data, LiveServer(Path(data), env=env) as server:
            results: list = []
            stop = threading.Event()
            kinds = itertools.islice(itertools.cycle(["POST", "GET"]), args.clients)
            clients = [
                threading.Thread(
                    target=drive, args=(server, f"/scim/v2/{idp}/Users", token, k, stop, results)
                )
                for k in kinds
            ]
            for client in clients:
                client.start()
            time.sleep(3)  # normal service first
            down = time.monotonic()
            cluster.halt()
            time.sleep(args.down)
            cluster.resume()
            up = time.monotonic()
            time.sleep(5)
            stop.set()
            for client in clients:
                client.join()
    finally:
        cluster.stop()
    print(f"database stopped for {up - down:.1f} s (pg_ctl stop -m fast, then start)")
    print(summary("before", [r for r in results if r[1] < down]))
    print(summary("during", [r for r in results if r[1] >= down and r[0] < up]))
    after = [r for r in results if r[0] >= up]
    print(summary("after", after))
    first = min((end for _, end, status in results if end >= up and status < 300), default=None)
    print("first answer 2xx after the database came back:", f"{first - up:.2f} s" if first else "-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
