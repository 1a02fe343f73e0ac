"""What only the PostgreSQL backend has: filters translated to SQL, migrations, the shared
request log, backups as TinyDB snapshots. The contract itself is in test_contract.py."""

from __future__ import annotations

import os
import threading

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb

from scim.core.filter import parse_filter
from storage.errors import StoreUnavailable
from storage.postgres import pg_schema
from storage.postgres.requestlog import DatabaseRequestLog
from storage.postgres.sql import translate
from storage.postgres.store import PostgresStore, describe
from storage.query import run_query
from storage.tinydb.store import TinyStore

IDP = "idp-a"


@pytest.fixture
def store(database_url):
    store = PostgresStore(database_url)
    yield store
    store.close()


@pytest.fixture
def fresh_schema(postgres_server):
    """A DSN whose search_path names an empty schema (no Roster tables yet)."""
    name = f"roster_fresh_{os.getpid()}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"CREATE SCHEMA {name}")
    yield make_conninfo(postgres_server, options=f"-c search_path={name}")
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def people(store):
    """Users and Groups with the values that trip SQL up: folding, wildcards, empty strings."""
    rows = [
        ("Ann", "E1", "work"),
        ("STRAßE", "e1", None),
        ("bob_1", "", "home"),
        ("b%ob", None, "work"),
        ("carol", "x_y", None),
        ("Dave", "x%y", "work"),
    ]
    users = []
    for name, external, email_type in rows:
        body = {"userName": name, "title": name[0]}
        if external is not None:
            body["externalId"] = external
        if email_type:
            body["emails"] = [{"value": f"{name}@example.com", "type": email_type}]
        users.append(store.create("User", IDP, body))
    store.create("User", "idp-b", {"userName": "Ann"})
    members = [{"value": u["id"]} for u in users[:3]]
    store.create("Group", IDP, {"displayName": "Team", "members": members})
    store.create("Group", IDP, {"displayName": "tech", "members": members[1:2]})
    store.create("Group", IDP, {"displayName": "Ops"})
    return users


EXACT = [
    'userName eq "ann"',
    'userName eq "strasse"',
    'userName sw "b"',
    'userName sw "b_"',
    'userName co "%"',
    'userName ew "E"',
    'userName gt "b"',
    'userName le "bob_1"',
    "userName pr",
    "userName eq null",
    'userName ne "ann"',
    "userName eq 42",
    'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ANN"',
    'externalId eq "e1"',
    'externalId ne "e1"',
    "externalId pr",
    "not (externalId pr)",
    "externalId ne null",
    'externalId sw "x_"',
    'externalId co "%"',
    'externalId ge "e"',
    'externalId eq "E1" or userName sw "s"',
    'not (userName sw "b" or externalId pr)',
]
NARROWING = [
    'userName sw "b" and title eq "b"',
    'title pr or userName eq "ann"',
    'emails[type eq "work"]',
    'not (title eq "A")',
    'emails[type eq "work"] and not (externalId pr)',
]


@pytest.mark.parametrize("text", EXACT + NARROWING)
def test_users_filter_exactly_as_python_evaluates(store, people, text):
    expr = parse_filter(text)
    condition = translate("User", expr)
    assert (condition is not None and condition.exact) == (text in EXACT)
    everyone = store.query("User", IDP)[1]
    assert store.query("User", IDP, filter=expr) == run_query(
        "User", everyone, expr, None, False, 1, None
    )


@pytest.mark.parametrize(
    "template",
    [
        'members.value eq "{0}"',
        'members[value eq "{0}"]',
        'members.value eq "{1}"',  # members.value is not caseExact (RFC 7643 §4.2)
        'members[value eq "{0}"] and displayName sw "t"',
        'displayName eq "TEAM" or members[value eq "{2}"]',
        'members[value eq "{0}" or value eq "{2}"]',
        "members pr",
    ],
)
def test_groups_filter_exactly_as_python_evaluates(store, people, template):
    uid = people[1]["id"]
    expr = parse_filter(template.format(uid, uid.upper(), people[0]["id"]))
    everyone = store.query("Group", IDP)[1]
    expected = run_query("Group", everyone, expr, None, False, 1, None)
    assert store.query("Group", IDP, filter=expr) == expected
    assert expected[0] > 0 or template == "members pr"


@pytest.mark.parametrize("sort_by", ["userName", "externalId", "id", "title", "meta.created"])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("page", [(1, None), (2, 2), (5, 10), (1, 0)])
def test_sorted_pages_match_python(store, people, sort_by, descending, page):
    start, count = page
    expr = parse_filter('userName ne "carol"')
    everyone = store.query("User", IDP)[1]
    expected = run_query("User", everyone, expr, sort_by, descending, start, count)
    found = store.query(
        "User", IDP, filter=expr, sort_by=sort_by, descending=descending,
        start_index=start, count=count,
    )  # fmt: skip
    if sort_by == "meta.created":  # created in the same millisecond: ties in creation order
        assert found[0] == expected[0] and len(found[1]) == len(expected[1])
    else:
        assert found == expected


def test_migrations_create_the_schema_once(fresh_schema):
    with psycopg.connect(fresh_schema, autocommit=True) as conn:
        assert pg_schema.current_version(conn) == 0
        assert pg_schema.migrate(conn) == 0
        assert pg_schema.migrate(conn) == pg_schema.VERSION
        assert pg_schema.current_version(conn) == pg_schema.VERSION


def test_processes_starting_together_migrate_once(fresh_schema):
    barrier = threading.Barrier(4)
    opened: list[PostgresStore] = []

    def start():
        barrier.wait()
        opened.append(PostgresStore(fresh_schema))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(opened) == 4
        with opened[0].connection() as conn:
            assert conn.execute("SELECT count(*) FROM roster_schema").fetchone()[0] == 1
    finally:
        for store in opened:
            store.close()


def test_upgrade_from_version_1_fills_group_heads(fresh_schema):
    with psycopg.connect(fresh_schema, autocommit=True) as conn:
        conn.execute("CREATE TABLE roster_schema (version integer NOT NULL)")
        conn.execute("INSERT INTO roster_schema VALUES (1)")
        for statement in pg_schema.MIGRATIONS[0]:
            conn.execute(statement)
        group = {"id": "g", "displayName": "Team", "members": [{"value": "u"}]}
        conn.execute(
            "INSERT INTO resources (id, kind, idp, unique_name, data)"
            " VALUES ('u', 'User', 'i', 'ann', %s), ('g', 'Group', 'i', 'team', %s)",
            [Jsonb({"id": "u", "userName": "ann"}), Jsonb(group)],
        )
        conn.execute("INSERT INTO members VALUES ('g', 'i', 'u')")
    store = PostgresStore(fresh_schema)
    try:
        assert store.groups_of("i", "u") == [{"id": "g", "displayName": "Team"}]
        assert store.get("Group", "i", "g") == group
    finally:
        store.close()


def test_store_refuses_a_newer_schema(fresh_schema):
    PostgresStore(fresh_schema).close()  # migrates at start-up
    with psycopg.connect(fresh_schema, autocommit=True) as conn:
        conn.execute("UPDATE roster_schema SET version = version + 1")
    with pytest.raises(StoreUnavailable, match="this Roster knows up to"):
        PostgresStore(fresh_schema)


def test_unreachable_database_is_store_unavailable_without_the_password():
    dsn = "postgresql://roster:s3cret@127.0.0.1:1/roster?connect_timeout=1"
    with pytest.raises(StoreUnavailable) as caught:
        PostgresStore(dsn, connect_timeout=1)
    assert "s3cret" not in str(caught.value)
    assert describe(dsn) == "roster@127.0.0.1:1/roster"


def test_backup_is_a_tinydb_data_folder(store, people, tmp_path):
    store.put_record("idps", IDP, {"id": IDP})
    store.backup(str(tmp_path / "copy" / "roster.json"))
    copy = TinyStore(tmp_path / "copy")
    try:
        assert copy.query("User", IDP) == store.query("User", IDP)
        assert copy.get_record("idps", IDP) == {"id": IDP}
        assert [g["displayName"] for g in copy.groups_of(IDP, people[1]["id"])] == ["Team", "tech"]
    finally:
        copy.close()


def test_request_log_is_shared_and_bounded(database_url):
    one, two = PostgresStore(database_url), PostgresStore(database_url)
    try:
        first = DatabaseRequestLog(lambda: one, size=3)
        second = DatabaseRequestLog(lambda: two, size=3)
        for i in range(10):
            (first if i % 2 else second).append(IDP, {"status": [200, 404][i % 2], "n": i})
        assert [e["n"] for e in first.entries(IDP)] == [9, 8, 7]
        assert [e["n"] for e in second.entries(IDP, errors_only=True)] == [9, 7]
        assert second.entries(IDP, limit=1) == [{"status": 404, "n": 9}]
        with one.connection() as conn:
            kept = conn.execute("SELECT count(*) FROM request_log").fetchone()[0]
        assert kept < 10
        first.forget(IDP)
        assert second.entries(IDP) == []
    finally:
        one.close()
        two.close()


def test_values_that_quoting_trips_on_are_stored_as_given(store):
    # A write's statements are bound on the client (pg_tx.Held): quotes, backslashes, percent
    # signs, statement separators and non-ASCII text must come back exactly.
    tricky = "O'Brien \\ 50% ;\nCOMMIT; -- $1 %s ß \U0001f600"
    created = store.create("User", IDP, {"userName": tricky, "title": "'; DROP TABLE x; --"})
    assert store.get("User", IDP, created["id"])["userName"] == tricky
    changed = store.update(
        "User", IDP, created["id"], lambda current: {**current, "nickName": tricky + "'"}
    )
    assert store.get("User", IDP, created["id"]) == changed
    assert changed["nickName"] == tricky + "'" and changed["title"] == "'; DROP TABLE x; --"


def test_a_write_made_inside_a_held_write_lands_with_it_or_not_at_all(store):
    def prepare(data: dict, fail: bool = False) -> dict:
        store.put_record("notes", data["userName"], {"seen": True})  # a savepoint inside
        if fail:
            raise ValueError("refused after the nested write")
        return data

    created = store.create("User", IDP, {"userName": "kept"}, prepare=prepare)
    assert store.get_record("notes", "kept") == {"seen": True}
    assert store.get("User", IDP, created["id"])["userName"] == "kept"
    with pytest.raises(ValueError):
        store.create("User", IDP, {"userName": "gone"}, prepare=lambda d: prepare(d, True))
    assert store.get_record("notes", "gone") is None
    assert [u["userName"] for u in store.query("User", IDP)[1]] == ["kept"]


def test_request_log_writes_many_in_order_and_bounded(store):
    log = DatabaseRequestLog(lambda: store, size=5)
    log.append_many([(IDP, {"status": 200, "n": n}) for n in range(12)])
    log.append_many([("not a safe id", {"status": 200, "n": 99}), (IDP, {"status": 201, "n": 12})])
    assert [e["n"] for e in log.entries(IDP)] == [12, 11, 10, 9, 8]
    with store.connection() as conn:
        kept = conn.execute("SELECT count(*) FROM request_log").fetchone()[0]
    assert kept < 13  # trimmed once the batch crossed a multiple of size // 10
    assert log.failures.count == 0


def test_an_entry_the_database_refuses_costs_only_itself(store):
    log = DatabaseRequestLog(lambda: store, size=10)
    # U+0000 cannot be stored in jsonb (scim.requestlog scrubs it; this entry was not).
    batch = [(IDP, {"status": 200, "n": 0}), (IDP, {"status": 400, "n": "\x00"})]
    log.append_many([*batch, (IDP, {"status": 201, "n": 2})])
    assert [e["n"] for e in log.entries(IDP)] == [2, 0]
    assert log.failures.count == 1


def _lookup_plan(dsn: str, idp: str) -> str:
    from storage.postgres.sql import page_query, sort_key

    condition = translate("User", parse_filter('userName eq "USER7@EXAMPLE.COM"'))
    where = f"r.idp = %s AND r.kind = %s AND {condition.sql}"
    params = [idp, "User", *condition.params]
    query = page_query(where, sort_key("User", None), False)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"EXPLAIN {query}", [*params, *params, 0, 100]).fetchall()
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("analyzed", [False, True])
def test_a_bulk_load_is_analyzed_so_lookups_use_the_index(fresh_schema, monkeypatch, analyzed):
    from storage.postgres.store import Analyzer

    monkeypatch.setattr(Analyzer, "LEAST", 100 if analyzed else 10**9)
    store = PostgresStore(fresh_schema)
    with psycopg.connect(fresh_schema, autocommit=True) as conn:  # only Roster analyzes here
        conn.execute("ALTER TABLE resources SET (autovacuum_enabled = false)")
    try:
        for n in range(400):
            store.create("User", IDP, {"schemas": [], "userName": f"user{n}@example.com"})
        store.analyzer.wait()
        plan = _lookup_plan(fresh_schema, IDP)
    finally:
        store.close()
    # Without statistics the planner takes the new table for empty and reads every row of
    # the IdP through another index; analyzed, it goes straight to the unique name.
    assert ("resources_unique_name" in plan) is analyzed, plan


def test_creates_and_updates_of_one_idp_do_not_wait_for_each_other(store, database_url):
    from storage.postgres.store import TENANT_LOCK

    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ann"}
    ann = store.create("User", "idp-a", body)
    # Another writer of the same IdP holds the lock as a create or an update does.
    with psycopg.connect(database_url) as holder:
        holder.execute(
            "SELECT pg_advisory_xact_lock_shared(%s, hashtext(%s))", [TENANT_LOCK, "idp-a"]
        )
        store.create("User", "idp-a", {**body, "userName": "bob"})  # returns: no wait
        store.update("User", "idp-a", ann["id"], lambda current: {**current, "title": "Boss"})
        deleting = threading.Thread(target=store.delete, args=("User", "idp-a", ann["id"]))
        deleting.start()
        deleting.join(timeout=0.5)  # a bounded join: a delete must wait for the shared holder
        assert deleting.is_alive()
        holder.rollback()
    deleting.join(timeout=30)
    assert not deleting.is_alive()
    assert store.get("User", "idp-a", ann["id"]) is None
    assert store.count("User", "idp-a") == 1


def test_a_write_is_durable_when_it_returns(database_url):
    # Its COMMIT does not wait for the WAL flush (so the feed's lock is not held through it):
    # a statement after it, in the same round trip, does.
    options = conninfo_to_dict(database_url).get("options", "")
    durable = make_conninfo(database_url, options=f"{options} -c synchronous_commit=on")
    store = PostgresStore(durable)
    try:
        with psycopg.connect(database_url, autocommit=True) as probe:
            for n in range(3):
                ann = store.create("User", IDP, {"userName": f"ann{n}"})
                store.update("User", IDP, ann["id"], lambda cur: {**cur, "title": "Boss"})
                flushed, written = probe.execute(
                    "SELECT pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn(),"
                    " pg_current_wal_insert_lsn()"
                ).fetchone()
                assert flushed, written
    finally:
        store.close()


def test_the_end_of_a_batch_makes_its_writes_durable(database_url):
    options = conninfo_to_dict(database_url).get("options", "")
    # As in production (the test cluster turns synchronous_commit off for speed).
    durable = make_conninfo(database_url, options=f"{options} -c synchronous_commit=on")
    store = PostgresStore(durable)
    try:
        with psycopg.connect(database_url, autocommit=True) as probe:
            with store.batch():
                store.put_record("settings", "batched", {"n": 1})
                end = probe.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
            flushed = probe.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0]
            assert probe.execute("SELECT %s::pg_lsn >= %s::pg_lsn", [flushed, end]).fetchone()[0]
    finally:
        store.close()


def test_events_a_batch_recorded_are_durable_before_a_reader_sees_them(database_url):
    # Inside a batch, commits do not wait for the WAL flush, those that record events
    # included; a reader must never see events a crash could take away (their seqs would be
    # drawn again), so reading them makes them durable first.
    options = conninfo_to_dict(database_url).get("options", "")
    # As in production (the test cluster turns synchronous_commit off for speed).
    durable = make_conninfo(database_url, options=f"{options} -c synchronous_commit=on")
    store = PostgresStore(durable)
    before = store.last_seq()
    written, release = threading.Event(), threading.Event()
    made = []

    def bulk():
        with store.batch():
            made.append(store.create("User", IDP, {"userName": "ann"}))
            written.set()
            release.wait(30)

    writer = threading.Thread(target=bulk)
    writer.start()
    try:
        assert written.wait(30)
        with psycopg.connect(database_url, autocommit=True) as probe:
            end = probe.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
            events = store.events(before, 10)[0]  # read while the batch is open
            flushed = probe.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0]
            durable_now = probe.execute("SELECT %s::pg_lsn >= %s::pg_lsn", [flushed, end])
            assert durable_now.fetchone()[0], (flushed, end)
        assert [e["resource"]["id"] for e in events] == [made[0]["id"]]
    finally:
        release.set()
        writer.join()
        store.close()


def test_a_backup_during_an_open_batch_holds_only_durable_commits(store, postgres_server, tmp_path):
    # Inside a batch (a /Bulk request) a commit without events does not wait for the WAL
    # flush, yet others see it at once: a backup that read it must make it durable, or the
    # copy would hold what a crash could still take from the database.
    def lsn(conn, function: str) -> int:
        value = conn.execute(f"SELECT {function}() - '0/0'::pg_lsn").fetchone()[0]
        return int(value)

    written, release = threading.Event(), threading.Event()
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        # The WAL writer would flush the commit on its own within 200 ms: not during this test.
        admin.execute("ALTER SYSTEM SET wal_writer_delay = '10s'")
        admin.execute("SELECT pg_reload_conf()")
        try:

            def bulk():
                with store.batch():
                    store.put_record("idps", IDP, {"id": IDP, "name": "in a batch"})
                    written.set()
                    release.wait(30)

            writer = threading.Thread(target=bulk)
            writer.start()
            try:
                assert written.wait(30)
                committed = lsn(admin, "pg_current_wal_insert_lsn")
                store.backup(str(tmp_path / "copy" / "roster.json"))
                assert lsn(admin, "pg_current_wal_flush_lsn") >= committed
            finally:
                release.set()
                writer.join()
        finally:
            admin.execute("ALTER SYSTEM RESET wal_writer_delay")
            admin.execute("SELECT pg_reload_conf()")
    copy = TinyStore(tmp_path / "copy")
    try:
        assert copy.get_record("idps", IDP) == {"id": IDP, "name": "in a batch"}
    finally:
        copy.close()
