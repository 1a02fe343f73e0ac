"""Sessions end on the server: signing out, changing a password and deleting an admin end
them for every copy of the cookie, CSRF token included; Account → Change password."""

from __future__ import annotations

import time

import pytest

from console import admins, auth
from console.sessions import MAX_SESSIONS, digest
from tests.conftest import ADMIN_NAME, ADMIN_PASSWORD, stored_text
from tests.consoletools import csrf_of, submit, text

IDPS = "/settings/identity-providers"
PASSWORD_PAGE = "/account/password"
NEW_PASSWORD = "a brand new passphrase"


def sign_in(app, username=ADMIN_NAME, password=ADMIN_PASSWORD):
    """A new client (a browser of its own) signed in as ``username``."""
    client = app.test_client()
    response = submit(client, "/sign-in", {"username": username, "password": password})
    assert response.status_code == 303, text(response)
    return client


def cookie_of(client) -> str:
    return client.get_cookie("roster_session").value


def with_cookie(app, value: str):
    """A client that replays a copied session cookie."""
    client = app.test_client()
    client.set_cookie("roster_session", value)
    return client


def change_password(client, **fields):
    data = {"current": ADMIN_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    return submit(client, PASSWORD_PAGE, {**data, **fields})


# --- signing out -------------------------------------------------------------------------------


def test_sign_out_ends_the_session_on_the_server(app, signed_in, store):
    copied = cookie_of(signed_in)
    form_token = csrf_of(signed_in.get(IDPS))
    assert submit(signed_in, "/sign-out", page=IDPS).status_code == 303
    thief = with_cookie(app, copied)
    response = thief.get(IDPS)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/sign-in")
    # Its CSRF token died with it: no form of the old session goes through, not even sign-in.
    created = thief.post(
        f"{IDPS}/new", data={"csrf_token": form_token, "name": "Okta", "kind": "okta"}
    )
    assert created.status_code == 303 and not store.records("idps")
    again = with_cookie(app, copied).post(
        "/sign-in",
        data={"csrf_token": form_token, "username": ADMIN_NAME, "password": ADMIN_PASSWORD},
    )
    assert again.status_code == 400
    assert "The form has expired" in text(again)


def test_sign_out_ends_only_that_session(app, admin):
    laptop, phone = sign_in(app), sign_in(app)
    submit(laptop, "/sign-out", page=IDPS)
    assert laptop.get(IDPS).status_code == 303
    assert phone.get(IDPS).status_code == 200


def test_the_store_keeps_digests_not_session_ids(app, signed_in, store):
    with signed_in.session_transaction() as session:
        sid = session["sid"]
    entries = store.get_record("admins", ADMIN_NAME)["sessions"]
    assert list(entries) == [digest(sid)]
    assert sid not in stored_text(app)


def test_an_expired_session_is_refused_even_with_a_fresh_cookie(app, signed_in, monkeypatch):
    later = time.time() + 12 * 3600 + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert signed_in.get(IDPS).status_code == 303


def test_an_admin_keeps_at_most_the_newest_sessions(app, admin, store):
    first = sign_in(app)
    for _ in range(MAX_SESSIONS):
        sign_in(app)
    assert len(store.get_record("admins", ADMIN_NAME)["sessions"]) == MAX_SESSIONS
    assert first.get(IDPS).status_code == 303  # the oldest made room


def test_a_cookie_from_before_server_side_sessions_is_refused(app, admin):
    # The cookie of an earlier version carried the admin and a sign-in time, nothing more.
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(admin=ADMIN_NAME, since=int(time.time()), csrf="x")
    assert client.get(IDPS).status_code == 303


# --- Account → Change password -----------------------------------------------------------------


def test_change_password_keeps_this_session_and_ends_the_others(app, admin, store):
    here, elsewhere = sign_in(app), sign_in(app)
    response = change_password(here)
    assert response.status_code == 303
    page = here.get(response.headers["Location"])
    assert "Password changed. 1 other session signed out." in text(page)
    assert here.get(IDPS).status_code == 200
    assert elsewhere.get(IDPS).status_code == 303
    assert admins.authenticate(store, ADMIN_NAME, NEW_PASSWORD) is not None
    assert admins.authenticate(store, ADMIN_NAME, ADMIN_PASSWORD) is None
    assert len(store.get_record("admins", ADMIN_NAME)["sessions"]) == 1


def test_change_password_is_in_the_navigation(signed_in):
    body = text(signed_in.get(IDPS))
    assert f'href="{PASSWORD_PAGE}"' in body and "Change password" in body


@pytest.mark.parametrize(
    "fields, field_message",
    [
        ({"current": "not the password"}, "This is not your current password."),
        ({"current": ""}, "Enter your current password."),
        ({"password": "", "confirm": ""}, "Enter a new password."),
        ({"password": "short", "confirm": "short"}, "at least 12 characters"),
        ({"password": "x" * 1025, "confirm": "x" * 1025}, "at most 1024 characters"),
        ({"confirm": "something else entirely"}, "The two new passwords differ."),
        ({"password": ADMIN_PASSWORD, "confirm": ADMIN_PASSWORD}, "is your current one"),
    ],
)
def test_change_password_refuses_bad_input_and_changes_nothing(
    app, admin, store, fields, field_message
):
    here, elsewhere = sign_in(app), sign_in(app)
    before = store.get_record("admins", ADMIN_NAME)
    response = change_password(here, **fields)
    assert response.status_code == 400
    assert field_message in text(response)
    assert store.get_record("admins", ADMIN_NAME) == before
    assert elsewhere.get(IDPS).status_code == 200


def test_change_password_needs_the_csrf_token(app, signed_in, store):
    before = store.get_record("admins", ADMIN_NAME)
    data = {"current": ADMIN_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    response = signed_in.post(PASSWORD_PAGE, data=data)
    assert response.status_code == 400
    assert store.get_record("admins", ADMIN_NAME) == before


def test_change_password_needs_a_session(client, admin, store):
    before = store.get_record("admins", ADMIN_NAME)
    page = client.get("/sign-in")
    data = {"csrf_token": csrf_of(page), "current": ADMIN_PASSWORD, "password": NEW_PASSWORD}
    response = client.post(PASSWORD_PAGE, data={**data, "confirm": NEW_PASSWORD})
    assert response.status_code == 303 and response.headers["Location"].startswith("/sign-in")
    assert store.get_record("admins", ADMIN_NAME) == before


def test_guessing_the_current_password_is_throttled_like_sign_in(app, signed_in, store):
    clock = [1000.0]
    with app.app_context():
        auth.throttle().clock = lambda: clock[0]
    for _ in range(5):
        assert change_password(signed_in, current="a wrong guess").status_code == 400
    before = store.get_record("admins", ADMIN_NAME)
    blocked = change_password(signed_in)  # the right one, but too late
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts. Try again in 300 seconds." in text(blocked)
    assert store.get_record("admins", ADMIN_NAME) == before
    # The same count as the sign-in form's, for this username from this address.
    other = app.test_client()
    refused = submit(other, "/sign-in", {"username": ADMIN_NAME, "password": ADMIN_PASSWORD})
    assert refused.status_code == 429
    clock[0] += 301
    assert change_password(signed_in).status_code == 303


# --- deleting an admin -------------------------------------------------------------------------


def test_deleting_an_admin_ends_their_sessions_even_if_the_name_comes_back(app, admin, store):
    admins.create_admin(store, "bob", "bob's long password")
    bob = sign_in(app, "bob", "bob's long password")
    copied = cookie_of(bob)
    admins.delete_admin(store, "bob")
    assert bob.get(IDPS).status_code == 303
    admins.create_admin(store, "bob", "bob's long password")
    assert with_cookie(app, copied).get(IDPS).status_code == 303
