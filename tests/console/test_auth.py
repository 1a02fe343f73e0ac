"""Console accounts: the one-time setup link, signing in and out, throttling, session expiry,
sign-in required on every page, and ``flask admin create``."""

from __future__ import annotations

import time

import pytest

import console
from console import auth
from console.admins import SETUP_MAX_AGE
from tests.conftest import ADMIN_NAME, ADMIN_PASSWORD
from tests.consoletools import submit, text
from tests.live import LiveServer

NEW_ADMIN = {"username": "grace", "password": "a long enough password", "confirm": ""}
NEW_ADMIN["confirm"] = NEW_ADMIN["password"]


def setup_path(app) -> str:
    link = console.setup_link(app)
    assert link is not None
    return link.removeprefix("http://127.0.0.1:8080")


# --- the setup link ----------------------------------------------------------------------------


def test_setup_link_creates_the_first_admin_and_signs_in(app, client, store):
    path = setup_path(app)
    assert "Create the first admin" in text(client.get(path))
    response = submit(client, path, NEW_ADMIN)
    assert response.status_code == 303
    assert response.headers["Location"] == "/settings/identity-providers"
    assert store.get_record("admins", "grace")["username"] == "grace"
    page = client.get("/settings/identity-providers")
    assert page.status_code == 200 and "Welcome, grace" in text(page)


def test_setup_link_works_once(app, client):
    path = setup_path(app)
    token = client.get(path)
    submit(client, path, NEW_ADMIN)
    again = client.get(path)
    assert again.status_code == 410
    assert "already has an admin" in text(again)
    assert "Traceback" not in text(again) and token.status_code == 200


def test_no_setup_link_once_there_is_an_admin(app, admin):
    assert console.setup_link(app) is None


def test_a_newer_link_replaces_the_older(app, client):
    old, new = setup_path(app), setup_path(app)
    response = client.get(old)
    assert response.status_code == 410 and "already been used" in text(response)
    assert client.get(new).status_code == 200


def test_expired_setup_link_says_so(app, client, monkeypatch):
    path = setup_path(app)
    later = time.time() + SETUP_MAX_AGE.total_seconds() + 60
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.get(path)
    assert response.status_code == 410
    assert "expired" in text(response) and "admin create" in text(response)


def test_tampered_setup_link_is_refused(app, client):
    path = setup_path(app)
    response = client.get(path[:-3] + "abc")
    assert response.status_code == 410 and "not valid" in text(response)


@pytest.mark.parametrize(
    "change, field_message",
    [
        ({"confirm": "something else entirely"}, "The two passwords differ."),
        ({"password": "short", "confirm": "short"}, "at least 12 characters"),
        ({"username": "no spaces allowed"}, "A username is 1 to 64"),
        ({"username": ""}, "Enter a username."),
    ],
)
def test_setup_form_errors_do_not_spend_the_link(app, client, store, change, field_message):
    path = setup_path(app)
    response = submit(client, path, {**NEW_ADMIN, **change})
    assert response.status_code == 400
    assert field_message in text(response)
    assert not store.records("admins")
    assert client.get(path).status_code == 200  # still usable


# --- signing in and out ------------------------------------------------------------------------


def test_sign_in_and_out(client, admin):
    response = submit(client, "/sign-in", {"username": "ADA", "password": ADMIN_PASSWORD})
    assert response.status_code == 303  # usernames are case-insensitive
    assert client.get("/settings/identity-providers").status_code == 200
    out = submit(client, "/sign-out", page="/settings/identity-providers")
    assert out.status_code == 303
    assert client.get("/settings/identity-providers").status_code == 303


@pytest.mark.parametrize(
    "username, password",
    [
        (ADMIN_NAME, "wrong password here"),
        ("nobody", ADMIN_PASSWORD),
        (ADMIN_NAME, " " + ADMIN_PASSWORD),
    ],
)
def test_wrong_credentials_get_one_message(client, admin, username, password):
    response = submit(client, "/sign-in", {"username": username, "password": password})
    assert response.status_code == 400
    assert "Wrong username or password." in text(response)
    assert client.get("/settings/identity-providers").status_code == 303


def test_empty_sign_in_form_says_what_is_missing(client, admin):
    response = submit(client, "/sign-in", {"username": "", "password": ""})
    assert response.status_code == 400
    assert "Enter your username." in text(response) and "Enter your password." in text(response)


def test_sign_in_is_throttled_per_address_and_username(app, client, admin):
    clock = [1000.0]
    with app.app_context():
        auth.throttle().clock = lambda: clock[0]
    for _ in range(5):
        submit(client, "/sign-in", {"username": ADMIN_NAME, "password": "wrong password!"})
    blocked = submit(client, "/sign-in", {"username": ADMIN_NAME, "password": ADMIN_PASSWORD})
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts. Try again in 300 seconds." in text(blocked)
    assert blocked.headers["Retry-After"] == "300"
    # Another username from the same address is counted on its own.
    other = submit(client, "/sign-in", {"username": "someone", "password": "wrong password!"})
    assert other.status_code == 400
    clock[0] += 301
    assert (
        submit(client, "/sign-in", {"username": ADMIN_NAME, "password": ADMIN_PASSWORD}).status_code
        == 303
    )


def test_session_ends_after_its_lifetime(signed_in, monkeypatch):
    assert signed_in.get("/settings/identity-providers").status_code == 200
    later = time.time() + 13 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    response = signed_in.get("/settings/identity-providers")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/sign-in")


def test_deleting_the_admin_ends_its_sessions(signed_in, store):
    store.delete_record("admins", ADMIN_NAME)
    assert signed_in.get("/settings/identity-providers").status_code == 303


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/settings/provisioned-users?q=x", "/settings/provisioned-users?q=x"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_sign_in_returns_only_to_pages_of_this_site(client, admin, target, expected):
    page = client.get("/sign-in", query_string={"next": target})
    from tests.consoletools import csrf_of

    data = {"csrf_token": csrf_of(page), "username": ADMIN_NAME, "password": ADMIN_PASSWORD}
    response = client.post("/sign-in", data={**data, "next": target})
    assert response.headers["Location"] == expected


# --- sign-in required --------------------------------------------------------------------------

PAGES = [
    "/",
    "/settings/identity-providers",
    "/settings/identity-providers/new",
    "/settings/identity-providers/{idp}/edit",
    "/settings/identity-providers/{idp}/advanced",
    "/settings/identity-providers/{idp}/delete",
    "/settings/identity-providers/guides/jumpcloud",
    "/settings/provisioned-users",
    "/settings/provisioned-users/groups",
    "/settings/provisioned-users/{idp}/users/{user}",
    "/settings/provisioned-users/{idp}/groups/{group}",
    "/activity",
]
ACTIONS = [
    "/settings/identity-providers/new",
    "/settings/identity-providers/{idp}/edit",
    "/settings/identity-providers/{idp}/delete",
    "/settings/identity-providers/{idp}/token",
    "/settings/identity-providers/{idp}/token/revoke",
]


@pytest.fixture
def world(scim):
    user = scim.create_user("ann")
    group = scim.create_group("Team", (user["id"],))
    return {"idp": scim.id, "user": user["id"], "group": group["id"]}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_requires_a_session(client, world, page):
    response = client.get(page.format(**world))
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/sign-in?next=")


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_requires_a_session(client, store, world, action):
    before = (store.records("idps"), store.records("tokens"))
    page = client.get("/sign-in")  # a session with a valid CSRF token, but nobody signed in
    from tests.consoletools import csrf_of

    response = client.post(
        action.format(**world), data={"csrf_token": csrf_of(page), "name": "X", "kind": "okta"}
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/sign-in")
    assert (store.records("idps"), store.records("tokens")) == before


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_with_a_session(signed_in, world, page):
    assert signed_in.get(page.format(**world)).status_code in (200, 302)


# --- flask admin create ------------------------------------------------------------------------


def test_admin_create_from_stdin(runner, store):
    result = runner.invoke(
        args=["admin", "create", "root", "--password-stdin"], input="a long enough password\n"
    )
    assert result.exit_code == 0, result.output
    assert store.get_record("admins", "root")["password"].startswith("scrypt$")


def test_admin_create_prompts_twice(runner, store):
    result = runner.invoke(args=["admin", "create", "root"], input="a long enough pw\n" * 2)
    assert result.exit_code == 0, result.output
    assert store.get_record("admins", "root") is not None


@pytest.mark.parametrize(
    "username, password, message",
    [
        (ADMIN_NAME, "a long enough password", "already exists"),
        ("root", "short", "at least 12 characters"),
        ("bad name", "a long enough password", "A username is"),
    ],
)
def test_admin_create_refuses(runner, admin, username, password, message):
    result = runner.invoke(
        args=["admin", "create", username, "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code == 1
    assert message in result.output


def test_python_app_prints_the_setup_link_when_there_is_no_admin(tmp_path):
    with LiveServer(tmp_path / "data") as server:
        printed = "".join(server.output)
    assert "No admin yet. Open this one-time setup link:" in printed
    assert f"{server.url}/setup/" in printed
