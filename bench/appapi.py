"""The application API under load: ``python app.py`` on a preloaded store, read over HTTP.

    .venv/bin/python bench/appapi.py                        # 20,000 users on TinyDB
    .venv/bin/python bench/appapi.py --size 100000 --members 10000
    .venv/bin/python bench/appapi.py --backend postgres     # on a throwaway cluster

Prints the latency of: the first page of users (limit 100 and 500), a page from the middle of
the list (by cursor), a whole walk of the users at limit 500, a text search (``q``), a page
of users filtered by group, and a page of a large group's members.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appapi import paging  # noqa: E402
from bench.client import Client  # noqa: E402
from bench.preload import preload  # noqa: E402
from bench.servers import start_roster  # noqa: E402
from storage.postgres.store import PostgresStore  # noqa: E402
from storage.tinydb.store import TinyStore  # noqa: E402
from tokens import apikeys  # noqa: E402


def _issue_key(folder: Path, dsn: str | None) -> str:
    store = PostgresStore(dsn) if dsn else TinyStore(folder)
    try:
        return apikeys.issue(store, "bench")[1]
    finally:
        store.close()


def _get(client: Client, path: str, **query) -> tuple[float, dict]:
    seconds, status, raw = client.timed("GET", f"/api/v1{path}?{urlencode(query)}")
    assert status == 200, (status, raw[:300])
    return seconds, json.loads(raw)


def _median_ms(client: Client, path: str, repeat: int, **query) -> float:
    return round(statistics.median(_get(client, path, **query)[0] for _ in range(repeat)) * 1000, 1)


def measure(client: Client, data, repeat: int) -> dict:
    """Return the figures, in milliseconds."""
    figures = {
        "users, first page of 100": _median_ms(client, "/users", repeat, limit=100),
        "users, first page of 500": _median_ms(client, "/users", repeat, limit=500),
    }
    # The cursor a walk would hold halfway through (the id before it, in id order).
    cursor = paging.encode("users", sorted(uid for uid, _ in data.users)[len(data.users) // 2])
    figures["users, a page of 100 from the middle"] = _median_ms(
        client, "/users", repeat, limit=100, cursor=cursor
    )
    started, seen, cursor = time.perf_counter(), 0, None
    while True:
        _, page = _get(client, "/users", limit=500, **({"cursor": cursor} if cursor else {}))
        seen += len(page["data"])
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == len(data.users), (seen, len(data.users))
    figures[f"users, a whole walk at 500 per page ({seen:,})"] = round(
        (time.perf_counter() - started) * 1000, 1
    )
    figures["users, q (text search), first page"] = _median_ms(
        client, "/users", repeat, q="user7", limit=100
    )
    if data.group_id:
        group = data.group_id
        figures[f"users in a {len(data.group_members):,}-member group, first page"] = _median_ms(
            client, "/users", repeat, group=group, limit=100
        )
        figures["members of that group, a page of 500"] = _median_ms(
            client, f"/groups/{group}/members", repeat, limit=500
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", choices=["tinydb", "postgres"], default="tinydb")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="roster-appapi-bench-"))
    cluster = dsn = None
    if args.backend == "postgres":
        from tests.pgcluster import Cluster

        cluster = Cluster(durable=True).start()
        dsn = cluster.create_database("bench")
    try:
        data = preload(work / "data", args.size, args.members, dsn)
        key = _issue_key(work / "data", dsn)
        server, _ = start_roster(work / "data", data.idp, data.token, work / "server.log", dsn)
        client = Client(server.port, key)
        try:
            figures = measure(client, data, args.repeat)
        finally:
            client.close()
            server.stop()
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"application API, {args.backend}, {args.size:,} users (median of {args.repeat};"
        f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):"
    )
    for name, ms in figures.items():
        print(f"  {name:<55} {ms:>9.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
