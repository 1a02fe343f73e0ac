"""Failure throttling: the plain Throttle, 429 for a client that keeps failing SCIM auth, and
sign-in attempts that cannot slip past the limit in parallel."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from console import admins
from tests.conftest import ADMIN_NAME
from tests.consoletools import csrf_of
from throttle import Throttle


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_throttle_counts_failures_in_the_window():
    clock = FakeClock()
    throttle = Throttle(limit=3, window=60, clock=clock)
    for _ in range(2):
        throttle.fail("a")
    assert throttle.retry_after("a") == 0
    throttle.fail("a")
    assert throttle.retry_after("a") == 60
    clock.now += 45
    assert throttle.retry_after("a") == 15
    assert throttle.retry_after("b") == 0
    clock.now += 15
    assert throttle.retry_after("a") == 0


def test_reset_forgets():
    throttle = Throttle(limit=1, window=60, clock=FakeClock())
    throttle.fail("a")
    assert throttle.retry_after("a") == 60
    throttle.reset("a")
    assert throttle.retry_after("a") == 0


def test_repeated_auth_failures_get_429_with_retry_after(app, scim):
    app.config["ROSTER"]["auth_failures_per_minute"] = 5
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    bad = {"Authorization": "Bearer roster_scim_guess"}
    statuses = [
        scim.client.get(f"{scim.base}/Users", headers=bad, environ_base=attacker).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    refused = scim.client.get(f"{scim.base}/Users", headers=bad, environ_base=attacker)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.get_json()["status"] == "429"
    # The real IdP, at its own address, is not slowed.
    assert scim.get("/Users", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200


def test_attempt_checks_and_counts_in_one_step():
    clock = FakeClock()
    throttle = Throttle(limit=3, window=60, clock=clock)
    assert [throttle.attempt("a") for _ in range(4)] == [0, 0, 0, 60]
    assert throttle.retry_after("a") == 60  # the refused attempt was not counted
    clock.now += 60
    assert throttle.attempt("a") == 0
    throttle.reset("a")  # a success forgets the attempt it counted
    assert [throttle.attempt("a") for _ in range(3)] == [0, 0, 0]


@pytest.mark.backends("tinydb")  # the throttle is in memory: the backend does not matter
def test_parallel_wrong_passwords_get_exactly_five_checked(app, admin, monkeypatch):
    checked = []
    real_check = admins.check_password

    def counting_check(stored: str, password: str) -> bool:
        checked.append(password)  # list.append is atomic
        return real_check(stored, password)

    monkeypatch.setattr(admins, "check_password", counting_check)
    # 100 browsers, each with its own session and CSRF token, post at the same moment.
    clients = [app.test_client() for _ in range(100)]
    tokens_ = [csrf_of(c.get("/sign-in")) for c in clients]
    start = threading.Barrier(len(clients))

    def guess(client, token) -> int:
        start.wait(timeout=30)
        data = {"csrf_token": token, "username": ADMIN_NAME, "password": "a wrong guess"}
        return client.post("/sign-in", data=data).status_code

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        statuses = list(pool.map(guess, clients, tokens_))
    assert len(checked) == 5
    assert sorted(statuses) == [400] * 5 + [429] * 95
