"""The console's defences: CSRF, response headers, cookie flags, the wall between console
sessions and SCIM tokens, escaping of what IdPs send (every string attribute, on every page that
shows it), and error pages without tracebacks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console import idps as idp_views
from scim.core.schemas import ENTERPRISE_USER, USER
from tests.conftest import ADMIN_NAME, ADMIN_PASSWORD
from tests.consoletools import csrf_of, submit, text

TEMPLATES = Path(__file__).resolve().parents[2] / "console" / "templates"
XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
STRINGS = ("string", "reference", "binary")


# --- CSRF --------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "forged", "Im5vdCB0aGUgc2Vzc2lvbiJ9.abc.def"])
def test_post_without_this_sessions_csrf_token_is_refused(signed_in, store, token):
    data = {"name": "Okta", "kind": "okta"}
    if token is not None:
        data["csrf_token"] = token
    response = signed_in.post("/settings/identity-providers/new", data=data)
    assert response.status_code == 400
    assert "The form has expired or did not come from this page" in text(response)
    assert not store.records("idps")


def test_csrf_token_of_another_session_is_refused(app, signed_in, store):
    other = app.test_client()
    foreign = csrf_of(other.get("/sign-in"))
    response = signed_in.post(
        "/settings/identity-providers/new",
        data={"csrf_token": foreign, "name": "Okta", "kind": "okta"},
    )
    assert response.status_code == 400 and not store.records("idps")


def test_sign_in_itself_needs_the_csrf_token(client, admin):
    response = client.post("/sign-in", data={"username": ADMIN_NAME, "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert client.get("/settings/identity-providers").status_code == 303


def test_signing_in_starts_a_new_csrf_secret(client, admin):
    before = csrf_of(client.get("/sign-in"))
    submit(client, "/sign-in", {"username": ADMIN_NAME, "password": ADMIN_PASSWORD})
    response = client.post(
        "/settings/identity-providers/new",
        data={"csrf_token": before, "name": "Okta", "kind": "okta"},
    )
    assert response.status_code == 400


# --- headers and cookies -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/sign-in", "/settings/identity-providers", "/no-such-page"])
def test_console_responses_carry_the_security_headers(signed_in, path):
    response = signed_in.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_scim_responses_get_the_framing_headers_but_keep_their_own_body(scim):
    response = scim.get("/Users")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Type"].startswith("application/scim+json")


def test_static_files_ship_in_the_repository_and_may_be_cached(client):
    for name in ("console.css", "console.js", "favicon.svg"):
        response = client.get(f"/assets/{name}")
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("Cache-Control", "")
        response.close()


def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("roster_session=")]
    assert cookies, "no session cookie was set"
    return cookies[-1]


def test_session_cookie_is_httponly_and_lax_and_not_secure_over_http(client, admin):
    cookie = _session_cookie(
        submit(client, "/sign-in", {"username": ADMIN_NAME, "password": ADMIN_PASSWORD})
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Expires=" in cookie  # a permanent session, bounded by its lifetime


def test_session_cookie_is_secure_over_https(app, admin):
    client = app.test_client()
    page = client.get("/sign-in", base_url="https://roster.example")
    response = client.post(
        "/sign-in",
        base_url="https://roster.example",
        data={"csrf_token": csrf_of(page), "username": ADMIN_NAME, "password": ADMIN_PASSWORD},
    )
    assert "Secure" in _session_cookie(response)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_session_cookie_is_secure_behind_an_https_public_url(app, client, admin):
    app.config["ROSTER"]["public_url"] = "https://roster.example"
    response = submit(client, "/sign-in", {"username": ADMIN_NAME, "password": ADMIN_PASSWORD})
    assert "Secure" in _session_cookie(response)


# --- consoles and tokens never cross -----------------------------------------------------------


def test_a_scim_token_does_not_open_the_console(scim):
    response = scim.client.get("/settings/identity-providers", headers=scim.headers)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/sign-in")


def test_a_console_session_does_not_open_scim(signed_in, scim):
    response = signed_in.get(f"{scim.base}/Users")
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/scim+json")


# --- escaping ----------------------------------------------------------------------------------


def test_what_an_idp_sends_is_shown_as_text(signed_in, scim):
    user = scim.create_user(XSS, name={"formatted": XSS}, emails=[{"value": XSS}])
    group = scim.create_group(XSS, (user["id"],))
    pages = [
        "/settings/provisioned-users",
        "/settings/provisioned-users/groups",
        f"/settings/provisioned-users/{scim.id}/users/{user['id']}",
        f"/settings/provisioned-users/{scim.id}/groups/{group['id']}",
        "/activity",
    ]
    for path in pages:
        body = text(signed_in.get(path))
        assert "<script>alert" not in body, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text(signed_in.get(pages[1]))


def test_an_idp_name_is_shown_as_text(signed_in, store):
    submit(signed_in, "/settings/identity-providers/new", {"name": XSS, "kind": "okta"})
    body = text(signed_in.get("/settings/identity-providers"))
    assert "<script>alert" not in body and "&lt;script&gt;" in body


def _value(attribute, n: str):
    """A value of ``attribute`` whose every string is the payload (ids and names made unique)."""
    if attribute.type == "complex":
        element = {
            sub.name: XSS + n
            for sub in attribute.sub_attributes
            if sub.type in STRINGS and sub.mutability != "readOnly" and sub.name != "$ref"
        }
        return [element] if attribute.multi_valued else element
    if attribute.type in STRINGS:
        return [XSS + n] if attribute.multi_valued else XSS + n
    return None


def _hostile_user() -> dict:
    user = {"schemas": [USER.id, ENTERPRISE_USER.id], "externalId": XSS}
    for attribute in USER.attributes:
        if attribute.mutability != "readOnly" and attribute.name != "password":
            value = _value(attribute, "")
            if value is not None:
                user[attribute.name] = value
    user[ENTERPRISE_USER.id] = {
        a.name: _value(a, "") for a in ENTERPRISE_USER.attributes if _value(a, "") is not None
    }
    return user


@pytest.fixture
def hostile(scim, signed_in):
    """A user and a group with the payload in every string attribute, sent with a hostile
    User-Agent, and failing requests whose path, filter and detail quote it."""
    scim.headers = {**scim.headers, "User-Agent": XSS}
    user = scim.post("/Users", _hostile_user())
    assert user.status_code == 201, user.get_json()
    user = user.get_json()
    group = scim.create_group(XSS, (user["id"],))
    # Failing requests whose path, filter and detail quote the payload land in the activity log.
    scim.get("/Users", query_string={"filter": f"userName eq {XSS} junk"})
    scim.get(f"/Users/{XSS}")
    return {"user": user, "group": group, "idp": scim.id}


def _pages(h) -> list[str]:
    idp, user, group = h["idp"], h["user"]["id"], h["group"]["id"]
    users = "/settings/provisioned-users"
    return [
        f"{users}",
        f"{users}?q=script",
        f"{users}?idp={idp}",
        f"{users}/groups",
        f"{users}/groups?q=script",
        f"{users}/{idp}/users/{user}",
        f"{users}/{idp}/groups/{group}",
        "/activity",
        "/activity?errors=1",
        f"/activity?idp={idp}",
    ]


def test_every_page_that_shows_idp_data_escapes_it(signed_in, hostile):
    shown = 0
    for page in _pages(hostile):
        response = signed_in.get(page)
        assert response.status_code == 200, page
        html = response.get_data(as_text=True)
        assert XSS not in html, page
        assert "<script>alert" not in html, page
        shown += ESCAPED in html
    assert shown >= 5  # the pages do show the values, escaped


def test_pages_have_no_inline_script_or_style():
    # The CSP forbids them: an inline one would silently not run.
    for template in TEMPLATES.rglob("*.html"):
        source = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", source), template
        assert not re.search(r"\sstyle=|<style", source), template
        assert "|safe" not in source, template


def test_pages_load_nothing_from_elsewhere(signed_in, scim):
    scim.create_user("ann")
    for path in ["/sign-in", "/settings/identity-providers", "/settings/provisioned-users"]:
        body = text(signed_in.get(path))
        for url in re.findall(r'(?:src|href)="([^"]+)"', body):
            assert url.startswith(("/", "#")), (path, url)


# --- errors ------------------------------------------------------------------------------------


def test_unknown_console_page_is_an_html_404(signed_in):
    response = signed_in.get("/settings/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Page not found" in text(response) and "Identity Providers" in text(response)


def test_unknown_scim_path_is_still_a_scim_404(scim):
    response = scim.get("/Nothing")
    assert response.status_code == 404
    assert response.get_json()["status"] == "404"


def test_a_console_failure_is_an_html_500_without_traceback(signed_in, scim, monkeypatch):
    def boom(store, record):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(idp_views, "row", boom)
    # TESTING propagates exceptions to the test; a server renders them.
    monkeypatch.setitem(signed_in.application.config, "PROPAGATE_EXCEPTIONS", False)
    response = signed_in.get("/settings/identity-providers")
    assert response.status_code == 500
    body = text(response)
    assert "Something went wrong" in body
    assert "secret internals" not in body and "Traceback" not in body


def test_wrong_method_on_a_console_page_is_an_html_405(signed_in):
    response = signed_in.post("/activity", data={"csrf_token": csrf_of(signed_in.get("/activity"))})
    assert response.status_code == 405
    assert response.mimetype == "text/html"


def test_the_scim_api_neither_reads_nor_sets_the_console_session(signed_in, scim):
    # The same client holds a signed-in console cookie; the SCIM API goes by its token alone.
    response = scim.get("/Users")
    assert response.status_code == 200
    assert not response.headers.getlist("Set-Cookie")
    unauthenticated = signed_in.get(f"{scim.base}/Users")
    assert unauthenticated.status_code == 401  # the cookie is no credential there
    assert signed_in.get("/settings/identity-providers").status_code == 200  # still signed in
