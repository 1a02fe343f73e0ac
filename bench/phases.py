"""The measured phases. Each drives a running server over HTTP and returns a summary dict."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.parse

from bench.client import Client, Series
from bench.preload import Dataset, user_body
from bench.progress import Progress

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _patch(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def _run(series: Series, total: int, label: str, step) -> dict:
    """Call ``step(i)`` ``total`` times; it returns (seconds, ok)."""
    started = time.perf_counter()
    with Progress(label, total) as bar:
        for i in range(total):
            seconds, ok = step(i)
            series.add(seconds, ok)
            bar.advance()
    series.wall = time.perf_counter() - started
    return series.summary()


def ceiling(port: int, requests: int, threads: int) -> dict:
    """Bare Flask + waitress: sequential POSTs with a User-sized body, then ``threads`` at once."""
    body = json.dumps(user_body("ceiling.user")).encode()
    client = Client(port)

    def step(i: int):
        seconds, status, _ = client.timed("POST", "/hello", body)
        return seconds, status == 200

    sequential = _run(Series("ceiling"), requests, "ceiling: bare Flask, sequential", step)
    client.close()
    parallel = _parallel(
        port, None, requests, threads, lambda c, rng, i: c.timed("POST", "/hello", body)[:2], {200}
    )
    return {"sequential": sequential, "parallel": parallel}


def _parallel(port, token, requests, threads, call, ok_statuses) -> dict:
    """``threads`` clients share ``requests``; ``call(client, rng, i)`` returns (s, status)."""
    series = Series("parallel")
    lock = threading.Lock()

    def worker(n: int):
        client, rng = Client(port, token), random.Random(n)
        try:
            for i in range(requests // threads):
                seconds, status = call(client, rng, i)
                with lock:
                    series.add(seconds, status in ok_statuses)
        finally:
            client.close()

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    series.wall = time.perf_counter() - started
    return series.summary()


def creates(client: Client, data: Dataset, requests: int) -> dict:
    """Sequential POST /Users of new users."""
    label = f"POST /Users at {len(data.users):,}"
    return creates_at(
        client, f"/scim/v2/{data.idp}/Users", requests, f"new{len(data.users)}", label
    )


def creates_at(client: Client, url: str, requests: int, tag: str, label: str) -> dict:
    """Sequential POSTs of new users to ``url`` (Roster's /Users, or a peer's)."""

    def step(i: int):
        seconds, status, _ = client.timed("POST", url, user_body(f"{tag}-{i}.bench"))
        return seconds, status == 201

    return _run(Series("post"), requests, label, step)


def lookups(client: Client, data: Dataset, requests: int) -> dict:
    """GET /Users?filter=userName eq "…" for random existing users (checked: one match)."""
    base, rng = f"/scim/v2/{data.idp}/Users?filter=", random.Random(1)

    def step(i: int):
        _, name = rng.choice(data.users)
        query = urllib.parse.quote(f'userName eq "{name.upper()}"')
        seconds, status, raw = client.timed("GET", base + query)
        return seconds, status == 200 and json.loads(raw)["totalResults"] == 1

    return _run(Series("lookup"), requests, f"userName eq at {len(data.users):,}", step)


def pages(client: Client, data: Dataset, requests: int) -> dict:
    """GET /Users?startIndex=…&count=100 at random offsets (checked: a full page)."""
    base, rng = f"/scim/v2/{data.idp}/Users", random.Random(2)

    def step(i: int):
        start = rng.randint(1, max(len(data.users) - 100, 1))
        seconds, status, raw = client.timed("GET", f"{base}?startIndex={start}&count=100")
        expected = min(100, len(data.users))
        return seconds, status == 200 and len(json.loads(raw)["Resources"]) == expected

    return _run(Series("page"), requests, f"page of 100 at {len(data.users):,}", step)


def membership(client: Client, data: Dataset, requests: int, query: str = "") -> dict:
    """PATCH add one member, then remove it, on the big group (the forms Entra sends).

    ``query`` is appended to the URL: ``?excludedAttributes=members`` measures the change
    without the 10,000 members that the response otherwise carries back (RFC 7644 §3.5.2)."""
    path = f"/scim/v2/{data.idp}/Groups/{data.group_id}"
    outsiders = [uid for uid, _ in data.users if uid not in data.group_members]
    add, remove, rng = Series("add"), Series("remove"), random.Random(3)
    size = 0
    started = time.perf_counter()
    label = f"group of {len(data.group_members):,}: add/remove{' (' + query + ')' if query else ''}"
    with Progress(label[:34], requests) as bar:
        for _ in range(requests // 2):
            uid = rng.choice(outsiders)
            op = {"op": "add", "path": "members", "value": [{"value": uid}]}
            seconds, status, raw = client.timed("PATCH", path + query, _patch(op))
            add.add(seconds, status in (200, 204))
            size = len(raw)
            op = {"op": "remove", "path": f'members[value eq "{uid}"]'}
            seconds, status, _ = client.timed("PATCH", path + query, _patch(op))
            remove.add(seconds, status in (200, 204))
            bar.advance(2)
    add.wall = remove.wall = time.perf_counter() - started
    status, raw, _ = client.request("GET", path)
    after = len(json.loads(raw).get("members", [])) if status == 200 else None
    return {
        "query": query,
        "members_before": len(data.group_members),
        "members_after": after,
        "response_bytes": size,
        "add": add.summary(),
        "remove": remove.summary(),
    }
