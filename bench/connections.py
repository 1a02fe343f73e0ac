"""What idle and trickling connections cost everyone else: ``python app.py`` on loopback,
with N idle sockets and 20 clients trickling their headers held open, answering one client's
sequential ``GET /Users``.

    .venv/bin/python bench/connections.py                 # N = 0, 500, 950
    .venv/bin/python bench/connections.py --idle 0,200 --requests 500

Prints, per N, the time to the first answer on a new connection and the p50/p95 of the
keep-alive requests that follow.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from bench.client import Client  # noqa: E402
from bench.servers import Server, _environment  # noqa: E402

TRICKLERS = 20


def _flask(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=_environment(data_dir),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def measure(folder: Path, idle: int, requests: int) -> dict:
    data_dir = folder / f"data-{idle}"
    idp = _flask(data_dir, "idp", "create", "--name", "Bench", "--kind", "generic")
    token = json.loads(_flask(data_dir, "token", "generate", idp, "--json"))["token"]
    server = Server(["app.py"], folder / f"server-{idle}.log", data_dir)
    path = f"/scim/v2/{idp}/Users"
    try:
        server.wait_ready(path, {"Authorization": f"Bearer {token}"})
        with contextlib.ExitStack() as stack:
            address = ("127.0.0.1", server.port)
            for n in range(idle + TRICKLERS):
                sock = stack.enter_context(socket.create_connection(address))
                if n >= idle:
                    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: roster\r\n".encode())
            client = Client(server.port, token)
            started = time.perf_counter()
            assert client.request("GET", path)[0] == 200
            first = time.perf_counter() - started
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                assert client.request("GET", path)[0] == 200
                times.append(time.perf_counter() - started)
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
    times.sort()
    return {
        "idle": idle,
        "first_ms": first * 1000,
        "p50_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(len(times) * 0.95) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", default="0,500,950", help="comma-separated idle socket counts")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    print(f"{'idle':>6} {'tricklers':>9} {'first (ms)':>11} {'p50 (ms)':>9} {'p95 (ms)':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for idle in (int(n) for n in args.idle.split(",")):
            row = measure(Path(folder), idle, args.requests)
            print(
                f"{row['idle']:>6} {TRICKLERS:>9} {row['first_ms']:>11.1f} "
                f"{row['p50_ms']:>9.2f} {row['p95_ms']:>9.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
