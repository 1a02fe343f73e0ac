"""Roster's benchmark: the real server under waitress on loopback, driven over HTTP.

    .venv/bin/python bench/run.py                      # sizes 1000,10000,100000 (~5 minutes)
    .venv/bin/python bench/run.py --quick              # a smoke run in well under a minute
    .venv/bin/python bench/run.py --sizes 1000,20000 --output /tmp/r.json
    .venv/bin/python bench/run.py --backend postgres   # the same on PostgreSQL (see below)
    .venv/bin/python bench/run.py --peer               # and scim2-server's POST /Users beside
    .venv/bin/python bench/run.py --breakdown          # where a POST's time goes

``--peer`` also runs the breakdown. On TinyDB it times the same POSTs once more on a Roster
whose fsync does nothing, each part of a POST timed in the server (``bench/unsynced``,
``bench/parts.py``), and prints where each 0.1 ms of a POST goes against what the POST targets
allow (``bench/breakdown.py``). On PostgreSQL py-spy samples the server (its share of each
part); ``bench/pgwrites.py`` splits a POST's CPU there.

For each size the data folder is preloaded through ``storage.tinydb.store.TinyStore`` (not
HTTP), then ``python app.py`` is started on it and measured: start-up (process start to the
first authenticated answer), sequential POST /Users, ``userName eq`` lookups, pages of 100,
and peak RSS. At the largest size also: PATCH add/remove of one member on a 10,000-member
group, a mixed load from several threads, and start-up from a compacted snapshot. A bare
Flask endpoint under waitress, driven by the same client, is the ceiling every throughput is
compared with. Prints a table (``bench/report.py``) and writes JSON.

With ``--backend postgres`` each size gets a database of its own, preloaded through
``PostgresStore``, on the server ``--database-url`` names or else on a throwaway cluster on
loopback with durable settings (fsync and synchronous commit on, as TinyDB's journal fsyncs);
there is no snapshot start-up, and peak RSS is Roster's alone, not PostgreSQL's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench import breakdown, phases, report  # noqa: E402
from bench.client import Client  # noqa: E402
from bench.mixed import mixed  # noqa: E402
from bench.preload import compact, preload  # noqa: E402
from bench.servers import start_hello, start_peer, start_roster  # noqa: E402

FULL = {
    "writes": 2000,
    "lookups": 2000,
    "pages": 300,
    "group": 10_000,
    "group_ops": 400,
    "mixed": 4000,
    "ceiling": 4000,
}
QUICK = {
    "writes": 300,
    "lookups": 300,
    "pages": 50,
    "group": 2000,
    "group_ops": 60,
    "mixed": 400,
    "ceiling": 1000,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", help="user counts, comma-separated (default 1000,10000,100000)")
    parser.add_argument("--quick", action="store_true", help="small sizes and few requests")
    parser.add_argument("--threads", type=int, default=4, help="clients in the mixed load")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--group", type=int, help="members of the big group (default 10000)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folders")
    parser.add_argument("--backend", choices=("tinydb", "postgres"), default="tinydb")
    parser.add_argument("--database-url", help="PostgreSQL server for --backend postgres")
    parser.add_argument(
        "--peer", action="store_true", help="also time scim2-server's POST /Users (bench/peer.py)"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="at the first size, show where a POST's time goes: timed part by part on TinyDB "
        "(bench/parts.py), sampled by py-spy on PostgreSQL (bench/breakdown.py)",
    )
    args = parser.parse_args(argv)
    default = "1000,5000" if args.quick else "1000,10000,100000"
    args.sizes = sorted({int(s) for s in (args.sizes or default).split(",") if s.strip()})
    args.counts = dict(QUICK if args.quick else FULL)
    if args.group:
        args.counts["group"] = args.group
    return args


def measure_size(size: int, largest: bool, args, work: Path, results: dict) -> None:
    counts = args.counts
    # Half the users at most: the membership phase adds users from outside the group.
    group = min(counts["group"], size // 2) if largest else 0
    postgres = args.backend == "postgres"
    dsn = database(args.database_url, f"roster_bench_{size}") if postgres else None
    data = preload(work / f"data-{size}", size, group_members=group, dsn=dsn)
    log = work / f"roster-{size}.log"
    server, startup = start_roster(data.folder, data.idp, data.token, log, dsn)
    row: dict = {"users": size, "startup_s": round(startup, 3)}
    try:
        client = Client(server.port, data.token)
        row["post"] = phases.creates(client, data, counts["writes"])
        if (args.breakdown or args.peer) and size == args.sizes[0] and postgres:
            results["breakdown"] = post_breakdown(client, server, data, counts["writes"])
        row["lookup"] = phases.lookups(client, data, counts["lookups"])
        row["page"] = phases.pages(client, data, counts["pages"])
        if largest:
            ops = counts["group_ops"]
            results["group"] = {"users": size, **phases.membership(client, data, ops)}
            lean = phases.membership(client, data, ops, "?excludedAttributes=members")
            results["group_lean"] = {"users": size, **lean}
            results["mixed"] = {
                "users": size,
                **mixed(server.port, data, counts["mixed"], args.threads),
            }
        client.close()
        row["peak_rss_mb"] = round(server.peak_rss_mb(), 1)
    finally:
        server.stop()
    results["sizes"].append(row)
    if (args.breakdown or args.peer) and size == args.sizes[0] and not postgres:
        measure_unsynced(size, counts["writes"], work, results)
    if largest and dsn is None:  # start-up again once the journal is folded into the snapshot
        compact(data.folder)
        server, startup = start_roster(
            data.folder, data.idp, data.token, work / f"roster-{size}-snapshot.log"
        )
        try:
            results["snapshot_startup"] = {
                "users": size + counts["writes"],
                "startup_s": round(startup, 3),
                "peak_rss_mb": round(server.peak_rss_mb(), 1),
            }
        finally:
            server.stop()


def post_breakdown(client: Client, server, data, requests: int) -> str:
    """More sequential POSTs, sampled by py-spy: where their time goes inside the server (a
    table of each part's share)."""
    if not breakdown.Sampler.available():
        return "breakdown: py-spy is not installed (pip install -r requirements-dev.txt)"
    with breakdown.Sampler(server.process.pid) as sampler:
        base, tag = f"/scim/v2/{data.idp}/Users", f"spied{len(data.users)}"
        post = phases.creates_at(client, base, requests, tag, "POST /Users under py-spy")
    parts = breakdown.charge(sampler.stacks())
    return breakdown.table(parts, post["requests"], post["mean_ms"])


def measure_unsynced(size: int, requests: int, work: Path, results: dict) -> None:
    """Sequential POST /Users on Roster with ``os.fsync`` a no-op (``bench/unsynced``), on a
    fresh folder of ``size`` users: beside the real phase, what the wait for the disk costs a
    POST. Then the same on a server whose parts of a POST are timed (``bench/parts.py``),
    apart, so that the timers' own cost stays out of the mean."""
    env = {"PYTHONPATH": str(ROOT / "bench" / "unsynced"), "BENCH_UNSYNCED": "1"}
    results["unsynced"] = _unsynced_posts(size, requests, work / "unsynced", env)
    timings = work / "parts.json"
    _unsynced_posts(size, requests, work / "timed", {**env, "BENCH_PARTS": str(timings)})
    results["parts"] = json.loads(timings.read_text())  # written as the server stopped


def _unsynced_posts(size: int, requests: int, folder: Path, env: dict) -> dict:
    data = preload(folder, size)
    log = folder.with_suffix(".log")
    server, _ = start_roster(data.folder, data.idp, data.token, log, env=env)
    try:
        client = Client(server.port, data.token)
        base, tag = f"/scim/v2/{data.idp}/Users", f"unsynced{size}"
        post = phases.creates_at(client, base, requests, tag, "POST /Users, fsync a no-op")
        client.close()
        return post
    finally:
        server.stop()


def post_budget(results: dict) -> str | None:
    """Where each 0.1 ms of a sequential POST goes against the time the POST targets allow
    (50 % of bare Flask's rate, and 1.5 x scim2-server's when it ran beside)."""
    if "parts" not in results or not results["sizes"]:
        return None
    ceiling = results["ceiling"]["sequential"]
    allowed = [1000 / (0.5 * ceiling["throughput_rps"])]
    if "peer" in results:
        allowed.append(1000 / (1.5 * results["peer"]["post"]["throughput_rps"]))
    post = results["sizes"][0]["post"]
    return breakdown.budget(
        results["parts"]["ms"], post["mean_ms"], ceiling["mean_ms"], min(allowed),
        results["fsync"]["p50_ms"], results["unsynced"]["mean_ms"],
    )  # fmt: skip


def database(server: str, name: str) -> str:
    """Create an empty database ``name`` on ``server``; return its DSN."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(server, dbname=name)


def measure_ceiling(args, work: Path) -> dict:
    server = start_hello(work / "hello.log")
    try:
        return phases.ceiling(server.port, args.counts["ceiling"], args.threads)
    finally:
        server.stop()


def measure_peer(args, work: Path) -> dict:
    """scim2-server, the reference Python SCIM server, under waitress: sequential POST /Users
    with the same client and bodies as Roster's phase."""
    token = secrets.token_urlsafe(16)
    server = start_peer(work / "peer.log", token)
    try:
        client = Client(server.port, token)
        label = "POST /Users on scim2-server"
        post = phases.creates_at(client, "/v2/Users", args.counts["writes"], "peer", label)
        client.close()
        return {"post": post, "peak_rss_mb": round(server.peak_rss_mb(), 1)}
    finally:
        server.stop()


def fsync_latency(folder: Path, samples: int = 300) -> dict:
    """Time appending a journal-sized line and fsyncing it, on the disk the store uses: every
    acknowledged write waits for one, so it bounds write throughput."""
    path = folder / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    timings = []
    try:
        for _ in range(samples):
            started = time.perf_counter()
            os.write(fd, b"x" * 700 + b"\n")
            os.fsync(fd)
            timings.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    timings.sort()
    return {
        "p50_ms": round(timings[len(timings) // 2] * 1000, 3),
        "p99_ms": round(timings[int(len(timings) * 0.99)] * 1000, 3),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="roster-bench-"))
    results: dict = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "counts": args.counts,
        "backend": args.backend,
        "sizes": [],
    }
    cluster = None
    if args.backend == "postgres" and not args.database_url:
        from tests.pgcluster import Cluster

        cluster = Cluster(durable=True).start()
        args.database_url = cluster.dsn()
    try:
        results["fsync"] = fsync_latency(work)
        results["ceiling"] = measure_ceiling(args, work)
        if args.peer:
            results["peer"] = measure_peer(args, work)
        for size in args.sizes:
            measure_size(size, size == args.sizes[-1], args, work, results)
    finally:
        if cluster is not None:
            cluster.stop()
        if args.keep:
            print(f"data folders and server logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["load_average_at_end"] = os.getloadavg()[0]
    results["targets"] = report.targets(results)
    print(report.table(results))
    if "breakdown" in results:
        print(f"\n{results['breakdown']}")
    budget = post_budget(results)
    if budget:
        print(f"\n{budget}")
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults written to {args.output}")
    return 0 if all(t["pass"] for t in results["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
