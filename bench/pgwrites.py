"""POST /Users on PostgreSQL at several client threads, side by side with scim2-server: Roster
as one process, then as two processes on the same database (each client thread keeps to one
process, half of them to each), and scim2-server (``bench/peer.py``, in memory).

    .venv/bin/python bench/pgwrites.py                  # 4 client threads, 1,500 POSTs a run
    .venv/bin/python bench/pgwrites.py --requests 600   # shorter

Targets: one process at least as fast as scim2-server, two processes at least 1.3x one. Every
run is a fresh server on a fresh database of a throwaway durable cluster (fsync and
synchronous commit on), or of ``--database-url``. The three run one after another in one
invocation, so load from elsewhere on the machine weighs on all of them; the ratios are what
to read. Where a target is missed, the verdict says what was measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench.client import Client, Series  # noqa: E402
from bench.preload import preload  # noqa: E402
from bench.run import database  # noqa: E402
from bench.servers import start_peer, start_roster  # noqa: E402

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PEER_FACTOR = 1.0
SCALE_FACTOR = 1.3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--requests", type=int, default=1500, help="POSTs per run")
    parser.add_argument("--database-url", help="PostgreSQL server (default: a throwaway one)")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results-pgwrites.json"))
    return parser.parse_args(argv)


def body(name: str) -> dict:
    return {
        "schemas": [CORE],
        "userName": name,
        "name": {"givenName": "Bench", "familyName": name},
        "emails": [{"value": f"{name}@example.com", "type": "work", "primary": True}],
        "active": True,
    }


def drive(ports: list[int], token: str, path: str, threads: int, requests: int, tag: str):
    """POST ``requests`` users from ``threads`` threads, thread i to ``ports[i % len]``."""
    series = Series(tag)
    lock = threading.Lock()
    counter = iter(range(requests))
    barrier = threading.Barrier(threads + 1)

    def run(i: int) -> None:
        client = Client(ports[i % len(ports)], token)
        client.timed("POST", path, body(f"warm-{tag}-{i}"))  # the connection is open
        barrier.wait()
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            seconds, status, _ = client.timed("POST", path, body(f"{tag}-{n}"))
            with lock:
                series.add(seconds, status == 201)
        client.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    series.wall = time.perf_counter() - started
    return series.summary()


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU seconds ``pid`` has used (with its children that have exited, if asked)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    used = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        used += int(fields[13]) + int(fields[14])  # cutime, cstime
    return used / TICK


def database_cpu(postmaster: int | None) -> float:
    """CPU seconds of the PostgreSQL cluster: the postmaster, its exited children, and its
    live ones (the backends serving the runs, the WAL writer…)."""
    if postmaster is None:
        return 0.0
    total = cpu_seconds(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                total += cpu_seconds(int(entry.name))
    return total


def measured(pids: list[int], postmaster: int | None, run) -> dict:
    """``run()``'s summary with the CPU ms per request of the servers and of PostgreSQL."""
    servers, database = sum(cpu_seconds(p) for p in pids), database_cpu(postmaster)
    summary = run()
    servers = sum(cpu_seconds(p) for p in pids) - servers
    database = database_cpu(postmaster) - database
    requests = max(summary.get("requests", 0), 1)
    summary["server_cpu_ms"] = round(servers * 1000 / requests, 3)
    summary["database_cpu_ms"] = round(database * 1000 / requests, 3) if postmaster else None
    return summary


def roster(work: Path, server_dsn: str, processes: int, args) -> dict:
    dsn = database(server_dsn, f"roster_pgwrites_{processes}")
    data = preload(work / f"p{processes}", 0, dsn=dsn)
    servers = []
    try:
        for n in range(processes):
            log = work / f"roster-{processes}-{n}.log"
            servers.append(start_roster(data.folder, data.idp, data.token, log, dsn)[0])
        ports = [server.port for server in servers]
        path = f"/scim/v2/{data.idp}/Users"
        return measured(
            [server.process.pid for server in servers],
            args.postmaster,
            lambda: drive(ports, data.token, path, args.threads, args.requests, f"r{processes}"),
        )
    finally:
        for server in servers:
            server.stop()


def peer(work: Path, args) -> dict:
    token = secrets.token_urlsafe(16)
    server = start_peer(work / "peer.log", token)
    try:
        return measured(
            [server.process.pid],
            None,
            lambda: drive([server.port], token, "/v2/Users", args.threads, args.requests, "peer"),
        )
    finally:
        server.stop()


def database_floor(dsn: str, samples: int = 300) -> dict:
    """What PostgreSQL alone costs a POST here: a round trip (``SELECT 1``) and a durable
    commit (the WAL flush a write waits for), p50 in ms, measured on one connection."""
    import statistics

    import psycopg

    from storage.postgres.pg_pool import DURABLE

    timings: dict[str, list[float]] = {"round_trip": [], "wal_flush": []}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(samples):
            for name, statement in (("round_trip", "SELECT 1"), ("wal_flush", DURABLE)):
                started = time.perf_counter()
                conn.execute(statement)
                timings[name].append(time.perf_counter() - started)
    return {name: round(statistics.median(v) * 1000, 3) for name, v in timings.items()}


def in_process(dsn: str, postmaster: int | None, requests: int) -> dict:
    """CPU per POST in one thread through Flask's test client (``bench/pgcpu.py``), on TinyDB
    and on PostgreSQL: what the PostgreSQL store itself adds, apart from waitress and
    threads."""
    from bench import pgcpu

    options = argparse.Namespace(
        database_url=dsn,
        postmaster=postmaster,
        requests=requests,
        profile=None,
        bulk=0,
        filter=False,
    )
    work = Path(tempfile.mkdtemp(prefix="roster-pgcpu-"))
    runs: dict[str, list[dict]] = {"tinydb": [], "postgres": []}
    for n in range(ROUNDS):  # alternating, so that a busy moment weighs on both
        for backend, found in runs.items():
            found.append(pgcpu.run(backend, options, work / str(n)))
    # Whatever else runs on the machine can only add to a run's CPU: the least is the cost.
    return {backend: min(found, key=lambda r: r["cpu_ms"]) for backend, found in runs.items()}


ROUNDS = 3  # in-process runs per backend (``in_process``)


STEP = 0.1  # ms: one mark in the budget's bars


def budget(result: dict) -> list[str]:
    """Where the CPU of a POST goes, in marks of ``STEP`` ms, against scim2-server's."""
    one, peer, alone = result["runs"]["roster/1"], result["runs"]["peer"], result["in_process"]
    tiny, pg = alone["tinydb"]["cpu_ms"], alone["postgres"]["cpu_ms"]
    database = one["database_cpu_ms"] or 0.0
    rows = [
        ("Roster's own work, as on TinyDB (one thread, test client included)", tiny),
        ("the PostgreSQL store in one thread (token, give-back look, write, log)", pg - tiny),
        (f"waitress and {result['threads']} threads (server CPU over one thread's)",
         one["server_cpu_ms"] - pg),
        ("PostgreSQL's own CPU", database),
    ]  # fmt: skip
    total = one["server_cpu_ms"] + database
    lines = [
        f"\nwhere a POST's {total:.2f} ms of CPU go (roster/1; one mark per {STEP} ms);"
        f" scim2-server's is {peer['server_cpu_ms']:.2f} ms in all:"
    ]
    for name, ms in rows:
        lines.append(f"   {ms:6.2f} ms  {'#' * max(round(ms / STEP), 0):<16} {name}")
    lines.append(
        f"   on {result['cpus']} CPUs shared with the client, the rate follows CPU per POST:"
        f" {total - peer['server_cpu_ms']:+.2f} ms to go for scim2-server's rate"
    )
    unavoidable = tiny + database
    if unavoidable > peer["server_cpu_ms"]:
        lines.append(
            f"   Roster's own work and PostgreSQL's CPU alone take {unavoidable:.2f} ms, more"
            f" than scim2-server's {peer['server_cpu_ms']:.2f} ms in all: even a store that"
            " cost nothing in Roster's process could not match its rate here"
        )
    return lines


def verdict(name: str, ratio: float, wanted: float, detail: str) -> dict:
    return {"target": name, "pass": ratio >= wanted, "detail": f"x{ratio:.2f} ({detail})"}


def targets(runs: dict, threads: int) -> list[dict]:
    one, two, other = (runs[k]["throughput_rps"] for k in ("roster/1", "roster/2", "peer"))
    return [
        verdict(
            f"POST /Users, {threads} threads: PostgreSQL, 1 process >= scim2-server",
            one / other,
            PEER_FACTOR,
            f"{one} vs {other} req/s",
        ),
        verdict(
            f"POST /Users, {threads} threads: PostgreSQL, 2 processes >= {SCALE_FACTOR}x 1",
            two / one,
            SCALE_FACTOR,
            f"{two} vs {one} req/s on {os.cpu_count()} CPUs",
        ),
    ]


def table(result: dict) -> str:
    lines = [
        f"POST /Users on PostgreSQL - Python {result['python']}, {result['cpus']} CPUs,"
        f" {result['when']}, load average {result['load_average_at_start']:.1f} at the start,"
        f" {result['load_average_at_end']:.1f} at the end",
        f"{result['threads']} client threads, {result['requests']} POSTs a run\n",
        f"{'run':<12}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'server CPU ms/req':>19}{'PostgreSQL CPU ms/req':>23}",
    ]
    for name, run in result["runs"].items():
        lines.append(
            f"{name:<12}{run['throughput_rps']:>9}{run['p50_ms']:>9}{run['p99_ms']:>9}"
            f"{run['errors']:>8}{run['server_cpu_ms']:>19}{str(run['database_cpu_ms'] or '-'):>23}"
        )
    floor = result["database_floor_ms"]
    lines.append(
        f"\nPostgreSQL alone, p50: a round trip {floor['round_trip']} ms, a WAL flush"
        f" {floor['wal_flush']} ms. A POST /Users waits for three round trips, the last with"
        " the flush (tests/storage/test_postgres_round_trips.py); scim2-server waits for"
        " nothing (in memory). The client threads, the servers and PostgreSQL share the"
        f" {result['cpus']} CPUs: a request of Roster costs the CPU of its server and of"
        " PostgreSQL (the columns above), one of scim2-server only its own."
    )
    if result.get("in_process"):
        lines += budget(result)
    lines.append("\ntargets:")
    for t in result["targets"]:
        lines.append(f"   {'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['detail']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="roster-pgwrites-"))
    result: dict = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "threads": args.threads,
        "requests": args.requests,
        "load_average_at_start": os.getloadavg()[0],
    }
    cluster = None
    args.postmaster = None  # a server of ``--database-url``: its CPU is not measured
    if not args.database_url:
        from tests.pgcluster import Cluster

        cluster = Cluster(durable=True).start()
        args.database_url = cluster.dsn()
        pidfile = cluster.data / "postmaster.pid"
        args.postmaster = int(pidfile.read_text().split()[0])
    try:
        runs = {}
        for name, run in (
            ("peer", lambda: peer(work, args)),
            ("roster/1", lambda: roster(work, args.database_url, 1, args)),
            ("roster/2", lambda: roster(work, args.database_url, 2, args)),
        ):
            print(f"{name}…", file=sys.stderr)
            runs[name] = run()
        result["runs"] = runs
        result["database_floor_ms"] = database_floor(database(args.database_url, "floor"))
        print("in one process…", file=sys.stderr)
        result["in_process"] = in_process(
            args.database_url, args.postmaster, min(args.requests, 1000)
        )
    finally:
        if cluster is not None:
            cluster.stop()
    result["load_average_at_end"] = os.getloadavg()[0]
    result["targets"] = targets(result["runs"], args.threads)
    print(table(result))
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults written to {args.output}")
    return 0 if all(t["pass"] for t in result["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
