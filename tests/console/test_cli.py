"""``flask admin password|delete|list`` (and ``create --json``): the CLI twins of the console's
account pages. Bad input is refused with a clear message and exit status 1, changing nothing."""

from __future__ import annotations

import json
import threading

import pytest

from console import admins
from tests.conftest import ADMIN_NAME, ADMIN_PASSWORD
from tests.consoletools import submit

IDPS = "/settings/identity-providers"
NEW_PASSWORD = "a brand new passphrase"
BOB = ("bob", "bob's long password")


def invoke(runner, *args, input=None):
    return runner.invoke(args=["admin", *args], input=input)


def signed_in_client(app, username=ADMIN_NAME, password=ADMIN_PASSWORD):
    client = app.test_client()
    response = submit(client, "/sign-in", {"username": username, "password": password})
    assert response.status_code == 303
    return client


@pytest.fixture
def bob(store, admin):
    """A second admin beside ``admin``."""
    return admins.create_admin(store, *BOB)


def test_admin_create_json(runner, store):
    result = invoke(runner, "create", "root", "--password-stdin", "--json", input=NEW_PASSWORD)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"created": "root"}


def test_admin_list(runner, app, bob):
    signed_in_client(app)
    rows = json.loads(invoke(runner, "list", "--json").output)
    assert [(r["username"], r["sessions"]) for r in rows] == [("ada", 1), ("bob", 0)]
    assert "ada  created " in invoke(runner, "list").output


# --- admin password ----------------------------------------------------------------------------


def test_admin_password_from_stdin_ends_every_session(runner, app, store, admin):
    laptop, phone = signed_in_client(app), signed_in_client(app)
    result = invoke(
        runner, "password", "ADA", "--password-stdin", "--json", input=NEW_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"admin": ADMIN_NAME, "sessions_ended": 2}
    assert laptop.get(IDPS).status_code == 303 and phone.get(IDPS).status_code == 303
    assert admins.authenticate(store, ADMIN_NAME, NEW_PASSWORD) is not None
    assert admins.authenticate(store, ADMIN_NAME, ADMIN_PASSWORD) is None


def test_admin_password_prompts_twice(runner, store, admin):
    result = invoke(runner, "password", ADMIN_NAME, input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "changed the password of ada; ended 0 sessions" in result.output
    assert admins.authenticate(store, ADMIN_NAME, NEW_PASSWORD) is not None


@pytest.mark.parametrize(
    "args, input, message",
    [
        (["nobody", "--password-stdin"], NEW_PASSWORD, "There is no admin named 'nobody'."),
        ([ADMIN_NAME, "--password-stdin"], "short", "at least 12 characters"),
        ([ADMIN_NAME, "--password-stdin"], "", "at least 12 characters"),
        ([ADMIN_NAME, "--password-stdin"], "x" * 1025, "at most 1024 characters"),
        ([ADMIN_NAME], f"{NEW_PASSWORD}\nsomething else\n" * 3, "do not match"),
    ],
)
def test_admin_password_refuses_and_changes_nothing(
    runner, app, store, admin, args, input, message
):
    client = signed_in_client(app)
    before = store.records("admins")
    result = invoke(runner, "password", *args, input=input)
    assert result.exit_code == 1
    assert message in result.output
    assert store.records("admins") == before
    assert client.get(IDPS).status_code == 200


# --- admin delete ------------------------------------------------------------------------------


def test_admin_delete_ends_their_sessions(runner, app, store, bob):
    client = signed_in_client(app, *BOB)
    result = invoke(runner, "delete", "BOB", "--yes", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"deleted": "bob", "sessions_ended": 1}
    assert store.get_record("admins", "bob") is None
    assert client.get(IDPS).status_code == 303


@pytest.mark.parametrize(
    "args, message",
    [
        (["nobody", "--yes"], "There is no admin named 'nobody'."),
        ([ADMIN_NAME, "--yes"], "ada is the only admin: create another one first"),
        ([ADMIN_NAME], "ada is the only admin"),  # refused before asking
    ],
)
def test_admin_delete_refuses_and_changes_nothing(runner, app, store, admin, args, message):
    client = signed_in_client(app)
    before = store.records("admins")
    result = invoke(runner, "delete", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert store.records("admins") == before
    assert client.get(IDPS).status_code == 200


def test_admin_delete_without_yes_and_no_terminal_refuses(runner, store, bob):
    before = store.records("admins")
    result = invoke(runner, "delete", "bob")
    assert result.exit_code == 1
    assert "refusing to delete without --yes" in result.output
    assert store.records("admins") == before


def test_two_admins_cannot_delete_each_other_at_once(store, bob):
    # The worst interleaving, forced: each deletion finds the other admin still there, then
    # both mark their admin before either looks again, and both look again before either
    # takes its mark back (else the later look may find the other unmarked, and delete).
    both_checked, both_marked = threading.Barrier(2), threading.Barrier(2)
    both_rechecked = threading.Barrier(2)
    checked = threading.local()

    class Racing:
        def __getattr__(self, name):
            return getattr(store, name)

        def records(self, table, where=None):
            rows = store.records(table, where)
            looks = checked.looks = getattr(checked, "looks", 0) + 1
            if looks <= 2:
                (both_checked if looks == 1 else both_rechecked).wait(timeout=30)
            return rows

        def update_record(self, table, key, change):
            record = store.update_record(table, key, change)
            if record is not None and record.get("deleting"):
                both_marked.wait(timeout=30)
            return record

    outcomes: dict[str, str] = {}

    def delete(name: str) -> None:
        try:
            admins.delete_admin(Racing(), name)
            outcomes[name] = "deleted"
        except admins.AdminError as exc:
            outcomes[name] = str(exc)

    threads = [threading.Thread(target=delete, args=(n,)) for n in (ADMIN_NAME, "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all("is the only admin" in o for o in outcomes.values()) and len(outcomes) == 2
    assert sorted(r["key"] for r in store.records("admins")) == [ADMIN_NAME, "bob"]
    assert not any(r.get("deleting") for r in store.records("admins"))  # marks taken back


def test_deleting_one_of_two_then_the_other_is_refused(store, bob):
    admins.delete_admin(store, "bob")
    with pytest.raises(admins.AdminError, match="only admin"):
        admins.delete_admin(store, ADMIN_NAME)
    assert [r["key"] for r in store.records("admins")] == [ADMIN_NAME]
