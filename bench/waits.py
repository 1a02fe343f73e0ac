"""Where request threads spend their time while several clients POST at once: in the
journal's fsync, waiting for the writer lock, waiting for a group fsync another writer leads
(``storage.tinydb.durable``), or anything else (CPU, and waiting for the GIL).

    .venv/bin/python bench/waits.py                    # 4 client threads, 1,200 POSTs
    .venv/bin/python bench/waits.py --threads 8 --requests 2000

py-spy samples every worker thread, idle ones included (``--idle``), while the clients run.
Before group commit a writer held the lock through its fsync, and at 4 threads the others
spent about half their samples waiting for it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench.breakdown import Sampler  # noqa: E402
from bench.client import Client  # noqa: E402
from bench.preload import preload, user_body  # noqa: E402
from bench.servers import start_roster  # noqa: E402

STORE = ("(storage/tinydb/store.py", "(storage/tinydb/resources.py")


def state(frames: list[str]) -> str | None:
    """What a sample of a waitress worker is doing, or None when it serves no request."""
    if not any("service (waitress/channel.py" in f for f in frames):
        return None
    leaf = frames[-1]
    if "_fsync" in leaf and "journal.py" in leaf:
        return "in the journal's fsync"
    if "GroupSync.wait" in leaf:
        return "waiting for a group fsync another writer leads"
    if leaf.startswith(("Resources.create ", "TinyStore._writing ")) and any(
        f in leaf for f in STORE
    ):
        return "waiting for the writer lock"  # the line holding ``with self._lock``
    return "other: CPU, waiting for the GIL"


def post(port: int, token: str, url: str, tag: str, requests: int) -> None:
    client = Client(port, token)
    try:
        for i in range(requests):
            _, status, _ = client.timed("POST", url, user_body(f"{tag}{i}.waits"))
            assert status == 201, status
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--requests", type=int, default=1200)
    args = parser.parse_args()
    if Sampler.command() is None:
        sys.exit("py-spy is not installed (pip install -r requirements-dev.txt)")
    work = Path(tempfile.mkdtemp(prefix="roster-waits-"))
    data = preload(work / "data", 100)
    server, _ = start_roster(work / "data", data.idp, data.token, work / "roster.log")
    url, each = f"/scim/v2/{data.idp}/Users", args.requests // args.threads
    output = work / "stacks.txt"
    try:
        post(server.port, data.token, url, "warm", 50)
        argv = [Sampler.command(), "record", "--idle", "--threads", "-r", "500", "-f", "raw"]
        spy = subprocess.Popen(
            [*argv, "-p", str(server.process.pid), "-o", str(output)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.5)  # py-spy attaches before the first request: a start-up delay
        clients = [
            threading.Thread(target=post, args=(server.port, data.token, url, f"c{n}-", each))
            for n in range(args.threads)
        ]
        started = time.perf_counter()
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        seconds = time.perf_counter() - started
        spy.send_signal(2)  # SIGINT: py-spy writes what it has and exits
        spy.wait(timeout=120)
    finally:
        server.stop()
    states: Counter = Counter()
    for line in output.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        found = state(stack.split(";"))
        if found:
            states[found] += int(count)
    total = sum(states.values()) or 1
    print(
        f"{each * args.threads:,} POST /Users from {args.threads} client threads in "
        f"{seconds:.2f} s under py-spy; where the request threads' samples are:"
    )
    for name, count in states.most_common():
        print(f"   {count / total:6.1%}  {name}")


if __name__ == "__main__":
    main()
