"""Hostile requests that only a real socket can carry, sent to ``python app.py`` (waitress):
bodies far over the limit (refused from their headers, before they are read), broken framing,
unknown transfer codings; then a sample of the in-app fuzz table replayed over the wire. Every
answer on a SCIM path is a SCIM error body, and the server neither fails nor changes."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.live import LiveServer, flask_cli
from tests.security import CORE_USER, ERROR


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("live") / "data"
    idp = flask_cli(data_dir, "idp", "create", "--name", "A", "--kind", "generic").stdout.strip()
    token = json.loads(flask_cli(data_dir, "token", "generate", idp, "--json").stdout)["token"]
    with LiveServer(data_dir) as server:
        server.idp, server.token = idp, token
        server.base = f"/scim/v2/{idp}"
        status, _, _ = server.request(
            "POST", server.base + "/Users", token, {"schemas": [CORE_USER], "userName": "ann"}
        )
        assert status == 201
        yield server
        output = "".join(server.output)
        assert "Traceback" not in output and "unhandled error" not in output, output[-3000:]


def _state(live) -> tuple:
    return tuple(
        json.dumps(live.request("GET", live.base + path, live.token)[2], sort_keys=True)
        for path in ("/Users", "/Groups")
    )


def _raw(live, request: bytes, wait: float = 10.0) -> tuple[int, dict, bytes, float]:
    """Send raw bytes; return (status, headers, body, seconds until the answer came)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", live.port), timeout=wait) as sock:
        # The server may answer and close before it has read everything.
        with contextlib.suppress(OSError):
            sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.find(b"\r\n\r\n") + 4 + _length(data):
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    elapsed = time.monotonic() - started
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body, elapsed


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def _head(live, method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {live.base}{path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"Authorization: Bearer {live.token}", "Content-Type: application/scim+json"]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode()


def _assert_scim(status: int, headers: dict, body: bytes, expected: int) -> None:
    assert status == expected, body
    assert headers["Content-Type"].startswith("application/scim+json"), headers
    error = json.loads(body)
    assert error["schemas"] == [ERROR] and error["status"] == str(expected)


def test_a_body_far_over_the_limit_is_refused_before_it_is_sent(live):
    before = _state(live)
    # 100 MB announced and never sent: an answer proves nothing waited for the body.
    status, headers, body, elapsed = _raw(
        live, _head(live, "POST", "/Users", "Content-Length: 100000000")
    )
    _assert_scim(status, headers, body, 413)
    assert elapsed < 5
    assert _state(live) == before


def test_a_chunked_body_over_the_limit_is_cut_off(live):
    chunk = b"100000\r\n" + b" " * 0x100000 + b"\r\n"  # 1 MiB per chunk, 6 MiB in all
    request = _head(live, "POST", "/Users", "Transfer-Encoding: chunked") + chunk * 6
    status, headers, body, _ = _raw(live, request)
    _assert_scim(status, headers, body, 413)


@pytest.mark.parametrize(
    "header, status",
    [
        ("Content-Length: abc", 400),
        ("Content-Length: -5", 400),
        ("Content-Length: 5\r\nContent-Length: 6", 400),
        ("Transfer-Encoding: gzip", 501),
        ("Transfer-Encoding: chunked\r\nContent-Length: 5", 400),
    ],
)
def test_broken_framing_gets_a_scim_error(live, header, status):
    before = _state(live)
    answer = _raw(live, _head(live, "POST", "/Users", header) + b"0\r\n\r\n")
    _assert_scim(*answer[:3], status)
    assert _state(live) == before


REPLAY = [
    ("POST", "/Users", b"{not json", "application/json", 400),
    ("POST", "/Users", b"[1, 2]", "application/json", 400),
    ("POST", "/Users", b'{"schemas": [], "userName": "\\ud800"}', "application/json", 400),
    ("POST", "/Users", b'{"schemas": [], "userName": "a\\u0000"}', "application/json", 400),
    ("POST", "/Users", b'{"a": "\xff"}', "application/json", 400),
    ("POST", "/Users", b'{"a": ' + b"9" * 5000 + b"}", "application/json", 400),
    ("POST", "/Users", b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
    ("POST", "/Users", b"userName=x", "application/x-www-form-urlencoded", 415),
    ("DELETE", "/Users", None, None, 405),
    ("TRACE", "/Users", None, None, 405),
    ("GET", "/Users/%00", None, None, 404),
    ("GET", "/Users/..%2f..%2f", None, None, 404),
    ("GET", "/Users?filter=userName%20eq%20%22%00%22", None, None, 400),
    ("GET", "/Users?startIndex=" + "9" * 100, None, None, 200),
    ("GET", "/Widgets/", None, None, 404),
]


@pytest.mark.parametrize("method, path, data, content_type, status", REPLAY)
def test_the_in_app_table_replays_over_the_wire(live, method, path, data, content_type, status):
    before = _state(live)
    request = urllib.request.Request(live.url + live.base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {live.token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            got, body, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        got, body, headers = error.code, error.read(), error.headers
    assert got == status, body[:300]
    assert headers["Content-Type"].startswith("application/scim+json")
    if status >= 400:
        assert json.loads(body)["status"] == str(status)
    assert _state(live) == before
