"""PostgreSQL going away under a running Roster: restarts cost no request, an outage answers
503 with Retry-After within a few seconds and passes without restarting Roster, and a COMMIT
that loses its connection is never stored twice.

These tests stop and start a database server, so they run one of their own
(``tests/pgcluster.py``), never the session's shared one. The console and the CLI are here
too: they must fail in one clean page or line, not a traceback.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from contextlib import ExitStack

import psycopg
import pytest
from psycopg_pool import PoolTimeout

import storage
import tokens
from app import create_app
from providers import create_idp
from storage.errors import StoreFull, StoreUnavailable
from storage.postgres import pg_pool
from storage.postgres.store import PostgresStore
from tests import pgcluster
from tests.conftest import Tenant
from tests.live import LiveServer, flask_cli
from tests.storage.pgproxy import Proxy

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
# Generous: a request waits pg_pool.WAIT (3 s) for a connection before it is refused.
DEADLINE = 5.0
_databases = itertools.count()


@pytest.fixture(scope="module")
def cluster():
    try:
        # Durable: a crash (an immediate stop) must not lose what was committed before it.
        cluster = pgcluster.Cluster(durable=True).start()
    except pgcluster.Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the PostgreSQL tests, but PostgreSQL is unavailable: {exc}")
        pytest.skip(f"PostgreSQL is unavailable ({exc})")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def dsn(cluster):
    """A new database for the test; the server is running again when the test ends."""
    try:
        yield cluster.create_database(f"roster_{next(_databases)}")
    finally:
        if not _accepting(cluster):
            cluster.resume()


def _accepting(cluster) -> bool:
    try:
        psycopg.connect(cluster.dsn(), connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


def make_app(tmp_path, database_url: str):
    app = create_app(
        {
            "backend": "postgres",
            "database_url": database_url,
            "data_dir": str(tmp_path / "data"),
            "secret_key": "test-secret",
        }
    )
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(tmp_path, dsn):
    """This module's app (it replaces conftest's, so ``client``, ``scim``… use it)."""
    app = make_app(tmp_path, dsn)
    yield app
    storage.close_store(app)


def user(name: str) -> dict:
    return {"schemas": [CORE], "userName": name}


def timed(call):
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


def hold_connections(store, count: int) -> None:
    """Leave ``count`` idle connections in the pool: a restart leaves them all dead."""
    with ExitStack() as stack:
        for _ in range(count):
            stack.enter_context(store.connection())


def named(scim: Tenant, name: str) -> int:
    response = scim.get(f'/Users?filter=userName eq "{name}"')
    assert response.status_code == 200, response.get_json()
    return response.get_json()["totalResults"]


# --- which failures are outages ------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (psycopg.OperationalError("server closed the connection unexpectedly"), StoreUnavailable),
        (psycopg.errors.AdminShutdown("terminating connection"), StoreUnavailable),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), StoreUnavailable),
        (psycopg.errors.SerializationFailure("could not serialize access"), StoreUnavailable),
        (psycopg.errors.DiskFull("could not extend file"), StoreFull),
        (psycopg.errors.ProgramLimitExceeded("index row size exceeds maximum"), None),
    ],
)
def test_which_database_errors_are_outages(error, expected):
    found = pg_pool.unavailable(error)
    assert type(found) is expected if expected else found is None
    if expected is StoreUnavailable:
        assert found.retry_after == pg_pool.RETRY_AFTER


def test_a_pool_timeout_is_an_outage_and_other_errors_pass_through():
    unavailable = pytest.raises(StoreUnavailable, match="PostgreSQL is unavailable")
    with unavailable, pg_pool.translated():
        raise PoolTimeout("couldn't get a connection after 3.00 sec")
    with pytest.raises(psycopg.errors.UniqueViolation), pg_pool.translated():
        raise psycopg.errors.UniqueViolation("duplicate key")


# --- restarts ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fast", "immediate"])  # a service restart; a crash
def test_a_restart_costs_no_request(app, scim, cluster, mode, caplog):
    ann = scim.create_user("ann")
    # The request log is written behind the requests: let ann's entry reach the database
    # before it goes down, so that what is counted below is only what follows the restart.
    storage.get_request_log(app).flush()
    hold_connections(storage.get_store(app), 4)
    cluster.restart(mode)
    # Every request after the restart succeeds, the first one included.
    first = scim.get(f"/Users/{ann['id']}")
    assert first.status_code == 200, first.get_json()
    bob = scim.post("/Users", user("bob"))
    assert bob.status_code == 201, bob.get_json()
    bob_id = bob.get_json()["id"]
    title = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "title", "value": "x"}]}  # fmt: skip
    assert scim.patch(f"/Users/{bob_id}", title).status_code == 200
    assert scim.get("/Users").get_json()["totalResults"] == 2
    assert scim.delete(f"/Users/{ann['id']}").status_code == 204
    request_log = storage.get_request_log(app)
    assert request_log.failures.count == 0
    with app.app_context():
        statuses = [e["status"] for e in request_log.entries(scim.id, limit=5)]
    assert statuses == [204, 200, 200, 201, 200]
    # The pooled connections had died with the server, and were replaced before use.
    assert "PostgreSQL closed a pooled connection" in caplog.text


def wait_until(condition, seconds: float = 10.0) -> None:
    """Poll an observable state until it holds (or fail after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def test_a_request_waiting_out_an_outage_is_served_once_the_database_is_back(app, scim, cluster):
    ann = scim.create_user("ann")
    pool = storage.get_store(app)._pool
    pool.timeout = 30  # longer than this outage: the request must not give up first
    cluster.halt()
    answers: list = []
    waiting = threading.Thread(target=lambda: answers.append(scim.get(f"/Users/{ann['id']}")))
    waiting.start()
    # The database stays down past the pool's own retries of a connection (RECONNECT, then it
    # gives up): for as long as the request waits, the pool keeps trying.
    wait_until(lambda: pool.get_stats().get("requests_waiting", 0) > 0)
    wait_until(lambda: pool.get_stats().get("connections_errors", 0) >= 8)
    cluster.resume()
    back = time.monotonic()
    waiting.join(timeout=60)
    # Served about RECONNECT seconds after the database is back, not when its wait runs out.
    assert answers and answers[0].status_code == 200, answers
    assert time.monotonic() - back < DEADLINE


# --- outages -------------------------------------------------------------------------------


def test_an_outage_is_503_with_retry_after_within_seconds(app, scim, cluster):
    ann = scim.create_user("ann")
    cluster.halt()
    calls = {
        "read": lambda: scim.get(f"/Users/{ann['id']}"),
        "create": lambda: scim.post("/Users", user("bob")),
    }
    for what, call in calls.items():
        response, elapsed = timed(call)
        assert response.status_code == 503, (what, response.get_json())
        assert elapsed < DEADLINE, (what, elapsed)
        assert int(response.headers["Retry-After"]) == pg_pool.RETRY_AFTER
        body = response.get_json()
        assert body["schemas"] == [ERROR] and body["status"] == "503"
        assert "nothing was changed" in body["detail"]
    cluster.resume()
    # Back without restarting Roster: the first request after the outage succeeds, and what
    # was refused during it was not stored.
    assert scim.get(f"/Users/{ann['id']}").status_code == 200
    assert named(scim, "bob") == 0
    assert scim.post("/Users", user("bob")).status_code == 201


def test_the_store_opening_during_an_outage_is_503(tmp_path, dsn, cluster):
    cluster.halt()
    app = make_app(tmp_path, dsn)
    try:
        headers = {"Authorization": "Bearer roster_scim_not-a-live-one"}
        client = app.test_client()
        response, elapsed = timed(lambda: client.get("/scim/v2/some-idp/Users", headers=headers))
        assert response.status_code == 503 and elapsed < DEADLINE
        assert response.headers["Retry-After"] and response.get_json()["status"] == "503"
        cluster.resume()
        assert client.get("/scim/v2/some-idp/Users", headers=headers).status_code == 401
    finally:
        storage.close_store(app)


def test_the_console_shows_a_plain_503_page_while_the_database_is_down(
    app, signed_in, scim, cluster
):
    idps = "/settings/identity-providers"
    assert signed_in.get(idps).status_code == 200
    cluster.halt()
    for path in (idps, "/activity"):
        response, elapsed = timed(lambda path=path: signed_in.get(path))
        page = response.get_data(as_text=True)
        assert response.status_code == 503 and elapsed < DEADLINE, path
        assert response.mimetype == "text/html" and response.headers["Retry-After"]
        assert "cannot reach its store" in page and "Traceback" not in page
    cluster.resume()
    assert signed_in.get(idps).status_code == 200


def test_the_cli_fails_in_one_line_while_the_database_is_down(app, runner, scim, cluster, dsn):
    assert runner.invoke(args=["idp", "list"]).exit_code == 0
    cluster.halt()
    # Commands of a process whose store is open, and of a new process that opens it.
    for args in (["token", "revoke", scim.id], ["log", scim.id]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert "Error: PostgreSQL is unavailable" in result.output, result.output
    started = time.perf_counter()
    done = flask_cli(app.config["ROSTER"]["data_dir"], "idp", "list", ROSTER_DATABASE_URL=dsn)
    assert time.perf_counter() - started < 2 * DEADLINE  # the interpreter starts, too
    assert done.returncode == 1, done.stderr
    assert "Error: cannot use PostgreSQL at postgres@127.0.0.1" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


# --- a COMMIT that loses its connection -------------------------------------------------------


@pytest.fixture
def proxy(cluster):
    proxy = Proxy(cluster.port)
    yield proxy
    proxy.close()


@pytest.fixture
def proxied_app(tmp_path, dsn, proxy):
    app = make_app(tmp_path, proxy.dsn(dsn.rsplit("/", 1)[1]))
    yield app
    storage.close_store(app)


@pytest.fixture
def proxied(proxied_app):
    store = storage.get_store(proxied_app)
    tenant = Tenant(proxied_app.test_client(), store, "Proxied IdP")
    tenant.get("/Users")  # the token's first use is recorded (a COMMIT): not the one to lose
    storage.get_request_log(proxied_app).flush()  # nor its log entry's, written behind it
    return tenant


def test_a_commit_lost_before_the_server_has_it_is_refused_and_not_stored(proxied, proxy):
    proxy.lose_next_commit("before")
    response = proxied.post("/Users", user("ann"))
    assert proxy.tripped.is_set()
    assert response.status_code == 503, response.get_json()
    assert "nothing was changed" in response.get_json()["detail"]
    assert named(proxied, "ann") == 0
    assert proxied.post("/Users", user("ann")).status_code == 201  # the IdP's retry
    assert named(proxied, "ann") == 1


def test_a_commit_applied_whose_answer_is_lost_is_answered_as_made(proxied, proxy):
    proxy.lose_next_commit("after")
    response = proxied.post("/Users", user("ann"))
    assert proxy.tripped.is_set()
    assert response.status_code == 201, response.get_json()
    assert proxied.get(f"/Users/{response.get_json()['id']}").status_code == 200
    assert named(proxied, "ann") == 1


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_group_whose_commit_is_lost_is_stored_once_or_not_at_all(
    proxied, proxied_app, proxy, when
):
    # A pipelined create's COMMIT and its answers travel with the rest of the transaction:
    # lost, it is settled by the row itself (the transaction's id never came back).
    ann = proxied.post("/Users", user("ann")).get_json()
    storage.get_request_log(proxied_app).flush()  # the POST's log entry: not the one to lose
    body = {"schemas": [GROUP], "displayName": "team", "members": [{"value": ann["id"]}]}
    proxy.lose_next_commit(when)
    response = proxied.post("/Groups", body)
    assert proxy.tripped.is_set()
    found = proxied.get("/Groups").get_json()["totalResults"]
    if when == "before":
        assert response.status_code == 503 and found == 0, response.get_json()
        assert "nothing was changed" in response.get_json()["detail"]
    else:
        assert response.status_code == 201 and found == 1, response.get_json()
        assert proxied.get(f"/Groups/{response.get_json()['id']}").status_code == 200


def test_a_commit_whose_fate_cannot_be_learnt_says_so(proxied, proxied_app, proxy):
    ann = proxied.post("/Users", user("ann")).get_json()
    # The POST's log entry is written behind it: written now, its COMMIT is not the one lost.
    storage.get_request_log(proxied_app).flush()
    proxy.lose_next_commit("after", cut=True)
    response, elapsed = timed(lambda: proxied.delete(f"/Users/{ann['id']}"))
    assert proxy.tripped.is_set()
    assert response.status_code == 503 and elapsed < 2 * DEADLINE
    assert "may or may not have been saved" in response.get_json()["detail"]
    assert response.headers["Retry-After"]
    # Its log entry is not tried in a database just found unreachable, but it is counted.
    assert storage.get_request_log(proxied_app).failures.count == 1
    proxy.restore()
    # It was applied; it was not run a second time behind the client's back either.
    assert proxied.get(f"/Users/{ann['id']}").status_code == 404
    assert proxied.delete(f"/Users/{ann['id']}").status_code == 404


# --- through waitress, under load ------------------------------------------------------------


class Load:
    """Clients sending requests one after another until stopped; every answer is kept as
    (started, kind, name, status, headers, body, seconds)."""

    def __init__(self, server: LiveServer, idp: str, token: str):
        self.server, self.base, self.token = server, f"/scim/v2/{idp}/Users", token
        self.results: list[tuple] = []
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(k,)) for k in ("POST", "GET")]
        for thread in self.threads:
            thread.start()

    def _run(self, kind: str) -> None:
        for n in itertools.count():
            if self.stopping.is_set():
                return
            name, started = f"{kind.lower()}{n}", time.monotonic()
            body = user(name) if kind == "POST" else None
            path = self.base if kind == "POST" else f"{self.base}?count=1"
            status, headers, answer = self.server.request(kind, path, self.token, body)
            result = (started, kind, name, status, headers, answer, time.monotonic() - started)
            with self.changed:
                self.results.append(result)
                self.changed.notify_all()

    def wait_for(self, predicate) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self.results), timeout=60)

    def stop(self) -> list[tuple]:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)
        return self.results


# How long a request may take to be answered once the database is gone, from what Roster is
# configured to wait: a pooled connection (pg_pool.WAIT), then for a commit whose connection
# broke, a new connection (CONNECT_TIMEOUT) and the session's end (SETTLE_WAIT). Three times
# that, for a loaded machine: generous, but finite and below the clients' own 30 s timeout.
OUTAGE_BOUND = 3 * (pg_pool.WAIT + pg_pool.CONNECT_TIMEOUT + pg_pool.SETTLE_WAIT)


def test_a_database_stop_under_load_through_waitress(cluster, dsn, tmp_path):
    setup = PostgresStore(dsn)
    try:
        idp = create_idp(setup, "Live IdP", "generic")["id"]
        token = tokens.issue(setup, idp)
    finally:
        setup.close()
    env = {"ROSTER_DATABASE_URL": dsn, "ROSTER_SECRET_KEY": "test-secret"}
    with LiveServer(tmp_path / "data", env=env) as server:
        load = Load(server, idp, token)
        try:
            load.wait_for(lambda results: sum(r[3] < 300 for r in results) >= 4)
            cluster.halt()
            halted = time.monotonic()  # the database is down from here on, for sure
            load.wait_for(lambda rs: sum(r[0] > halted and r[3] == 503 for r in rs) >= 3)
            cluster.resume()
            resumed = time.monotonic()
            load.wait_for(lambda results: sum(r[0] > resumed for r in results) >= 6)
        finally:
            results = load.stop()
        output = "".join(server.output)
    # No request failed any other way than 503: no 500, no hang past the clients' timeout.
    assert {r[3] for r in results} <= {200, 201, 503}, {r[3] for r in results}
    refused = [r for r in results if r[3] == 503]
    assert refused and all(int(r[4]["Retry-After"]) > 0 for r in refused)
    # During the outage no request waits unbounded: each one in flight or sent while the
    # database was down is answered within the configured waits (with room for a slow
    # machine) of the outage's start, or of its own; the first refusal comes as soon.
    answered = [(max(r[0], halted), r[0] + r[6]) for r in results if r[0] + r[6] > halted]
    during = [(since, at) for since, at in answered if since < resumed]
    late = [round(at - since, 1) for since, at in during if at - since > OUTAGE_BOUND]
    assert not late, f"answered {late} s after the outage began (bound {OUTAGE_BOUND} s)"
    first = min(r[0] + r[6] for r in refused if r[0] + r[6] > halted)
    assert first - halted <= OUTAGE_BOUND
    # Once the database is back, every request succeeds, without restarting Roster.
    assert all(r[3] < 300 for r in results if r[0] > resumed)
    assert "Traceback" not in output
    # A write answered 201 is stored once; one refused as not made is not stored at all.
    check = PostgresStore(dsn)
    try:
        names = [u["userName"] for u in check.query("User", idp)[1]]
    finally:
        check.close()
    posts = [r for r in results if r[1] == "POST"]
    assert all(names.count(r[2]) == 1 for r in posts if r[3] == 201)
    not_made = [r for r in posts if r[3] == 503 and "nothing was changed" in r[5]["detail"]]
    assert not_made and all(r[2] not in names for r in not_made)
