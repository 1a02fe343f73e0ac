"""Writers of one IdP on PostgreSQL: they do not queue behind one lock per IdP, and the
uniqueness rules (``userName`` of a User, ``displayName`` of a Group, case-insensitive, per
IdP: RFC 7643 §4.1.1, RFC 7644 §3.3) still hold when they race, in threads of one process and
in two processes sharing the database. The unique index decides: a duplicate is refused
whoever writes it."""

from __future__ import annotations

import multiprocessing
import threading

import psycopg
import pytest

from storage.errors import Conflict
from storage.postgres.store import PostgresStore

IDP = "idp-a"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
NAMES = 40


@pytest.fixture
def store(database_url):
    store = PostgresStore(database_url)
    yield store
    store.close()


def user(name: str) -> dict:
    return {"schemas": [CORE], "userName": name}


def spelled(name: str, writer: int) -> str:
    """``name`` as writer ``writer`` spells it: the same name to the uniqueness rule."""
    return [name, name.upper(), name.title(), name.swapcase()][writer % 4]


def create_all(store, kind: str, writer: int, barrier) -> list[str]:
    """Create ``NAMES`` resources after the barrier; return the names this writer won."""
    field = "userName" if kind == "User" else "displayName"
    won = []
    barrier.wait()
    for n in range(NAMES):
        name = spelled(f"name-{n}", writer)
        try:
            store.create(kind, IDP, user(name) if kind == "User" else {field: name})
        except Conflict as exc:
            assert exc.attribute == field
        else:
            won.append(name.casefold())
    return won


def race_threads(store, kind: str, writers: int = 4) -> list[str]:
    barrier = threading.Barrier(writers)
    results: list[list[str]] = [[] for _ in range(writers)]

    def run(writer: int) -> None:
        results[writer] = create_all(store, kind, writer, barrier)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return [name for won in results for name in won]


@pytest.mark.parametrize("kind", ["User", "Group"])
def test_racing_threads_create_each_name_once(store, kind):
    won = race_threads(store, kind)
    assert sorted(won) == sorted(f"name-{n}" for n in range(NAMES))
    assert store.count(kind, IDP) == NAMES


def test_racing_renames_onto_one_name_have_one_winner(store):
    ids = [store.create("User", IDP, user(f"u{n}"))["id"] for n in range(6)]
    barrier = threading.Barrier(len(ids))
    outcomes: list[str] = []

    def rename(n: int, id: str) -> None:
        barrier.wait()
        try:
            store.update("User", IDP, id, lambda cur: {**cur, "userName": spelled("boss", n)})
        except Conflict:
            outcomes.append("conflict")
        else:
            outcomes.append("renamed")

    threads = [threading.Thread(target=rename, args=(n, id)) for n, id in enumerate(ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["conflict"] * 5 + ["renamed"]
    names = [u["userName"].casefold() for u in store.query("User", IDP)[1]]
    assert names.count("boss") == 1 and len(names) == 6


def _process(dsn: str, kind: str, writer: int, barrier, results) -> None:
    store = PostgresStore(dsn)
    try:
        results.put((writer, create_all(store, kind, writer, barrier)))
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["User", "Group"])
def test_racing_processes_create_each_name_once(database_url, store, kind):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [
        context.Process(target=_process, args=(database_url, kind, w, barrier, results))
        for w in range(2)
    ]
    for process in processes:
        process.start()
    won = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    names = [name for _, names in won for name in names]
    assert sorted(names) == sorted(f"name-{n}" for n in range(NAMES))
    assert store.count(kind, IDP) == NAMES


def test_a_new_group_does_not_wait_for_a_membership_change_under_way(store, database_url):
    from storage.postgres.store import TENANT_LOCK

    ann = store.create("User", IDP, user("ann"))
    team = store.create("Group", IDP, {"displayName": "team"})
    # Another writer is in the middle of a PATCH of the group's members: it holds the IdP's
    # lock as every create and update does, and the group's row.
    with psycopg.connect(database_url) as patching:
        patching.execute(
            "SELECT pg_advisory_xact_lock_shared(%s, hashtext(%s))", [TENANT_LOCK, IDP]
        )
        patching.execute("SELECT data FROM resources WHERE id = %s FOR UPDATE", [team["id"]])
        done = threading.Event()

        def create() -> None:
            store.create("Group", IDP, {"displayName": "ops", "members": [{"value": ann["id"]}]})
            done.set()

        creating = threading.Thread(target=create)
        creating.start()
        assert done.wait(30)  # it returns while the PATCH is still under way
        patching.rollback()
    creating.join(timeout=30)
    assert store.count("Group", IDP) == 2
