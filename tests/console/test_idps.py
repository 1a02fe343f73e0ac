"""Settings → Identity Providers: add, list, edit, delete; Advanced Settings → User
Auto-Provisioning (SCIM): generate (shown once, confirmed when replacing), revoke; Activity."""

from __future__ import annotations

import re

import pytest

import tokens
from console.hints import HINTS, guide_path
from providers import KINDS, create_idp
from tests.consoletools import submit, text

IDPS = "/settings/identity-providers"


def add(client, name: str = "JumpCloud", kind: str = "jumpcloud"):
    return submit(client, f"{IDPS}/new", {"name": name, "kind": kind})


def generate(client, idp: str, **extra):
    return submit(client, f"{IDPS}/{idp}/token", extra, page=f"{IDPS}/{idp}/advanced")


def shown_token(response) -> str | None:
    match = re.search(r'id="scim-token" type="text" value="([^"]+)"', text(response))
    return match.group(1) if match else None


def test_add_identity_provider_then_generate_its_token(signed_in, store):
    response = add(signed_in)
    assert response.status_code == 303
    (record,) = store.records("idps")
    assert record["name"] == "JumpCloud" and record["kind"] == "jumpcloud"
    assert response.headers["Location"] == f"{IDPS}/{record['id']}/advanced?section=scim"
    page = signed_in.get(response.headers["Location"])
    assert "Added JumpCloud. Next: generate its SCIM token below." in text(page)
    assert '<details class="card section" id="scim" open>' in text(page)


@pytest.mark.parametrize(
    "name, kind, message",
    [
        ("jumpcloud", "okta", "An identity provider named &#39;jumpcloud&#39; already exists."),
        ("", "okta", "Enter a name of at most 100 characters."),
        ("x" * 101, "okta", "Enter a name of at most 100 characters."),
        ("Okta", "nope", "Choose the kind of identity provider."),
    ],
)
def test_add_refuses_with_a_message_on_the_page(signed_in, store, name, kind, message):
    add(signed_in, "JumpCloud")
    response = add(signed_in, name, kind)
    assert response.status_code == 400
    assert message in text(response)
    assert len(store.records("idps")) == 1


def test_table_shows_kind_state_counts_and_last_request(signed_in, scim, store):
    create_idp(store, "Entra", "entra")
    scim.create_user("ann")
    scim.create_user("bob")
    scim.create_group("Team")
    body = text(signed_in.get(IDPS))
    row = body[body.index(f'data-idp="{scim.id}"') :].split("</tr>")[0]
    assert "Primary IdP" in row and KINDS["generic"] in row
    assert ">Active<" in row and ">2<" in row and ">1<" in row
    assert "just now" in row  # the last SCIM request
    entra = body[body.index("Entra") :].split("</tr>")[0]
    assert "No token" in entra and "never" in entra
    assert "Edit Primary IdP" in body  # the row's Edit, labelled for screen readers


def test_table_says_when_the_token_is_revoked(signed_in, scim, store):
    tokens.revoke(store, scim.id)
    assert ">Revoked<" in text(signed_in.get(IDPS))


def test_empty_table_invites_to_add_one(signed_in):
    assert "No identity providers yet" in text(signed_in.get(IDPS))


def test_edit_renames_and_refuses_a_taken_name(signed_in, store):
    first = create_idp(store, "JumpCloud", "jumpcloud")["id"]
    create_idp(store, "Okta", "okta")
    ok = submit(signed_in, f"{IDPS}/{first}/edit", {"name": "JumpCloud EU", "kind": "jumpcloud"})
    assert ok.status_code == 303
    assert store.get_record("idps", first)["name"] == "JumpCloud EU"
    taken = submit(signed_in, f"{IDPS}/{first}/edit", {"name": "OKTA", "kind": "jumpcloud"})
    assert taken.status_code == 400 and "already exists" in text(taken)
    assert store.get_record("idps", first)["name"] == "JumpCloud EU"


def test_delete_asks_first_then_deletes_everything(signed_in, scim, store):
    scim.create_user("ann")
    confirm = signed_in.get(f"{IDPS}/{scim.id}/delete")
    assert "Delete Primary IdP?" in text(confirm) and "its 1 users and" in text(confirm)
    assert store.get_record("idps", scim.id) is not None  # asking deletes nothing
    response = submit(signed_in, f"{IDPS}/{scim.id}/delete")
    assert response.status_code == 303
    assert store.get_record("idps", scim.id) is None and store.count("User", scim.id) == 0
    assert scim.get("/Users").status_code == 401


def test_unknown_idp_is_a_404_page(signed_in):
    response = signed_in.get(f"{IDPS}/nope/advanced")
    assert response.status_code == 404
    assert "There is no such identity provider" in text(response)


# --- the token -------------------------------------------------------------------------------


def test_generated_token_is_shown_once_and_works(signed_in, store, client):
    idp = create_idp(store, "JumpCloud", "jumpcloud")["id"]
    response = generate(signed_in, idp)
    body = text(response)
    token = shown_token(response)
    assert token and token.startswith(tokens.PREFIX)
    assert "SCIM Service Provider Endpoint" in body
    assert f"http://127.0.0.1:8080/scim/v2/{idp}" in body
    assert "it is shown only this once" in body
    assert response.headers["Cache-Control"] == "no-store"
    scim_response = client.get(
        f"/scim/v2/{idp}/Users", headers={"Authorization": f"Bearer {token}"}
    )
    assert scim_response.status_code == 200
    again = text(signed_in.get(f"{IDPS}/{idp}/advanced"))
    assert token not in again and token[: len(tokens.PREFIX) + 4] + "…" in again


def test_replacing_a_live_token_asks_first(signed_in, scim, store):
    ask = generate(signed_in, scim.id)
    assert "Replace the active token?" in text(ask) and shown_token(ask) is None
    assert scim.get("/Users").status_code == 200  # asking changed nothing
    replaced = generate(signed_in, scim.id, old="revoke")
    new = shown_token(replaced)
    assert new and new != scim.token
    assert scim.get("/Users").status_code == 401  # the old token stopped working
    assert scim.get("/Users", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_revoke_token(signed_in, scim, store):
    response = submit(
        signed_in, f"{IDPS}/{scim.id}/token/revoke", page=f"{IDPS}/{scim.id}/advanced"
    )
    assert response.status_code == 303
    assert tokens.state(store, scim.id) == "revoked"
    assert scim.get("/Users").status_code == 401
    page = text(signed_in.get(response.headers["Location"]))
    assert "Token revoked." in page and "Revoked" in page


def test_token_facts_prefix_created_and_last_used(signed_in, scim, store):
    scim.get("/Users")
    body = text(signed_in.get(f"{IDPS}/{scim.id}/advanced"))
    (record,) = tokens.tokens_of(store, scim.id)
    assert f"{record['prefix']}…" in body
    assert f'datetime="{record["created"]}"' in body
    assert f'datetime="{record["last_used"]}"' in body


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_has_a_setup_hint_and_names_its_guide(signed_in, store, kind):
    idp = create_idp(store, f"IdP {kind}", kind)["id"]
    body = text(signed_in.get(f"{IDPS}/{idp}/advanced"))
    assert HINTS[kind].token_field.replace("<", "&lt;").replace(">", "&gt;") in body
    assert guide_path(kind) in body


def test_guide_is_served_as_plain_text(signed_in):
    response = signed_in.get(f"{IDPS}/guides/jumpcloud")
    if response.status_code == 404:
        pytest.skip("docs/idp/jumpcloud.md is not in this tree")
    assert response.mimetype == "text/plain" and "JumpCloud" in text(response)
    assert signed_in.get(f"{IDPS}/guides/..%2Fconfig").status_code == 404


# --- activity --------------------------------------------------------------------------------


def test_activity_highlights_failures_with_their_reason(signed_in, scim):
    scim.create_user("ann")
    scim.post(
        "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ann"}
    )
    body = text(signed_in.get("/activity"))
    assert 'class="is-error"' in body
    assert "uniqueness" in body and "is already taken" in body
    errors_only = text(signed_in.get("/activity", query_string={"errors": "1", "idp": scim.id}))
    assert errors_only.count("<tr") == 2  # the header and the one failure


def test_activity_without_requests_explains_itself(signed_in):
    assert "No SCIM requests yet" in text(signed_in.get("/activity"))


def test_racing_creates_of_one_name_make_one_idp(store):
    import threading

    ready, results = threading.Barrier(8), []

    def create() -> None:
        ready.wait()
        try:
            results.append(create_idp(store, "Racing IdP", "okta")["id"])
        except ValueError:
            results.append(None)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert [r["id"] for r in store.records("idps") if r["name"] == "Racing IdP"] == winners
