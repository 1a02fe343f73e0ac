"""Resource limits, each configurable and each answered as it should be when exceeded: the
largest page (``scim.max_results``), PATCH operations (``scim.max_operations``), group
members (``scim.max_members``), body size (``scim.max_payload_bytes``), and the connection
limits of the server (``server.connection_limit``, ``server.channel_timeout``; what they do
to a real server is in ``test_connections_live.py``)."""

from __future__ import annotations

import json

import app as roster
from tests.security import CORE_GROUP, CORE_USER, PATCH_OP, assert_scim_error, snapshot


def test_pages_are_capped_at_max_results_everywhere(app, scim):
    app.config["ROSTER"]["max_results"] = 2
    for n in range(3):
        scim.create_user(f"user{n}")
    scim.create_group("g")
    # RFC 7644 §3.4.2.4: a server may return fewer results than asked; the total stays true.
    pages = [
        scim.get("/Users", query_string={"count": "1000"}),
        scim.get("", query_string={"count": "1000"}),
        scim.post("/Users/.search", {"count": 1000}),
        scim.post("/.search", {"count": 1000}),
        scim.get("/Users"),  # no count: the server's page size
    ]
    for response in pages:
        page = response.get_json()
        assert page["itemsPerPage"] == len(page["Resources"]) == 2, page
        assert page["totalResults"] in (3, 4)
    config = scim.get("/ServiceProviderConfig").get_json()
    assert config["filter"]["maxResults"] == 2


def _ops(n: int) -> dict:
    ops = [{"op": "replace", "path": "title", "value": f"t{i}"} for i in range(n)]
    return {"schemas": [PATCH_OP], "Operations": ops}


def test_patch_operations_past_max_operations_are_invalid_value(app, scim, store):
    app.config["ROSTER"]["max_operations"] = 3
    user = scim.create_user("ann")
    before = snapshot(store)
    refused = scim.patch(f"/Users/{user['id']}", _ops(4))
    body = assert_scim_error(refused, 400, "invalidValue")
    assert "3" in body["detail"]
    assert snapshot(store) == before
    assert scim.patch(f"/Users/{user['id']}", _ops(3)).get_json()["title"] == "t2"


def test_members_past_max_members_are_invalid_value(app, scim, store):
    app.config["ROSTER"]["max_members"] = 2
    ids = [scim.create_user(f"m{n}")["id"] for n in range(3)]
    group = scim.create_group("Team", tuple(ids[:2]))  # exactly the limit
    before = snapshot(store)
    three = [{"value": i} for i in ids]
    body = {"schemas": [CORE_GROUP], "displayName": "Big", "members": three}
    add = {"Operations": [{"op": "add", "path": "members", "value": [{"value": ids[2]}]}]}
    for response in (
        scim.post("/Groups", body),
        scim.put(f"/Groups/{group['id']}", {**body, "displayName": "Team"}),
        scim.patch(f"/Groups/{group['id']}", add),
    ):
        detail = assert_scim_error(response, 400, "invalidValue")["detail"]
        assert "2" in detail
    assert snapshot(store) == before


def test_bodies_past_max_payload_bytes_are_413(app, scim, store):
    limit = 600
    app.config["MAX_CONTENT_LENGTH"] = app.config["ROSTER"]["max_payload_bytes"] = limit

    def body(size: int) -> bytes:
        base = {"schemas": [CORE_USER], "userName": "ann", "title": ""}
        padding = size - len(json.dumps(base).encode())
        return json.dumps({**base, "title": "x" * padding}).encode()

    before = snapshot(store)
    over = scim.client.post(f"{scim.base}/Users", data=body(limit + 1), headers=scim.headers)
    assert_scim_error(over, 413)
    assert snapshot(store) == before
    exact = scim.client.post(f"{scim.base}/Users", data=body(limit), headers=scim.headers)
    assert exact.status_code == 201  # the limit itself is allowed: 413 is for "beyond"


def test_serve_hands_every_limit_to_waitress(app, monkeypatch):
    seen = {}

    class Server:
        def run(self):
            pass

    class Listener:
        channel_class = None

    listener = Listener()

    def create_server(application, map=None, **adjustments):
        seen.update(adjustments, application=application)
        map[3] = listener
        return Server()

    monkeypatch.setattr("waitress.server.create_server", create_server)
    values = {
        **app.config["ROSTER"],
        "connection_limit": 7,
        "channel_timeout": 9,
        "threads": 3,
        "max_payload_bytes": 1000,
    }
    assert roster.serve(app, values) == 0
    # Roster's channel keeps the limits; waitress's own connection limit only backs it up.
    assert listener.channel_class.limit == 7
    assert seen["connection_limit"] > 7 and seen["channel_timeout"] == 9
    assert seen["cleanup_interval"] == 1  # timeouts enforced to the second
    assert seen["threads"] == 3
    assert seen["asyncore_use_poll"]  # select() stops at descriptor 1023
    # Forwarded headers reach the app, which decides whom to believe (TrustedProxies).
    assert seen["clear_untrusted_proxy_headers"] is False
    # Waitress refuses past its own limit (beyond Roster's, which answers in-app) unread.
    assert 1000 < seen["max_request_body_size"] <= 4 * 1000
