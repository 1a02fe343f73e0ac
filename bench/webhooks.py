"""What webhook delivery achieves, from one Roster process on TinyDB, to receivers on loopback:

    .venv/bin/python bench/webhooks.py

1. Backlog throughput: 3,000 events recorded while delivery is off (``[webhooks] deliver =
   false``); the server restarts with it on, and the time from the first to the last delivery
   gives events/s (target: at least 500/s).
2. Commit-to-delivery latency: users created one after the other (about 100/s) while a healthy
   receiver listens; for each event, its arrival minus its ``occurred_at`` (the commit time,
   same machine clock). Targets: p50 under 50 ms, p99 under 500 ms.
3. SCIM POST p50 with only the healthy endpoint, then with another endpoint that never answers
   (each attempt times out): within 10 % (the slow endpoint has threads of its own).

Prints each figure with PASS or FAIL.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench.client import Client  # noqa: E402
from bench.servers import Server  # noqa: E402

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
BACKLOG = 3000
LATENCY_USERS = 500
POSTS = 600


class Backlogged(ThreadingHTTPServer):
    # The default listen backlog of 5 drops connections when 8 attempts arrive at once, and a
    # dropped SYN is retried after a second: the receiver, not the sender, would be measured.
    request_queue_size = 128


class Receiver:
    """Answers 204 at once (``hang``: never answers) and notes each event's arrival."""

    def __init__(self, hang: bool = False):
        self.arrivals: dict[str, tuple[float, str]] = {}
        self.changed = threading.Condition()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers["content-length"]))
                now = time.time()
                if hang:
                    receiver.release.wait(60)
                    return
                event = json.loads(raw)["data"]
                with receiver.changed:
                    receiver.arrivals.setdefault(event["id"], (now, event["occurred_at"]))
                    receiver.changed.notify_all()
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = Backlogged(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self.changed:
            while len(self.arrivals) < count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(self.arrivals)} of {count} events after {seconds} s")
                self.changed.wait(0.1)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


def setup(folder: Path, urls: list[str]) -> tuple[str, str]:
    """Make an IdP, its token and one endpoint per URL in the data folder; return (idp, token)."""
    import tokens
    from providers import create_idp
    from storage.tinydb.store import TinyStore
    from webhooks import endpoints

    store = TinyStore(str(folder))
    try:
        idp = create_idp(store, "Bench", "okta")["id"]
        for url in urls:
            endpoints.add(store, url, allow_private=True)
        return idp, tokens.issue(store, idp)
    finally:
        store.close()


def start(folder: Path, idp: str, token: str, deliver: bool, extra: str = "") -> Server:
    config = folder.parent / "config.toml"
    config.write_text(
        f"[webhooks]\ndeliver = {'true' if deliver else 'false'}\n"
        f"allow_private_networks = true\ntimeout = 2\nlease_seconds = 10\n{extra}"
    )
    server = Server(["app.py", "--config", str(config)], folder.parent / "server.log", folder)
    server.wait_ready(f"/scim/v2/{idp}/ServiceProviderConfig", {"Authorization": f"Bearer {token}"})
    return server


def create_users(port: int, idp: str, token: str, count: int, prefix: str) -> list[float]:
    client = Client(port, token)
    times = []
    try:
        for i in range(count):
            body = {"schemas": [CORE], "userName": f"{prefix}{i}@example.com"}
            seconds, status, _ = client.timed("POST", f"/scim/v2/{idp}/Users", body)
            assert status == 201, status
            times.append(seconds)
    finally:
        client.close()
    return times


def epoch(occurred_at: str) -> float:
    return datetime.fromisoformat(occurred_at.replace("Z", "+00:00")).timestamp()


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def throughput(work: Path) -> bool:
    receiver = Receiver()
    folder = work / "throughput" / "data"
    folder.parent.mkdir(parents=True)
    idp, token = setup(folder, [receiver.url])
    server = start(folder, idp, token, deliver=False)
    try:
        create_users(server.port, idp, token, BACKLOG, "backlog")
    finally:
        server.stop()
    server = start(folder, idp, token, deliver=True)
    try:
        receiver.wait_for(BACKLOG, 300)
    finally:
        server.stop()
        receiver.close()
    times = sorted(t for t, _ in receiver.arrivals.values())
    rate = (len(times) - 1) / (times[-1] - times[0])
    print(
        f"backlog of {BACKLOG} events delivered at {rate:.0f} events/s"
        f" (target >= 500): {verdict(rate >= 500)}"
    )
    return rate >= 500


def latency(work: Path) -> bool:
    receiver = Receiver()
    folder = work / "latency" / "data"
    folder.parent.mkdir(parents=True)
    idp, token = setup(folder, [receiver.url])
    server = start(folder, idp, token, deliver=True)
    try:
        create_users(server.port, idp, token, LATENCY_USERS, "latency")
        receiver.wait_for(LATENCY_USERS, 120)
    finally:
        server.stop()
        receiver.close()
    lags = sorted((t - epoch(at)) * 1000 for t, at in receiver.arrivals.values())
    p50, p99 = statistics.median(lags), lags[int(len(lags) * 0.99) - 1]
    ok = p50 < 50 and p99 < 500
    print(f"commit to delivery: p50 {p50:.1f} ms (< 50), p99 {p99:.1f} ms (< 500): {verdict(ok)}")
    return ok


def isolation(work: Path) -> bool:
    """Two servers side by side, requests alternating between them so both see the same
    machine: one with only the healthy endpoint, one with a dead endpoint beside it."""
    healthy, dead = Receiver(), Receiver(hang=True)
    setups = (("healthy only", [healthy.url]), ("with a dead endpoint", [healthy.url, dead.url]))
    servers, clients = {}, {}
    try:
        for name, urls in setups:
            folder = work / name.replace(" ", "-") / "data"
            folder.parent.mkdir(parents=True)
            idp, token = setup(folder, urls)
            servers[name] = start(folder, idp, token, deliver=True)
            clients[name] = (Client(servers[name].port, token), idp)
        times: dict[str, list[float]] = {name: [] for name in servers}
        for i in range(POSTS + 50):
            for name, (client, idp) in clients.items():
                body = {"schemas": [CORE], "userName": f"post{i}@example.com"}
                seconds, status, _ = client.timed("POST", f"/scim/v2/{idp}/Users", body)
                assert status == 201, status
                if i >= 50:  # the first ones warm up
                    times[name].append(seconds)
    finally:
        for client, _ in clients.values():
            client.close()
        for server in servers.values():
            server.stop()
        healthy.close()
        dead.close()
    results = {name: statistics.median(t) * 1000 for name, t in times.items()}
    for name, p50 in results.items():
        print(f"SCIM POST p50 {name}: {p50:.2f} ms")
    base, loaded = results["healthy only"], results["with a dead endpoint"]
    ok = loaded <= base * 1.10
    change = 100 * (loaded / base - 1)
    print(f"POST p50 with a dead endpoint is {change:+.1f} % (within 10 %): {verdict(ok)}")
    return ok


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="roster-bench-webhooks-") as tmp:
        work = Path(tmp)
        results = [throughput(work), latency(work), isolation(work)]
    print("PASS" if all(results) else "FAIL")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
