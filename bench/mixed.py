"""The mixed load: several threads of lookups, creates, PUTs and PATCHes, then a check that
every acknowledged write is there with its last acknowledged content."""

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
# What each request is, by weight: reads dominate what IdPs send, then writes.
MIX = (("get", 20), ("filter", 20), ("create", 20), ("put", 20), ("patch", 20))


class Worker:
    """One client thread. It owns a disjoint slice of users for PUT/PATCH, so the last
    acknowledged title of each is known without ordering between threads."""

    def __init__(self, n: int, port: int, data: Dataset, owned: list[tuple[str, str]]):
        self.n, self.data, self.owned = n, data, owned
        self.client = Client(port, data.token)
        self.rng = random.Random(100 + n)
        self.series = Series(f"mixed-{n}")
        self.created: dict[str, str] = {}  # id -> userName, acknowledged creates
        self.titles: dict[str, str] = {}  # id -> last acknowledged title
        self.failures: list[str] = []

    def run(self, requests: int, bar: Progress, lock: threading.Lock) -> None:
        kinds = [k for k, _ in MIX]
        weights = [w for _, w in MIX]
        try:
            for i in range(requests):
                kind = self.rng.choices(kinds, weights)[0]
                seconds, ok = getattr(self, kind)(i)
                with lock:
                    self.series.add(seconds, ok)
                    bar.advance()
        except Exception as exc:  # a dropped connection is an error, not a crash of the bench
            self.failures.append(repr(exc))
        finally:
            self.client.close()

    def _base(self) -> str:
        return f"/scim/v2/{self.data.idp}/Users"

    def get(self, i: int):
        uid, _ = self.rng.choice(self.data.users)
        seconds, status, _ = self.client.timed("GET", f"{self._base()}/{uid}")
        return seconds, status == 200

    def filter(self, i: int):
        _, name = self.rng.choice(self.data.users)
        query = urllib.parse.quote(f'userName eq "{name}"')
        seconds, status, _ = self.client.timed("GET", f"{self._base()}?filter={query}")
        return seconds, status == 200

    def create(self, i: int):
        name = f"mixed{self.n}-{i}.bench"
        seconds, status, raw = self.client.timed("POST", self._base(), user_body(name))
        if status == 201:
            self.created[json.loads(raw)["id"]] = f"{name}@example.com"
        return seconds, status == 201

    def put(self, i: int):
        uid, name = self.rng.choice(self.owned)
        title = f"put-{self.n}-{i}"
        body = user_body(name.removesuffix("@example.com"), title=title)
        seconds, status, _ = self.client.timed("PUT", f"{self._base()}/{uid}", body)
        if status == 200:
            self.titles[uid] = title
        return seconds, status == 200

    def patch(self, i: int):
        uid, _ = self.rng.choice(self.owned)
        title = f"patch-{self.n}-{i}"
        op = {"op": "replace", "path": "title", "value": title}
        body = {"schemas": [PATCH_OP], "Operations": [op]}
        seconds, status, _ = self.client.timed("PATCH", f"{self._base()}/{uid}", body)
        if status == 200:
            self.titles[uid] = title
        return seconds, status == 200


def mixed(port: int, data: Dataset, requests: int, threads: int) -> dict:
    """Run the mixed load, then verify every acknowledged write over HTTP."""
    owned = data.users[-threads * 50 :]
    workers = [Worker(n, port, data, owned[n * 50 : (n + 1) * 50]) for n in range(threads)]
    lock = threading.Lock()
    per_thread = requests // threads
    started = time.perf_counter()
    with Progress(f"mixed, {threads} threads", per_thread * threads) as bar:
        runners = [threading.Thread(target=w.run, args=(per_thread, bar, lock)) for w in workers]
        for t in runners:
            t.start()
        for t in runners:
            t.join()
    wall = time.perf_counter() - started
    merged = Series("mixed", wall=wall)
    for w in workers:
        merged.latencies += w.series.latencies
        merged.errors += w.series.errors + len(w.failures)
    summary = merged.summary()
    summary["threads"] = threads
    summary["lost_writes"] = _lost_writes(port, data, workers)
    summary["failures"] = [f for w in workers for f in w.failures][:5]
    return summary


def _lost_writes(port: int, data: Dataset, workers: list[Worker]) -> int:
    """Count acknowledged writes the server no longer shows as acknowledged."""
    client = Client(port, data.token)
    base = f"/scim/v2/{data.idp}/Users"
    checks = [(uid, "userName", name) for w in workers for uid, name in w.created.items()]
    checks += [(uid, "title", title) for w in workers for uid, title in w.titles.items()]
    lost = 0
    try:
        with Progress("verify acknowledged writes", len(checks)) as bar:
            for uid, attribute, expected in checks:
                status, raw, _ = client.request("GET", f"{base}/{uid}")
                if status != 200 or json.loads(raw).get(attribute) != expected:
                    lost += 1
                bar.advance()
    finally:
        client.close()
    return lost
