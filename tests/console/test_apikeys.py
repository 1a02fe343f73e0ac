"""Settings → API Keys: create (the key shown once), list, revoke; CSRF and bad names refused
with a message, changing nothing."""

from __future__ import annotations

import re

import pytest

from tests.conftest import stored_text
from tests.consoletools import csrf_of, submit, text
from tokens import apikeys

PAGE = "/settings/api-keys"


def shown_key(response) -> str | None:
    match = re.search(r'id="api-key" type="text" value="([^"]+)"', text(response))
    return match.group(1) if match else None


def create(client, name: str = "Billing"):
    return submit(client, PAGE, {"name": name})


def test_the_page_is_in_the_settings_navigation(signed_in):
    page = signed_in.get(PAGE)
    assert page.status_code == 200
    assert f'<a href="{PAGE}" aria-current="page">API Keys</a>' in text(page)
    assert "No API keys yet" in text(page)
    assert f'href="{PAGE}"' in text(signed_in.get("/settings/identity-providers"))


def test_create_shows_the_key_once_and_keeps_its_digest(app, signed_in, store, client):
    response = create(signed_in)
    assert response.status_code == 200
    key = shown_key(response)
    assert key and key.startswith(apikeys.PREFIX)
    assert "it is shown only this once" in text(response)
    (record,) = apikeys.keys(store)
    assert record["name"] == "Billing" and record["digest"] == apikeys.digest(key)
    assert key not in stored_text(app)
    # Never again: the list shows the prefix only.
    again = signed_in.get(PAGE)
    assert shown_key(again) is None and key not in text(again)
    assert f"<code>{record['prefix']}…</code>" in text(again)
    # And the key opens the application API.
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/idps", headers=headers).status_code == 200


def test_the_list_shows_name_created_and_last_used(signed_in, client, store):
    key = shown_key(create(signed_in, "Wiki"))
    page = text(signed_in.get(PAGE))
    row = page[page.index('<tr data-key="') :]
    assert "Wiki" in row and "never" in row  # not used yet
    client.get("/api/v1/idps", headers={"Authorization": f"Bearer {key}"})
    (record,) = apikeys.keys(store)
    assert record["last_used"] is not None
    page = text(signed_in.get(PAGE))
    assert f'datetime="{record["last_used"]}"' in page
    assert f'datetime="{record["created"]}"' in page


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "A name is required."),
        ("   ", "A name is required."),
        ("x" * 101, "A name has at most 100 characters."),
        ("tab\there", "A name cannot hold control characters."),
    ],
)
def test_a_bad_name_is_refused_beside_the_field(signed_in, store, name, message):
    response = create(signed_in, name)
    assert response.status_code == 400
    assert message in text(response) and 'aria-invalid="true"' in text(response)
    assert shown_key(response) is None
    assert apikeys.keys(store) == []


def test_a_missing_name_is_refused(signed_in, store):
    response = submit(signed_in, PAGE, {})
    assert response.status_code == 400 and "This field is required." in text(response)
    assert apikeys.keys(store) == []


def test_revoke_closes_the_api_to_the_key(signed_in, client, store):
    key = shown_key(create(signed_in))
    (record,) = apikeys.keys(store)
    response = submit(signed_in, f"{PAGE}/{record['id']}/revoke", page=PAGE)
    assert response.status_code == 303 and response.headers["Location"] == PAGE
    page = signed_in.get(PAGE)
    assert "Revoked the API key Billing." in text(page)
    assert "Revoked</span>" in text(page) and f"{record['id']}/revoke" not in text(page)
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/idps", headers=headers).status_code == 401


def test_revoking_an_unknown_or_revoked_key_is_a_404_that_changes_nothing(signed_in, store):
    create(signed_in)
    (record,) = apikeys.keys(store)
    assert submit(signed_in, f"{PAGE}/{record['id']}/revoke", page=PAGE).status_code == 303
    before = apikeys.keys(store)
    for key_id in (record["id"], "nope"):
        response = submit(signed_in, f"{PAGE}/{key_id}/revoke", page=PAGE)
        assert response.status_code == 404
        assert "no active API key with this id" in text(response)
    assert apikeys.keys(store) == before


@pytest.mark.parametrize("action", ["create", "revoke"])
def test_a_post_without_the_csrf_token_changes_nothing(signed_in, store, action):
    _, key = apikeys.issue(store, "Existing")
    before = apikeys.keys(store)
    path = PAGE if action == "create" else f"{PAGE}/{before[0]['id']}/revoke"
    for token in (None, "forged"):
        data = {"name": "Sneaky"} | ({"csrf_token": token} if token else {})
        assert signed_in.post(path, data=data).status_code == 400
    assert apikeys.keys(store) == before


def test_signed_out_the_page_is_closed(client, store):
    assert client.get(PAGE).status_code in (302, 303)
    response = client.post(PAGE, data={"name": "x", "csrf_token": "x"})
    assert response.status_code in (302, 303, 400)
    assert apikeys.keys(store) == []


def test_a_name_is_shown_as_text(signed_in):
    create(signed_in, "<script>alert(1)</script>")
    page = text(signed_in.get(PAGE))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert csrf_of(signed_in.get(PAGE))


def test_an_api_key_does_not_open_the_console(client, store):
    _, key = apikeys.issue(store, "Billing")
    response = client.get(PAGE, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 303 and "/sign-in" in response.headers["Location"]
