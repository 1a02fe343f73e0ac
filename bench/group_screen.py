"""What the screen's read of the ``downstream`` table costs a SCIM write of a group on
PostgreSQL: a PATCH of a group's members (one member added, then removed), through the store
with the screen the SCIM views hand it, while the table is empty and while it holds
``--entries`` entries (users kept under the "deactivate" policy: of another IdP, then of the
group's own IdP); and, as the floor, the same write without the screen.

    .venv/bin/python bench/group_screen.py                 # 300 entries, 3 rounds of 200 writes
    .venv/bin/python bench/group_screen.py --entries 1000

A throwaway cluster (``tests/pgcluster.py``, fsync off) or ``--database-url``. The three cases
run in turn within each round, so load from elsewhere on the machine weighs on all of them;
the ratios to the empty table are what to read.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from lifecycle import screen  # noqa: E402
from storage.postgres.store import PostgresStore  # noqa: E402

IDP, OTHER = "bench-idp", "other-idp"
# "no screen": the same write without the screen (so without its read), the floor.
CASES = ("no screen", "empty", "other IdP", "same IdP")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=300, help="downstream entries")
    parser.add_argument("--writes", type=int, default=200, help="group writes per case")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="PostgreSQL server (default: a throwaway one)")
    return parser.parse_args(argv)


def entry(idp: str, n: int) -> dict:
    """A ``downstream`` entry of a user kept after its deletion, as the screen writes one."""
    user = {"id": f"{idp}-u{n}", "userName": f"user{n}", "active": False, "meta": {}}
    return {
        "id": user["id"],
        "idp": idp,
        "reason": "kept",
        "hold": None,
        "data": {"scim": user, "groups": [], "display_name": None},
        "gone": True,
        "since": "2026-01-01T00:00:00Z",
        "purge_at": "2026-02-01T00:00:00Z",
    }


def fill(store: PostgresStore, case: str, count: int) -> None:
    for old in store.records("downstream"):
        store.delete_record("downstream", old["id"])
    if case not in ("empty", "no screen"):
        idp = OTHER if case == "other IdP" else IDP
        store.put_records("downstream", {e["id"]: e for e in (entry(idp, n) for n in range(count))})


def writes(store: PostgresStore, gid: str, member: str, count: int, screened: bool) -> list[float]:
    """Seconds per group write: alternately add ``member`` and take it out again."""
    taken = []
    for n in range(count):

        def change(group: dict, add: bool = n % 2 == 0) -> dict:
            others = [m for m in group.get("members") or () if m["value"] != member]
            return {**group, "members": others + ([{"value": member}] if add else [])}

        hook = screen.for_request(store, IDP, datetime.now(UTC), None) if screened else None
        start = time.perf_counter()
        store.update("Group", IDP, gid, change, screen=hook)
        taken.append(time.perf_counter() - start)
    return taken


def run(dsn: str, args: argparse.Namespace) -> dict[str, list[float]]:
    store = PostgresStore(dsn)
    try:
        user = store.create("User", IDP, {"userName": "member"})
        group = store.create("Group", IDP, {"displayName": "Bench"})
        found: dict[str, list[float]] = {case: [] for case in CASES}
        for _ in range(args.rounds):
            for case in CASES:
                fill(store, case, args.entries)
                found[case] += writes(
                    store, group["id"], user["id"], args.writes, case != "no screen"
                )
        fill(store, "empty", 0)
        return found
    finally:
        store.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cluster = None
    if args.database_url:
        dsn = args.database_url
    else:
        from tests import pgcluster

        cluster = pgcluster.Cluster().start()
        dsn = cluster.create_database("bench_group_screen")
    try:
        found = run(dsn, args)
    finally:
        if cluster is not None:
            cluster.stop()
    base = statistics.median(found["empty"])
    print(f"group PATCH through the store, {args.rounds} x {args.writes} writes a case")
    for case in CASES:
        median = statistics.median(found[case])
        label = case + ("" if case in ("empty", "no screen") else f" ({args.entries} entries)")
        print(f"  downstream {label:<28} median {median * 1000:7.2f} ms  x{median / base:.2f}")


if __name__ == "__main__":
    main()
