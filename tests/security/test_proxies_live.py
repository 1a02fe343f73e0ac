"""Forwarded headers through a real waitress server (``python app.py``), where waitress itself
would otherwise decide what reaches the app.

The tests' own requests all come from 127.0.0.1. One server trusts 127.0.0.1/32, so they act
as a reverse proxy forwarding for the addresses they name; another trusts nothing, so the same
headers come from an ordinary client and must change nothing.
"""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest

from tests.live import LiveServer, flask_cli, provision
from tests.security import CORE_USER

ADMIN, PASSWORD = "root", "correct horse battery staple"
TOKEN_FAILURES = 3  # scim.auth_failures_per_minute in both servers
SIGN_IN_FAILURES = 5  # the console's sign-in throttle (console/auth.py)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _serve(tmp_path_factory, name: str, trusted: list[str]):
    folder = tmp_path_factory.mktemp(name)
    data_dir = folder / "data"
    idp, token = provision(data_dir, "A")
    created = flask_cli(data_dir, "admin", "create", ADMIN, "--password-stdin", stdin=PASSWORD)
    assert created.returncode == 0, created.stderr
    config = folder / "config.toml"
    config.write_text(
        f"[server]\ntrusted_proxies = {json.dumps(trusted)}\n"
        f"[scim]\nauth_failures_per_minute = {TOKEN_FAILURES}\n"
    )
    server = LiveServer(data_dir, "--config", str(config))
    server.idp, server.token = idp, token
    return server


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    with _serve(tmp_path_factory, "proxied", ["127.0.0.1/32"]) as server:
        yield server


@pytest.fixture(scope="module")
def direct(tmp_path_factory):
    with _serve(tmp_path_factory, "direct", []) as server:
        yield server


def users(server, token: str, headers: dict) -> int:
    """GET the IdP's Users with ``token``; return the status."""
    auth = {"Authorization": f"Bearer {token}", **headers}
    return server.http("GET", f"/scim/v2/{server.idp}/Users", auth)[0]


def sign_in(server, password: str, headers: dict) -> int:
    """Sign in as the console would (the page, its cookie and CSRF token, the form); return
    the status of the form's answer."""
    _, page_headers, page = server.http("GET", "/sign-in", headers)
    cookie = page_headers["Set-Cookie"].split(";", 1)[0]
    csrf = _CSRF.search(page.decode()).group(1)
    form = {"csrf_token": csrf, "username": ADMIN, "password": password}
    posted = {**headers, "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    return server.http("POST", "/sign-in", posted, urllib.parse.urlencode(form).encode())[0]


def forwarded_for(address: str) -> dict:
    return {"X-Forwarded-For": address}


def test_bad_tokens_throttle_only_the_forwarded_address(proxied):
    a, b = forwarded_for("203.0.113.10"), forwarded_for("198.51.100.10")
    statuses = [users(proxied, "roster_scim_guess", a) for _ in range(TOKEN_FAILURES + 1)]
    assert statuses == [401] * TOKEN_FAILURES + [429]
    assert users(proxied, "roster_scim_guess", a) == 429  # A's guesses stay refused
    assert users(proxied, proxied.token, a) == 200  # a live token is served all the same
    # B, and the proxy's own address, are not slowed down by A.
    assert users(proxied, "roster_scim_guess", b) == 401
    assert users(proxied, proxied.token, b) == 200
    assert users(proxied, proxied.token, {}) == 200


def test_bad_passwords_throttle_only_the_forwarded_address(proxied):
    a, b = forwarded_for("203.0.113.20"), forwarded_for("198.51.100.20")
    statuses = [sign_in(proxied, "wrong password!", a) for _ in range(SIGN_IN_FAILURES + 1)]
    assert statuses == [400] * SIGN_IN_FAILURES + [429]
    assert sign_in(proxied, PASSWORD, a) == 429
    assert sign_in(proxied, PASSWORD, b) == 303  # the admin, elsewhere, still signs in


def test_https_from_the_trusted_proxy_brings_hsts_and_a_secure_cookie(proxied):
    _, plain, _ = proxied.http("GET", "/sign-in")
    assert "Strict-Transport-Security" not in plain
    assert "secure" not in plain["Set-Cookie"].lower()
    _, https, _ = proxied.http("GET", "/sign-in", {"X-Forwarded-Proto": "https"})
    assert https["Strict-Transport-Security"] == "max-age=31536000"
    assert "; secure" in https["Set-Cookie"].lower()


def test_the_trusted_proxy_names_scheme_and_host_of_locations(proxied):
    headers = {
        "Authorization": f"Bearer {proxied.token}",
        "Content-Type": "application/scim+json",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "roster.example",
    }
    body = json.dumps({"schemas": [CORE_USER], "userName": "located"}).encode()
    status, answer, _ = proxied.http("POST", f"/scim/v2/{proxied.idp}/Users", headers, body)
    assert status == 201
    assert answer["Location"].startswith(f"https://roster.example/scim/v2/{proxied.idp}/Users/")


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(direct):
    forged = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Prefix": "/elsewhere",
        "Forwarded": "for=192.0.2.1;proto=https;host=evil.example",
    }
    _, page, _ = direct.http("GET", "/sign-in", forged)
    assert "Strict-Transport-Security" not in page
    assert "secure" not in page["Set-Cookie"].lower()

    headers = {
        **forged,
        "Authorization": f"Bearer {direct.token}",
        "Content-Type": "application/scim+json",
    }
    body = json.dumps({"schemas": [CORE_USER], "userName": "ann"}).encode()
    status, answer, _ = direct.http("POST", f"/scim/v2/{direct.idp}/Users", headers, body)
    assert status == 201
    assert answer["Location"].startswith(f"{direct.url}/scim/v2/{direct.idp}/Users/")

    # Failures count against the peer (127.0.0.1), whatever address each request claims.
    claims = [forwarded_for(f"198.51.100.{n}") for n in range(TOKEN_FAILURES + 1)]
    statuses = [users(direct, "roster_scim_guess", claim) for claim in claims]
    assert statuses == [401] * TOKEN_FAILURES + [429]
    assert users(direct, "roster_scim_guess", forwarded_for("192.0.2.99")) == 429
    assert users(direct, direct.token, forwarded_for("192.0.2.99")) == 200  # a live token
    statuses = [
        sign_in(direct, "wrong password!", forwarded_for(f"203.0.113.{n}"))
        for n in range(SIGN_IN_FAILURES + 1)
    ]
    assert statuses == [400] * SIGN_IN_FAILURES + [429]
