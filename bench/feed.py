"""What the change feed costs and how fast it answers, on live servers:

    .venv/bin/python bench/feed.py                     # TinyDB
    .venv/bin/python bench/feed.py --backend postgres  # a throwaway durable cluster

Two servers run side by side on the same preloaded data (15,000 users, a group of 10,000): one
records events, the other does not (``bench/no_events.py``). Requests alternate between them,
so both see the same machine. Printed:

- POST /Users p50 on each, and the difference: what recording a ``user.created`` costs;
- PATCH adding, then removing, one member of the 10,000-member group, p50 on each;
- PUT of the 10,000-member group that swaps 5,000 members (ten events of 1,000 ids) p50 on
  each; then the same write through the store alone, in this process, with events recorded
  and not (fewer moving parts, so the difference is the events' cost);
- reading 10,000 events through ``GET /api/v1/events`` (pages of 1,000), end to end;
- a long poll's answer after a write: from sending the write to the poll's answer (the write's
  own answer time beside it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench.client import Client, Series  # noqa: E402
from bench.phases import PATCH_OP  # noqa: E402
from bench.preload import GROUP, Dataset, preload, user_body  # noqa: E402
from bench.run import database  # noqa: E402
from bench.servers import Server  # noqa: E402

GROUP_SIZE = 10_000


def open_store(data: Dataset, dsn: str | None, folder: Path | None = None, record=True):
    from storage.postgres.store import PostgresStore
    from storage.tinydb.store import TinyStore

    if dsn:
        return PostgresStore(dsn, record_events=record)
    return TinyStore(folder or data.folder, record_events=record)


def api_key(data: Dataset, dsn: str | None) -> str:
    from tokens import apikeys

    store = open_store(data, dsn)
    try:
        return apikeys.issue(store, "bench")[1]
    finally:
        store.close()


def start(argv: list[str], folder: Path, dsn: str | None, log: Path, data: Dataset) -> Server:
    server = Server(argv, log, folder, {"ROSTER_DATABASE_URL": dsn} if dsn else None)
    try:
        server.wait_ready(
            f"/scim/v2/{data.idp}/ServiceProviderConfig", {"Authorization": f"Bearer {data.token}"}
        )
    except BaseException:
        server.stop()
        raise
    return server


def posts(clients: dict, data: Dataset, count: int) -> dict:
    series = {name: Series(name) for name in clients}
    for i in range(count):
        for name, client in clients.items():
            body = user_body(f"{name}{i}.feed")
            seconds, status, _ = client.timed("POST", f"/scim/v2/{data.idp}/Users", body)
            series[name].add(seconds, status == 201)
    return {name: s.summary() for name, s in series.items()}


def member_lists(data: Dataset) -> list[list[dict]]:
    """Two member lists of the big group, 5,000 members apart."""
    ids = [uid for uid, _ in data.users]
    lists = [ids[:GROUP_SIZE], ids[GROUP_SIZE // 2 : GROUP_SIZE // 2 + GROUP_SIZE]]
    return [[{"value": m, "type": "User"} for m in members] for members in lists]


def patches(clients: dict, data: Dataset, groups: dict, count: int) -> dict:
    """PATCH add one member, then remove it (as Entra sends them), on each server's group."""
    outsider = data.users[-1][0]
    add = {"op": "add", "path": "members", "value": [{"value": outsider}]}
    remove = {"op": "remove", "path": f'members[value eq "{outsider}"]'}
    series = {name: Series(name) for name in clients}
    for i in range(count):
        for name, client in clients.items():
            path = f"/scim/v2/{data.idp}/Groups/{groups[name]}?excludedAttributes=members"
            body = {"schemas": [PATCH_OP], "Operations": [add if i % 2 == 0 else remove]}
            seconds, status, _ = client.timed("PATCH", path, body)
            series[name].add(seconds, status == 200)
    return {name: s.summary() for name, s in series.items()}


def puts(clients: dict, data: Dataset, groups: dict, names: dict, count: int) -> dict:
    """PUT each server's group back and forth between two member lists 5,000 apart."""
    bodies = {
        name: [
            json.dumps({"schemas": [GROUP], "displayName": names[name], "members": m}).encode()
            for m in member_lists(data)
        ]
        for name in clients
    }
    series = {name: Series(name) for name in clients}
    for i in range(count):
        for name, client in clients.items():
            path = f"/scim/v2/{data.idp}/Groups/{groups[name]}?excludedAttributes=members"
            seconds, status, _ = client.timed("PUT", path, bodies[name][(i + 1) % 2])
            series[name].add(seconds, status == 200)
    return {name: s.summary() for name, s in series.items()}


def store_puts(stores: dict, data: Dataset, groups: dict, count: int) -> dict:
    """The same PUTs through the stores themselves, alternating between them."""
    lists = member_lists(data)
    series = {name: Series(name) for name in stores}
    for i in range(count):
        for name, store in stores.items():
            members = [dict(m) for m in lists[(i + 1) % 2]]
            started = time.perf_counter()
            store.update(
                "Group", data.idp, groups[name], lambda cur, m=members: {**cur, "members": m}
            )
            series[name].add(time.perf_counter() - started)
    return {name: s.summary() for name, s in series.items()}


def read_events(client: Client, wanted: int) -> dict:
    """Read the first ``wanted`` events in pages of 1,000; best and median of three runs."""
    runs = []
    for _ in range(3):
        started, after, read = time.perf_counter(), 0, 0
        while read < wanted:
            status, raw, _ = client.request("GET", f"/api/v1/events?after={after}&limit=1000")
            body = json.loads(raw)
            assert status == 200 and body["data"], body
            read += len(body["data"])
            after = body["next_after"]
        runs.append(time.perf_counter() - started)
    return {"events": read, "best_s": round(min(runs), 3), "median_s": round(sorted(runs)[1], 3)}


def tail(client: Client) -> int:
    """The newest seq: the feed read to its end."""
    after = 0
    while True:
        body = json.loads(client.request("GET", f"/api/v1/events?after={after}&limit=1000")[1])
        after = body["next_after"]
        if not body["has_more"]:
            return after


def long_polls(port: int, key: str, writer: Client, data: Dataset, samples: int) -> dict:
    """From a write's answer to the answer of a long poll that was waiting for it."""
    reader = Client(port, key)
    after, delays, writes = tail(reader), [], []
    for i in range(samples):
        answer: list = []

        def poll(cursor=after, answer=answer):
            response = reader.request("GET", f"/api/v1/events?after={cursor}&wait=10")
            answer.append((response, time.perf_counter()))

        thread = threading.Thread(target=poll)
        thread.start()
        time.sleep(0.05)  # let the poll arrive first (a measurement, not a test)
        sent = time.perf_counter()
        writer.request("POST", f"/scim/v2/{data.idp}/Users", user_body(f"poll{i}.feed"))
        writes.append(time.perf_counter() - sent)
        thread.join()
        (status, raw, _), answered = answer[0]
        body = json.loads(raw)
        assert status == 200 and body["data"], raw
        after = body["next_after"]
        delays.append(answered - sent)
    reader.close()
    return {
        "samples": samples,
        "p50_ms": round(statistics.median(delays) * 1000, 2),
        "max_ms": round(max(delays) * 1000, 2),
        "write_p50_ms": round(statistics.median(writes) * 1000, 2),
    }


SECOND = "Everyone else"


def second_group(data: Dataset, dsn: str) -> str:
    """The no-events server's own group, on a shared database."""
    store = open_store(data, dsn)
    try:
        members = [{"value": uid, "type": "User"} for uid, _ in data.users[:GROUP_SIZE]]
        body = {"schemas": [GROUP], "displayName": SECOND, "members": members}
        return store.create("Group", data.idp, body)["id"]
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("tinydb", "postgres"), default="tinydb")
    parser.add_argument("--database-url", help="PostgreSQL server for --backend postgres")
    parser.add_argument("--users", type=int, default=15_000)
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--puts", type=int, default=30)
    parser.add_argument("--patches", type=int, default=200)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="roster-feed-bench-"))
    cluster = None
    if args.backend == "postgres" and not args.database_url:
        from tests.pgcluster import Cluster

        cluster = Cluster(durable=True).start()
        args.database_url = cluster.dsn()
    servers: dict[str, Server] = {}
    try:
        dsn = database(args.database_url, "roster_feed_bench") if args.database_url else None
        data = preload(work / "events", args.users, group_members=GROUP_SIZE, dsn=dsn)
        key = api_key(data, dsn)
        folders = {"events": work / "events", "no events": work / "no-events"}
        groups = {"events": data.group_id, "no events": data.group_id}
        names = {"events": "Everyone", "no events": "Everyone"}
        if dsn:  # both processes share the database; each PUTs its own group
            groups["no events"], names["no events"] = second_group(data, dsn), SECOND
        else:  # one folder per process: the same data twice
            shutil.copytree(folders["events"], folders["no events"])
        argv_of = {"events": ["app.py"], "no events": [str(ROOT / "bench" / "no_events.py")]}
        for name in folders:
            log = work / f"{name.replace(' ', '-')}.log"
            servers[name] = start(argv_of[name], folders[name], dsn, log, data)
        clients = {name: Client(s.port, data.token) for name, s in servers.items()}
        results = {"backend": args.backend, "users": args.users}
        results["post"] = posts(clients, data, args.posts)
        results["patch_10000"] = patches(clients, data, groups, args.patches)
        results["put_10000"] = puts(clients, data, groups, names, args.puts)
        reader = Client(servers["events"].port, key)
        results["read_10000_events"] = read_events(reader, 10_000)
        reader.close()
        results["long_poll"] = long_polls(servers["events"].port, key, clients["events"], data, 20)
        for client in clients.values():
            client.close()
        for server in servers.values():
            server.stop()
        stores = {
            "events": open_store(data, dsn, folders["events"], True),
            "no events": open_store(data, dsn, folders["no events"], False),
        }
        try:
            results["store_put_10000"] = store_puts(stores, data, groups, args.puts)
        finally:
            for store in stores.values():
                store.close()
    finally:
        for server in servers.values():
            server.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(report(results))
    return 0 if all(ok for _, ok in targets(results)) else 1


def _pair(series: dict, digits: int = 2) -> str:
    with_, without = series["events"]["p50_ms"], series["no events"]["p50_ms"]
    return (
        f"{with_:.{digits}f} ms with events, {without:.{digits}f} ms without "
        f"({with_ - without:+.{digits}f} ms)"
    )


def report(r: dict) -> str:
    poll = r["long_poll"]
    lines = [
        f"change feed, {r['backend']}, {r['users']:,} users",
        f"POST /Users p50: {_pair(r['post'])}",
        f"PATCH +/- one member of a 10,000-member group p50: {_pair(r['patch_10000'])}",
        f"PUT swapping 5,000 of 10,000 members (10 events) p50: {_pair(r['put_10000'], 1)}",
        f"  the same through the store alone p50: {_pair(r['store_put_10000'], 1)}",
        f"reading {r['read_10000_events']['events']:,} events through the API: "
        f"{r['read_10000_events']['best_s']:.3f} s best, "
        f"{r['read_10000_events']['median_s']:.3f} s median of 3",
        f"long poll answered {poll['p50_ms']:.1f} ms p50 (max {poll['max_ms']:.1f}) after the "
        f"write was sent; the write's own answer took {poll['write_p50_ms']:.1f} ms p50",
        "targets:",
        *(f"  {'pass' if ok else 'FAIL'}  {name}" for name, ok in targets(r)),
        json.dumps(r),
    ]
    return "\n".join(lines)


def targets(r: dict) -> list[tuple[str, bool]]:
    put, poll = r["store_put_10000"], r["long_poll"]
    cost = put["events"]["p50_ms"] - put["no events"]["p50_ms"]
    phases = ("post", "patch_10000", "put_10000")
    errors = sum(r[phase][name]["errors"] for phase in phases for name in r[phase])
    return [
        (f"every write answered as expected ({errors} did not)", errors == 0),
        ("reading 10,000 events through the API < 1 s", r["read_10000_events"]["best_s"] < 1),
        (f"a 10,000-member PUT's events cost < 50 ms (store: {cost:+.1f} ms)", cost < 50),
        ("a long poll answers < 100 ms after its write is sent (p50)", poll["p50_ms"] < 100),
    ]


if __name__ == "__main__":
    sys.exit(main())
