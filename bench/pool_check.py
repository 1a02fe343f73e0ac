"""What checking a pooled PostgreSQL connection before each loan costs.

``python bench/pool_check.py [--database-url DSN] [--loans N]`` borrows and returns one
connection N times from a pool with no check, with psycopg_pool's ``check_connection`` (a
round trip), and with Roster's check (``storage.postgres.pg_pool``: a look at the socket, a
round trip only when the server has said something), and prints the microseconds per loan.
Without ``--database-url`` it starts a throwaway cluster (``tests/pgcluster.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from psycopg_pool import ConnectionPool  # noqa: E402

from storage.postgres import pg_pool  # noqa: E402


def per_loan(pool: ConnectionPool, loans: int) -> float:
    """Return the microseconds one loan takes, after a warm-up."""
    for _ in range(loans // 10):
        with pool.connection():
            pass
    started = time.perf_counter()
    for _ in range(loans):
        with pool.connection():
            pass
    return (time.perf_counter() - started) / loans * 1e6


def pools(dsn: str) -> dict[str, ConnectionPool]:
    options = {"min_size": 1, "max_size": 2, "kwargs": {"autocommit": True}, "open": False}
    return {
        "no check": ConnectionPool(dsn, **options),
        "check_connection (a round trip)": ConnectionPool(
            dsn, check=ConnectionPool.check_connection, **options
        ),
        "Roster's check (storage.postgres.pg_pool)": pg_pool.make_pool(
            dsn, name="bench", min_size=1, max_size=2, timeout=5, configure=lambda conn: None
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL DSN (default: a throwaway cluster)")
    parser.add_argument("--loans", type=int, default=5000)
    args = parser.parse_args(argv)
    cluster = None
    if not args.database_url:
        from tests.pgcluster import Cluster

        cluster = Cluster().start()
        args.database_url = cluster.dsn()
    try:
        for name, pool in pools(args.database_url).items():
            pool.open(wait=True)
            try:
                print(f"{name:34} {per_loan(pool, args.loans):7.1f} µs per loan")
            finally:
                pool.close()
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
