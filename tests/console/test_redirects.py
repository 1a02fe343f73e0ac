"""Where the console sends a browser: only to pages of this site, whatever ``next`` or the
``Host`` header say, and never a 500 on the way."""

from __future__ import annotations

import html
import http.client
import re
from urllib.parse import urlencode

import pytest

from console.redirects import safe_next
from tests.conftest import ADMIN_NAME, ADMIN_PASSWORD
from tests.consoletools import csrf_of, submit, text
from tests.live import LiveServer

HOME = "/"

# Values of ``next`` that must not leave the site (nor fail): each goes to the console's home.
HOSTILE = [
    "//evil.example",
    "///evil.example",
    "//evil.example/settings",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",  # browsers and werkzeug drop the tab: "//evil.example"
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/\r\nSet-Cookie: roster_session=forged",
    "\n",
    "/ /evil.example",
    " //evil.example",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "/\x7f/evil.example",
    "/\u00a0/evil.example",  # no-break space
    "/\u2028/evil.example",  # line separator
    "/\u200b/evil.example",  # zero-width space
    "/\ufeff/evil.example",  # byte-order mark
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "/%09/evil.example",  # the finding, percent-encoded once more
    "/%0A/evil.example",
    "/%E2%80%A8/evil.example",
    "/%252F/evil.example",
    "/%25252F/evil.example",
    "/%2525252F/evil.example",  # more layers than any link of Roster's: refused
    "/..//evil.example",
    "/.//evil.example",
    "/settings//identity-providers",
    "https://evil.example/",
    "http:evil.example",
    "http:/evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "settings/identity-providers",
    "./settings",
    "?next=//evil.example",
    "#//evil.example",
    "",
    "/" + "a" * 3000,
]
# Pages of this site, which sign-in returns to as they are.
KEPT = [
    "/",
    "/settings/provisioned-users?q=x",
    "/activity?idp=abc&errors=1",
    "/settings/provisioned-users?q=ann%20smith",
    "/settings/provisioned-users?q=http://x.example",  # "//" in a query is only text
    "/settings/identity-providers#top",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_safe_next_refuses_what_could_leave_the_site(value):
    assert safe_next(value) is None


@pytest.mark.parametrize("value", KEPT)
def test_safe_next_keeps_pages_of_this_site(value):
    assert safe_next(value) == value


def test_safe_next_refuses_what_is_not_text():
    assert safe_next(None) is None and safe_next(["/"]) is None


@pytest.mark.backends("tinydb")  # no store involved beyond the admin
@pytest.mark.parametrize("value", HOSTILE)
def test_sign_in_sends_hostile_next_home(client, admin, value):
    page = client.get("/sign-in", query_string={"next": value})
    assert page.status_code == 200
    data = {"csrf_token": csrf_of(page), "username": ADMIN_NAME, "password": ADMIN_PASSWORD}
    response = client.post("/sign-in", data={**data, "next": value})
    assert response.status_code == 303
    assert response.headers["Location"] == HOME
    # Signed in now: GET /sign-in?next=… redirects straight away, to the same place.
    again = client.get("/sign-in", query_string={"next": value})
    assert again.status_code == 302
    assert again.headers["Location"] == HOME


@pytest.mark.backends("tinydb")
@pytest.mark.parametrize("raw", ["/%09/evil.example", "/%0a/evil.example", "/%0d%0a/x", "%0a"])
def test_the_reported_next_values_neither_leave_nor_fail(signed_in, raw):
    response = signed_in.get(f"/sign-in?next={raw}")
    assert response.status_code == 302
    assert response.headers["Location"] == HOME


def test_sign_in_returns_to_the_page_asked_for(client, admin):
    asked = client.get("/settings/provisioned-users?q=Zo%C3%AB")
    page = client.get(asked.headers["Location"])
    hidden = html.unescape(re.search(r'name="next" value="([^"]+)"', text(page)).group(1))
    assert hidden == "/settings/provisioned-users?q=Zo%C3%AB"
    data = {"csrf_token": csrf_of(page), "username": ADMIN_NAME, "password": ADMIN_PASSWORD}
    back = client.post("/sign-in", data={**data, "next": hidden})
    assert back.headers["Location"] == hidden
    # A non-ASCII letter typed as such is sent percent-encoded.
    again = client.get("/sign-in", query_string={"next": "/settings/provisioned-users?q=Zoë"})
    assert again.headers["Location"] == hidden


# --- the Host header never chooses where a redirect goes ---------------------------------------

EVIL = {"Host": "evil.example"}
# (method, path, signed in, where it redirects)
REDIRECTS = [
    ("GET", "/settings//identity-providers", False, "/settings/identity-providers"),
    ("GET", "/settings//identity-providers", True, "/settings/identity-providers"),
    ("GET", "/assets//console.css", False, "/assets/console.css"),
    ("GET", "/activity", False, "/sign-in?next=/activity"),
    ("GET", "/", True, "/settings/identity-providers"),
    ("GET", "/sign-in?next=/activity", True, "/activity"),
    ("POST", "/sign-out", True, "/sign-in"),
]


def _sign_in_under_evil_host(client) -> None:
    submit(client, "/sign-in", {"username": ADMIN_NAME, "password": ADMIN_PASSWORD})
    # The test client sends a cookie by the Host it is addressed to: as a browser at
    # evil.example would after signing in there (through a hostile DNS name, say).
    cookie = client.get_cookie("roster_session")
    client.set_cookie("roster_session", cookie.value, domain="evil.example")


def _request(client, method: str, path: str):
    if method == "GET":
        return client.get(path, headers=EVIL)
    token = csrf_of(client.get("/settings/identity-providers", headers=EVIL))
    return client.post(path, data={"csrf_token": token}, headers=EVIL)


@pytest.mark.backends("tinydb")
@pytest.mark.parametrize("method, path, signed, expected", REDIRECTS)
def test_a_hostile_host_gets_a_path_of_this_site(client, admin, method, path, signed, expected):
    if signed:
        _sign_in_under_evil_host(client)
    response = _request(client, method, path)
    assert 300 <= response.status_code < 400
    assert response.headers["Location"] == expected


@pytest.mark.backends("tinydb")
@pytest.mark.parametrize("public", ["https://roster.example", "https://example.com/roster/"])
@pytest.mark.parametrize("method, path, signed, expected", REDIRECTS)
def test_redirects_go_to_the_public_url(app, client, admin, public, method, path, signed, expected):
    app.config["ROSTER"]["public_url"] = public
    if signed:
        _sign_in_under_evil_host(client)
    response = _request(client, method, path)
    assert response.headers["Location"] == public.rstrip("/") + expected


@pytest.mark.backends("tinydb")
def test_sign_in_redirect_goes_to_the_public_url(app, client, admin):
    app.config["ROSTER"]["public_url"] = "https://roster.example"
    page = client.get("/sign-in", headers=EVIL)
    data = {"csrf_token": csrf_of(page), "username": ADMIN_NAME, "password": ADMIN_PASSWORD}
    response = client.post("/sign-in", data={**data, "next": "/activity"}, headers=EVIL)
    assert response.headers["Location"] == "https://roster.example/activity"


def test_scim_location_headers_are_left_alone(scim):
    # A 201's Location names the new resource (RFC 7644 §3.3); only redirects are rewritten.
    created = scim.post(
        "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ann"}
    )
    assert created.status_code == 201
    assert created.headers["Location"].startswith("http://localhost/scim/v2/")


# --- through a real server ---------------------------------------------------------------------


def _raw(server: LiveServer, method: str, path: str, headers: dict, body: str | None = None):
    """Send one request with exactly these headers (Host included); return the response."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    payload = body.encode() if body is not None else None
    if payload is not None:
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Content-Length", str(len(payload)))
    conn.endheaders(payload)
    response = conn.getresponse()
    response.body = response.read().decode()
    conn.close()
    return response


def _cookie(response) -> str:
    return response.getheader("Set-Cookie").split(";", 1)[0]


def _create_first_admin(server: LiveServer) -> str:
    """Walk the printed setup link; return the signed-in session's Cookie header."""
    link = re.search(r"http://\S+(/setup/\S+)", "".join(server.output)).group(1)
    local = {"Host": f"127.0.0.1:{server.port}"}
    form = _raw(server, "GET", link, local)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.body).group(1)
    fields = {"csrf_token": token, "username": ADMIN_NAME}
    fields.update(password=ADMIN_PASSWORD, confirm=ADMIN_PASSWORD)
    created = _raw(server, "POST", link, {**local, "Cookie": _cookie(form)}, urlencode(fields))
    assert created.status == 303, created.body
    return _cookie(created)


def test_a_real_server_keeps_redirects_on_the_site(tmp_path):
    with LiveServer(tmp_path / "data") as server:
        evil = {"Host": "evil.example"}
        moved = _raw(server, "GET", "/settings//identity-providers", evil)
        assert moved.status == 308
        assert moved.getheader("Location") == "/settings/identity-providers"
        cookie = _create_first_admin(server)
        for raw in ("/%09/evil.example", "/%0a/evil.example", "/%0d%0aSet-Cookie:%20x=1"):
            response = _raw(server, "GET", f"/sign-in?next={raw}", {**evil, "Cookie": cookie})
            assert response.status == 302, response.body
            assert response.getheader("Location") == HOME
        assert "Traceback" not in "".join(server.output)
