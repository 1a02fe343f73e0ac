"""CPU per POST /Users inside one process, TinyDB beside PostgreSQL: ``create_app()`` driven by
Flask's test client (no HTTP server, no other client threads), so the difference between the
two rows is what the PostgreSQL store costs Roster's own process per write.

    .venv/bin/python bench/pgcpu.py                     # 1,000 POSTs on each backend
    .venv/bin/python bench/pgcpu.py --profile pg.prof   # and cProfile the PostgreSQL run
    .venv/bin/python bench/pgcpu.py --bulk 1000         # the same users through /Bulk

CPU is the process's (every thread: the request-log writer included), from
``time.process_time``, and PostgreSQL's from /proc (``bench/pgwrites.py``). A throwaway
durable cluster is started unless ``--database-url`` names one.
"""

from __future__ import annotations

import argparse
import cProfile
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

from bench.pgwrites import body, database_cpu  # noqa: E402
from bench.preload import preload  # noqa: E402
from bench.run import database  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="POSTs per backend")
    parser.add_argument("--database-url", help="PostgreSQL server (default: a throwaway one)")
    parser.add_argument("--profile", help="write the PostgreSQL run's cProfile stats here")
    parser.add_argument("--backends", default="tinydb,postgres")
    parser.add_argument(
        "--filter",
        action="store_true",
        help="before each POST, look the user up by userName (as Entra does)",
    )
    parser.add_argument(
        "--bulk", type=int, default=0, help="send the POSTs as /Bulk requests of this many"
    )
    return parser.parse_args(argv)


def run(backend: str, args, work: Path) -> dict:
    from app import create_app
    from storage import close_store, get_request_log

    dsn = database(args.database_url, "roster_pgcpu") if backend == "postgres" else None
    data = preload(work / backend, 0, dsn=dsn)
    config = {"data_dir": str(data.folder)}
    if dsn:
        config.update(backend="postgres", database_url=dsn)
    app = create_app(config)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {data.token}", "Content-Type": "application/scim+json"}
    path = f"/scim/v2/{data.idp}/Users"
    for i in range(50):  # warm: connections open, statements prepared
        assert client.post(path, json=body(f"warm-{i}"), headers=headers).status_code == 201
    profiled = args.profile and backend == "postgres"
    # The request thread's CPU time, not the wall clock: waits on the database are not work.
    profiler = cProfile.Profile(time.thread_time) if profiled else None
    database_before = database_cpu(args.postmaster)
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    if args.bulk:
        _bulk(client, f"/scim/v2/{data.idp}/Bulk", headers, backend, args)
    for i in range(0 if args.bulk else args.requests):
        if args.filter:
            query = {"filter": f'userName eq "{backend}-{i}"'}
            assert client.get(path, query_string=query, headers=headers).status_code == 200
        answer = client.post(path, json=body(f"{backend}-{i}"), headers=headers)
        assert answer.status_code == 201, answer.get_data()
    get_request_log(app).flush()  # the log's inserts count too
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    database_used = database_cpu(args.postmaster) - database_before
    close_store(app)
    return {
        "cpu_ms": round(cpu * 1000 / args.requests, 3),
        "wall_ms": round(wall * 1000 / args.requests, 3),
        "database_cpu_ms": round(database_used * 1000 / args.requests, 3) if dsn else None,
    }


def _bulk(client, path: str, headers: dict, backend: str, args) -> None:
    """POST the users as /Bulk requests of ``args.bulk`` operations."""
    for at in range(0, args.requests, args.bulk):
        operations = [
            {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": body(f"{backend}-{i}")}
            for i in range(at, min(at + args.bulk, args.requests))
        ]
        message = {"schemas": [BULK], "Operations": operations}
        answer = client.post(path, json=message, headers=headers)
        statuses = {op["status"] for op in answer.get_json()["Operations"]}
        assert answer.status_code == 200 and statuses == {"201"}, answer.get_data()[:500]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="roster-pgcpu-"))
    cluster, args.postmaster = None, None
    if not args.database_url:
        from tests.pgcluster import Cluster

        cluster = Cluster(durable=True).start()
        args.database_url = cluster.dsn()
        args.postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    try:
        print(f"{'backend':<10}{'CPU ms/POST':>13}{'wall ms/POST':>14}{'PostgreSQL CPU ms':>19}")
        for backend in args.backends.split(","):
            got = run(backend, args, work)
            print(
                f"{backend:<10}{got['cpu_ms']:>13}{got['wall_ms']:>14}"
                f"{str(got['database_cpu_ms'] or '-'):>19}"
            )
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
