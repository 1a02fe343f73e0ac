"""Logs for shippers and the request id: one JSON object per line under ``logging.format =
"json"`` (a real server's whole output), one line per request with its id, IdP, method, path,
status and latency; ``X-Request-Id`` made here or taken from a trusted proxy only, and the same
id in the request log and on the console's Activity page."""

from __future__ import annotations

import json
import logging
import re
import sys

import pytest

import storage
from app import create_app
from monitoring.logs import JsonFormatter
from storage import get_request_log
from tests.live import LiveServer, provision

HEX_ID = re.compile(r"^[0-9a-f]{32}$")
PROXY = "10.0.0.1"


def test_a_record_is_one_json_line_with_its_fields():
    record = logging.LogRecord("roster.requests", logging.INFO, "", 1, "%s done", ("x",), None)
    record.request_id, record.status, record.path = "abc12345", 201, "/caf\udce9"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "x done" and entry["level"] == "INFO"
    assert entry["logger"] == "roster.requests" and entry["time"].endswith("Z")
    assert (entry["request_id"], entry["status"], entry["path"]) == ("abc12345", 201, "/caf\udce9")
    assert "idp" not in entry  # unknown fields are left out, not null


def test_a_traceback_stays_inside_its_line():
    try:
        raise ValueError("boom")
    except ValueError:
        failure = sys.exc_info()
        record = logging.LogRecord("roster", logging.ERROR, "", 1, "failed", (), failure)
    line = JsonFormatter().format(record)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exception"]


def test_a_bad_log_format_is_refused(tmp_path):
    from config import ConfigError, load

    with pytest.raises(ConfigError, match="logging.format must be one of text, json"):
        load(None, {"format": "xml"})


@pytest.fixture
def proxied(tmp_path):
    app = create_app(
        {"data_dir": str(tmp_path / "data"), "secret_key": "x", "trusted_proxies": [PROXY]}
    )
    app.config["TESTING"] = True
    yield app.test_client()
    storage.close_store(app)


@pytest.mark.parametrize(
    "peer, sent, kept",
    [
        ("127.0.0.1", None, False),
        ("127.0.0.1", "from-a-client-0001", False),  # only a trusted proxy names the id
        (PROXY, "0123456789abcdef0123456789abcdef", True),  # nginx's $request_id
        (PROXY, "6f1c9a1e-1c5b-4d0e-9a55-3f1f0f4c2b7a", True),
        (PROXY, "spaces in-0001", False),
        (PROXY, "<script>alert(1)</script>", False),
        (PROXY, "x" * 200, False),
    ],
)
def test_the_request_id_is_made_here_or_taken_from_a_trusted_proxy(proxied, peer, sent, kept):
    headers = {"X-Request-Id": sent} if sent else {}
    response = proxied.get("/healthz", headers=headers, environ_base={"REMOTE_ADDR": peer})
    given = response.headers["X-Request-Id"]
    assert given == sent if kept else HEX_ID.match(given)


def test_every_request_is_logged_with_its_id(client, scim, caplog):
    caplog.set_level(logging.INFO, "roster.requests")
    scim.get("/Users?filter=userName%20eq%20%22x%22&access_token=" + scim.token)
    response = client.get("/sign-in")
    scim_line, console_line = caplog.records[-2:]
    assert scim_line.idp == scim.id and scim_line.method == "GET" and scim_line.status == 200
    assert scim_line.path.startswith("/scim/v2/") and scim.token not in scim_line.path
    assert scim_line.latency_ms >= 0 and HEX_ID.match(scim_line.request_id)
    assert console_line.path == "/sign-in" and console_line.idp is None
    assert console_line.request_id == response.headers["X-Request-Id"]
    assert scim.token not in caplog.text


def test_the_request_log_and_activity_show_the_id(app, scim, signed_in):
    response = scim.get("/Users")
    request_id = response.headers["X-Request-Id"]
    with app.app_context():
        assert get_request_log().entries(scim.id)[0]["request_id"] == request_id
    assert request_id in signed_in.get("/activity").get_data(as_text=True)


def test_a_live_server_writes_only_json_lines(tmp_path):
    data_dir = tmp_path / "data"
    idp, token = provision(data_dir, "A", "okta")
    env = {"ROSTER_LOG_FORMAT": "json"}
    with LiveServer(data_dir, env=env) as server:
        status, headers, _ = server.request("GET", f"/scim/v2/{idp}/Users", token)
        assert status == 200
        request_id = headers["X-Request-Id"]
        server.request("GET", "/readyz")
    lines = [json.loads(line) for line in "".join(server.output).splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    served = [entry for entry in lines if entry.get("request_id") == request_id]
    assert len(served) == 1
    assert served[0]["idp"] == idp and served[0]["status"] == 200
    assert served[0]["method"] == "GET" and served[0]["path"] == f"/scim/v2/{idp}/Users"
    assert served[0]["latency_ms"] > 0
    assert any(entry.get("path") == "/readyz" for entry in lines)
    assert any("setup link" in entry["message"] for entry in lines)  # not a bare print


@pytest.mark.backends("tinydb")
def test_a_background_event_is_logged_without_a_request_id(store, caplog):
    caplog.set_level(logging.INFO, "storage.tinydb.store")
    store.compact()
    (record,) = [r for r in caplog.records if r.getMessage().startswith("compaction finished")]
    entry = json.loads(JsonFormatter().format(record))
    assert entry["logger"] == "storage.tinydb.store" and "request_id" not in entry
