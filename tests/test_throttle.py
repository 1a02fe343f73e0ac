"""Failure throttling: the plain Throttle, and 429 for a client that keeps failing SCIM auth."""

from __future__ import annotations

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
