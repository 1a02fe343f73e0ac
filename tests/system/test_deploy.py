"""The deployment examples in ``docs/deploy/``: the systemd unit passes ``systemd-analyze
verify``, and the headers the nginx example sets, replayed from a trusted proxy through a real
Roster server, give the client's address, scheme, host and request id to what Roster records."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys

import pytest

from tests.live import ROOT, LiveServer, flask_cli

DEPLOY = ROOT / "docs" / "deploy"
CLIENT = "203.0.113.9"
HOST = "roster.example.com"
HEX = re.compile(r"^[0-9a-f]{32}$")


def test_the_systemd_unit_verifies(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (it comes with systemd)")
    # The unit as this checkout would install it: its interpreter and folder (verify checks
    # that ExecStart's program exists).
    unit = (DEPLOY / "roster.service").read_text()
    assert "ExecStart=/opt/roster/.venv/bin/python app.py" in unit
    unit = unit.replace("/opt/roster/.venv/bin/python", sys.executable)
    unit = unit.replace("WorkingDirectory=/opt/roster", f"WorkingDirectory={ROOT}")
    path = tmp_path / "roster.service"
    path.write_text(unit)
    done = subprocess.run([tool, "verify", str(path)], capture_output=True, text=True, timeout=60)
    # verify exits 0 on a directive it ignores, but says so: nothing may be said about the unit.
    assert done.returncode == 0 and "roster.service" not in done.stderr + done.stdout, done.stderr


def nginx_headers(request_id: str) -> dict[str, str]:
    """Return the headers the example's ``location /`` sets, for a client at ``CLIENT`` who
    reached https://``HOST``/ (the values nginx's variables take then)."""
    text = (DEPLOY / "nginx.conf").read_text()
    block = text[text.index("location / {") : text.index("}", text.index("location / {"))]
    variables = {
        "$host": HOST,
        "$remote_addr": CLIENT,
        "$scheme": "https",
        "$server_port": "443",
        "$request_id": request_id,
    }
    headers = {}
    for name, value in re.findall(r"proxy_set_header\s+(\S+)\s+(.+?);", block):
        if name.lower() == "connection":  # hop-by-hop, for nginx's keep-alive to Roster
            continue
        headers[name] = variables.get(value, value)
    assert set(headers) == {
        "Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
        "X-Forwarded-Port", "X-Request-Id",
    }  # fmt: skip
    return headers


def test_the_nginx_example_keeps_metrics_private_and_the_body_limit():
    text = (DEPLOY / "nginx.conf").read_text()
    assert re.search(r"location = /metrics \{\s*deny all;\s*\}", text)
    assert "client_max_body_size 1m;" in text  # scim.max_payload_bytes, 1048576


def _csrf_and_cookie(server: LiveServer, headers: dict) -> tuple[str, str]:
    status, answer, body = server.http("GET", "/sign-in", headers=headers)
    assert status == 200
    token = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
    return token, answer["Set-Cookie"]


def test_headers_of_the_nginx_example_reach_what_roster_records(tmp_path):
    data_dir = tmp_path / "data"
    config = tmp_path / "roster.toml"
    config.write_text(f'[server]\npublic_url = "https://{HOST}"\ntrusted_proxies = ["127.0.0.1"]\n')
    request_id = secrets.token_hex(16)  # what nginx's $request_id looks like
    proxied = nginx_headers(request_id)
    with LiveServer(data_dir, "--config", str(config)) as server:
        status, answer, _ = server.http("GET", "/readyz", headers=proxied)
        assert status == 200 and answer["X-Request-Id"] == request_id
        token, cookie = _csrf_and_cookie(server, proxied)
        assert "Secure" in cookie  # X-Forwarded-Proto: https
        form = f"username=ada&password=wrong&csrf_token={token}".encode()
        headers = {
            **proxied,
            "Cookie": cookie.split(";", 1)[0],
            "Content-Type": "application/x-www-form-urlencoded",
        }
        status, answer, _ = server.http("POST", "/sign-in", headers=headers, body=form)
        assert status == 400 and "Strict-Transport-Security" in answer
        # The same request sent straight to Roster, without the proxy's headers.
        _, direct, _ = server.http("GET", "/readyz")
        assert HEX.match(direct["X-Request-Id"]) and direct["X-Request-Id"] != request_id
    trail = flask_cli(data_dir, "audit", "--json")
    assert trail.returncode == 0, trail.stderr
    (entry,) = json.loads(trail.stdout)
    assert (entry["action"], entry["outcome"]) == ("admin.sign_in", "failure")
    assert entry["address"] == CLIENT and entry["request_id"] == request_id
    served = [line for line in server.output if f"id={request_id}" in line]
    assert len(served) == 3  # the probe, the sign-in page and the sign-in, in the process log
