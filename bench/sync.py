"""The Entra-shaped initial sync, side by side: Roster on TinyDB and on PostgreSQL, and
scim2-server (``bench/peer.py``), each a fresh server under waitress on loopback, driven by the
same client (``bench/entra.py``); then the same load through Roster's /Bulk.

    .venv/bin/python bench/sync.py                       # 5,000 users, 100 groups (~10 minutes)
    .venv/bin/python bench/sync.py --quick               # 500 users, 20 groups, 1,000 memberships
    .venv/bin/python bench/sync.py --backends tinydb --threads 1

Every load is checked afterwards (users, groups and memberships all there). Prints a table and
each target's verdict; writes JSON (``--output``). PostgreSQL is the server ``--database-url``
names, else a throwaway durable cluster (fsync and synchronous commit on).
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

from bench import entra  # noqa: E402
from bench.pgwrites import cpu_seconds, database_cpu  # noqa: E402
from bench.preload import preload  # noqa: E402
from bench.run import database  # noqa: E402
from bench.servers import start_peer, start_roster  # noqa: E402

BULK_TARGET_S = 5.0
PEER_FACTOR = 2.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 users, 20 groups")
    parser.add_argument("--users", type=int)
    parser.add_argument("--groups", type=int)
    parser.add_argument("--memberships", type=int)
    parser.add_argument("--threads", default="1,4", help="client threads, comma-separated")
    parser.add_argument("--backends", default="tinydb,postgres")
    parser.add_argument("--no-peer", action="store_true", help="skip scim2-server")
    parser.add_argument("--no-bulk", action="store_true", help="skip the /Bulk load")
    parser.add_argument("--database-url", help="PostgreSQL server (default: a throwaway one)")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results-sync.json"))
    args = parser.parse_args(argv)
    small = (500, 20, 1000) if args.quick else (5000, 100, 10_000)
    args.users = args.users or small[0]
    args.groups = args.groups or small[1]
    args.memberships = args.memberships or small[2]
    args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    args.backends = [b for b in args.backends.split(",") if b.strip()]
    return args


class Roster:
    """A fresh Roster on an empty store: a data folder, or a new PostgreSQL database."""

    def __init__(self, work: Path, name: str, backend: str, server_dsn: str | None):
        dsn = database(server_dsn, f"roster_sync_{name}") if backend == "postgres" else None
        data = preload(work / name, 0, dsn=dsn)
        self.token, self.base = data.token, f"/scim/v2/{data.idp}"
        self.server, _ = start_roster(data.folder, data.idp, data.token, work / f"{name}.log", dsn)
        self.port = self.server.port

    def stop(self) -> None:
        self.server.stop()


class Peer:
    """A fresh scim2-server, everything in memory."""

    def __init__(self, work: Path, name: str):
        self.token, self.base = secrets.token_urlsafe(16), "/v2"
        self.server = start_peer(work / f"{name}.log", self.token)
        self.port = self.server.port

    def stop(self) -> None:
        self.server.stop()


# The PostgreSQL cluster's postmaster, when this run started it (its CPU is measured).
POSTMASTER: list[int] = []


def measure(target, data: entra.Directory, load) -> dict:
    """Run ``load(port, token, base, data)`` on ``target``, check what it left, stop it;
    with the CPU seconds the server (and PostgreSQL, if ours) spent on the load."""
    postmaster = POSTMASTER[0] if POSTMASTER and isinstance(target, Roster) else None
    pid = target.server.process.pid
    server, database = cpu_seconds(pid), database_cpu(postmaster)
    client = time.process_time()  # the client's threads run in this process
    try:
        result = load(target.port, target.token, target.base, data)
        result["client_cpu_s"] = round(time.process_time() - client, 2)
        result["server_cpu_s"] = round(cpu_seconds(pid) - server, 2)
        if postmaster is not None:
            result["database_cpu_s"] = round(database_cpu(postmaster) - database, 2)
        result["check"] = entra.verify(target.port, target.token, target.base, data) or "ok"
    finally:
        target.stop()
    return result


def run_all(args, work: Path, data: entra.Directory) -> dict:
    runs: dict = {}
    for threads in args.threads:

        def per_request(port, token, base, data, threads=threads):
            return entra.sync(port, token, base, data, threads)

        if not args.no_peer:
            print(f"scim2-server, {threads} thread(s)…", file=sys.stderr)
            runs[f"peer/{threads}"] = measure(Peer(work, f"peer-{threads}"), data, per_request)
        for backend in args.backends:
            print(f"Roster on {backend}, {threads} thread(s)…", file=sys.stderr)
            roster = Roster(work, f"{backend}_{threads}", backend, args.database_url)
            runs[f"{backend}/{threads}"] = measure(roster, data, per_request)
    if not args.no_bulk:
        for backend in args.backends:
            print(f"Roster on {backend}, /Bulk…", file=sys.stderr)
            roster = Roster(work, f"{backend}_bulk", backend, args.database_url)
            runs[f"{backend}/bulk"] = measure(roster, data, entra.bulk_load)
    return runs


def _phases(run: dict) -> str:
    return f"{run['total_s']:.1f} s (users {run['users_s']:.1f}, groups {run['groups_s']:.1f})"


def targets(runs: dict, data: entra.Directory) -> list[dict]:
    """Each target with its verdict and the figures behind it."""
    out = []
    for key, run in runs.items():
        if run["check"] != "ok" or run["failures"]:
            detail = f"{run['check']}; {run['failures'][:2]}"
            out.append(_verdict(f"{key}: every request answered as expected", False, detail))
    for backend in ("tinydb", "postgres"):
        bulk = runs.get(f"{backend}/bulk")
        if bulk is not None:
            name = f"/Bulk on {backend} loads {len(data.users):,} users and their groups"
            ok = bulk["total_s"] < BULK_TARGET_S and bulk["check"] == "ok"
            detail = _phases(bulk) + _cpu(bulk) + _per_operation(bulk, data)
            if not ok:
                detail += _why(bulk, BULK_TARGET_S, 1)
            out.append(_verdict(f"{name} < {BULK_TARGET_S:.0f} s", ok, detail))
        for key in sorted(
            k for k in runs if k.startswith(f"{backend}/") and k != f"{backend}/bulk"
        ):
            threads = key.split("/")[1]
            mine, peer = runs[key], runs.get(f"peer/{threads}")
            if peer is None:
                continue
            ratio = peer["total_s"] / mine["total_s"]
            name = f"sync on {backend}, {threads} thread(s), >= {PEER_FACTOR:.0f}x scim2-server"
            detail = f"x{ratio:.2f}: {_phases(mine)}{_cpu(mine)} vs {_phases(peer)}{_cpu(peer)}"
            if ratio < PEER_FACTOR:
                detail += _why(mine, peer["total_s"] / PEER_FACTOR, int(threads))
            out.append(_verdict(name, ratio >= PEER_FACTOR, detail))
    return out


def floor_s(run: dict, threads: int) -> float | None:
    """About the least time a load can take given the CPU it used: with one client thread
    nothing overlaps (the client waits for each answer, the server for the database), so
    the client's, the server's and PostgreSQL's CPU seconds add up; with more, they share
    ``os.cpu_count()`` CPUs, and the server's Python runs one thread at a time (one lock
    for the interpreter), so its CPU seconds alone are a bound too."""
    if "server_cpu_s" not in run:
        return None
    parts = [run["server_cpu_s"], run.get("database_cpu_s", 0.0), run.get("client_cpu_s", 0.0)]
    if threads <= 1:
        return sum(parts)
    return max(run["server_cpu_s"], sum(parts) / (os.cpu_count() or 1))


def _why(run: dict, allowed_s: float, threads: int) -> str:
    """Why a load's target fails, measured: its CPU against the time the target allows."""
    floor = floor_s(run, threads)
    if floor is None:
        return ""
    if floor > allowed_s:
        return (
            f"; cannot pass on this machine as the load is: the CPU it used alone takes about "
            f"{floor:.1f} s here, and the target allows {allowed_s:.1f} s"
        )
    return (
        f"; the CPU it used takes about {floor:.1f} s here, within the {allowed_s:.1f} s "
        f"allowed: the rest is waiting (the client for answers, the server for the database)"
    )


def _cpu(run: dict) -> str:
    """Where a load's time went: the CPU seconds of the server and of PostgreSQL (on a
    machine of ``os.cpu_count()`` CPUs, which the client shares too)."""
    if "server_cpu_s" not in run:
        return ""
    spent = f"server CPU {run['server_cpu_s']:.1f} s"
    if "database_cpu_s" in run:
        spent += f", PostgreSQL CPU {run['database_cpu_s']:.1f} s"
    if "client_cpu_s" in run:
        spent += f", client CPU {run['client_cpu_s']:.1f} s"
    return f"; {spent} on {os.cpu_count()} CPUs"


def operations(data: entra.Directory) -> int:
    """The operations ``entra.bulk_load`` sends: a POST per user and per group, and a PATCH
    per ``entra.BATCH`` members of each group."""
    patches = sum(-(-len(members) // entra.BATCH) for _, members in data.groups)
    return len(data.users) + len(data.groups) + patches


def _per_operation(run: dict, data: entra.Directory) -> str:
    """A /Bulk load's CPU per operation, in ms: the operations run one after another, each
    waiting for the database while it works, so the load takes about their sum per
    operation (plus the client's share of the CPUs)."""
    if "server_cpu_s" not in run:
        return ""
    count = operations(data)
    spent = f"server {run['server_cpu_s'] * 1000 / count:.2f} ms"
    if "database_cpu_s" in run:
        spent += f" + PostgreSQL {run['database_cpu_s'] * 1000 / count:.2f} ms"
    wall = run["total_s"] * 1000 / count
    return f"; per operation ({count:,}): {spent} of CPU, {wall:.2f} ms end to end"


def _verdict(name: str, ok: bool, detail: str) -> dict:
    return {"target": name, "pass": bool(ok), "detail": detail}


def _p50(run: dict, series: str) -> str:
    value = run.get(series, {}).get("p50_ms")
    return "-" if value is None else f"{value:.2f}"


def table(result: dict) -> str:
    data = result["directory"]
    lines = [
        f"Entra-shaped initial sync - Python {result['python']}, {result['cpus']} CPUs, "
        f"{result['when']}, load average {result['load_average_at_start']:.1f} at the start, "
        f"{result['load_average_at_end']:.1f} at the end",
        f"{data['users']:,} users, {data['groups']} groups, {data['memberships']:,} memberships "
        f"(largest group {data['largest']:,}); per user: filter + POST; per group: filter, POST, "
        f"PATCH +{entra.BATCH} members at a time",
        "",
        f"{'run':<18}{'total s':>9}{'users s':>9}{'groups s':>9}"
        f"{'POST /Users p50 ms':>20}{'PATCH p50 ms':>14}  check",
    ]
    for key, run in result["runs"].items():
        lines.append(
            f"{key:<18}{run['total_s']:>9.2f}{run['users_s']:>9.2f}{run['groups_s']:>9.2f}"
            f"{_p50(run, 'POST /Users'):>20}{_p50(run, 'PATCH members'):>14}  {run['check']}"
        )
    lines.append("\ntargets:")
    for t in result["targets"]:
        lines.append(f"   {'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['detail']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = entra.directory(args.users, args.groups, args.memberships)
    work = Path(tempfile.mkdtemp(prefix="roster-sync-"))
    result: dict = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["bench/sync.py", *(argv if argv is not None else sys.argv[1:])]),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "directory": {
            "users": len(data.users),
            "groups": len(data.groups),
            "memberships": data.memberships,
            "largest": max(len(m) for _, m in data.groups),
        },
    }
    cluster = None
    if "postgres" in args.backends and not args.database_url:
        from tests.pgcluster import Cluster

        cluster = Cluster(durable=True).start()
        args.database_url = cluster.dsn()
        POSTMASTER.append(int((cluster.data / "postmaster.pid").read_text().split()[0]))
    try:
        result["runs"] = run_all(args, work, data)
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    result["load_average_at_end"] = os.getloadavg()[0]
    result["targets"] = targets(result["runs"], data)
    print(table(result))
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults written to {args.output}")
    return 0 if all(t["pass"] for t in result["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
