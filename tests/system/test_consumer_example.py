"""docs/examples/consumer.py, the change feed's example consumer, against a live server: its
copy of the users and groups must be what the IdP provisioned, after the first read and after
following the feed, and it must act on a deactivation while it long-polls."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time

import pytest

import tokens
from providers import create_idp
from storage.tinydb.store import TinyStore
from tests.live import ROOT, LiveServer
from tokens import apikeys

EXAMPLE = str(ROOT / "docs" / "examples" / "consumer.py")
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Live:
    def __init__(self, server: LiveServer, idp: str, token: str, key: str):
        self.server, self.base, self.token, self.key = server, f"/scim/v2/{idp}", token, key

    def scim(self, method: str, path: str, body: dict | None = None) -> dict | None:
        status, _, answer = self.server.request(method, self.base + path, self.token, body)
        assert status in (200, 201, 204), answer
        return answer

    def user(self, name: str) -> str:
        return self.scim("POST", "/Users", {"schemas": [CORE], "userName": name})["id"]

    def group(self, name: str, *members: str) -> str:
        body = {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]}
        return self.scim("POST", "/Groups", body)["id"]

    def patch(self, path: str, *operations: dict) -> None:
        self.scim("PATCH", path, {"schemas": [PATCH], "Operations": list(operations)})

    def truth(self) -> dict:
        """Users and groups as the IdP sees them over SCIM, in the example's form."""
        users = self.scim("GET", "/Users?count=1000")["Resources"]
        groups = self.scim("GET", "/Groups?count=1000")["Resources"]
        return {
            "users": {
                u["id"]: {"username": u["userName"], "active": u.get("active") is not False}
                for u in users
            },
            "groups": {
                g["id"]: {
                    "name": g["displayName"],
                    "members": sorted(m["value"] for m in g.get("members", [])),
                }
                for g in groups
            },
        }


@pytest.fixture
def live(tmp_path):
    data_dir = tmp_path / "data"
    store = TinyStore(data_dir)
    try:
        idp = create_idp(store, "Okta", "okta")["id"]
        token, key = tokens.issue(store, idp), apikeys.issue(store, "example")[1]
    finally:
        store.close()
    with LiveServer(data_dir) as server:
        if server.request("GET", "/api/v1/users", key)[0] == 404:
            pytest.skip("needs the users endpoints")
        yield Live(server, idp, token, key)


def run_once(live: Live, state) -> str:
    done = subprocess.run(
        [sys.executable, EXAMPLE, live.server.url, live.key, "--state", str(state), "--once"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def copy_of(state) -> dict:
    found = json.loads(state.read_text())
    return {"users": found["users"], "groups": found["groups"]}


def test_the_copy_is_what_the_idp_provisioned_after_reading_and_after_following(live, tmp_path):
    state = tmp_path / "copy.json"
    ann, bob, carl = live.user("ann"), live.user("bob"), live.user("carl")
    crew = live.group("Crew", ann, bob)
    run_once(live, state)
    assert copy_of(state) == live.truth()

    live.patch(f"/Users/{ann}", {"op": "replace", "path": "active", "value": False})
    live.scim("DELETE", f"/Users/{bob}")  # deactivated, then deleted
    dora = live.user("dora")
    live.patch(f"/Groups/{crew}", {"op": "add", "path": "members", "value": [{"value": dora}]})
    live.patch(f"/Groups/{crew}", {"op": "replace", "path": "displayName", "value": "Crew 2"})
    live.group("Ops", carl)
    said = run_once(live, state)
    assert copy_of(state) == live.truth()
    assert "deactivated ann" in said and "deactivated bob" in said
    assert run_once(live, state).strip() == ""  # caught up: nothing handled twice


def test_a_following_consumer_acts_on_a_deactivation_as_it_happens(live, tmp_path):
    ann = live.user("ann")
    consumer = subprocess.Popen(
        [sys.executable, EXAMPLE, live.server.url, live.key, "--state", str(tmp_path / "c.json")],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in consumer.stdout])
    reader.start()
    try:
        assert "following the feed" in lines.get(timeout=30)
        written = time.monotonic()
        live.patch(f"/Users/{ann}", {"op": "replace", "path": "active", "value": False})
        assert lines.get(timeout=30).strip() == "deactivated ann"
        assert time.monotonic() - written < 10
    finally:
        consumer.terminate()
        consumer.wait(timeout=30)
        reader.join(timeout=30)
        consumer.stdout.close()
