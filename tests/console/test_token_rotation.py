"""Two live tokens per IdP: a grace period for the old one, expiry, revoking one at a time, the
warnings of the Identity Providers table; through the functions, SCIM, the console and the CLI.
The clock is injected and moved by hand: nothing waits for a period to end."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

import tokens
from providers import create_idp
from tests.conftest import FakeClock
from tests.consoletools import submit, text

IDPS = "/settings/identity-providers"
DAY = timedelta(days=1)


@pytest.fixture
def idp(store) -> str:
    return create_idp(store, "Okta", "okta")["id"]


def live(store, idp: str, now) -> list[str]:
    return [r["label"] for r in tokens.tokens_of(store, idp, live_only=True, now=now)]


# --- the functions ----------------------------------------------------------------------------


def test_grace_period_keeps_the_old_token_until_it_ends(store, idp):
    clock = FakeClock()
    old = tokens.issue(store, idp, now=clock())
    _, new = tokens.rotate(store, idp, now=clock(), keep_old=DAY)
    assert tokens.verify(store, idp, old, now=clock())
    assert tokens.verify(store, idp, new, now=clock())
    clock.advance(hours=23, minutes=59, seconds=59)
    assert tokens.verify(store, idp, old, now=clock())
    clock.advance(seconds=1)
    assert not tokens.verify(store, idp, old, now=clock())
    assert tokens.verify(store, idp, new, now=clock())
    assert tokens.state(store, idp, clock()) == "active"


def test_without_a_grace_period_the_old_token_stops_at_once(store, idp):
    clock = FakeClock()
    old = tokens.issue(store, idp, now=clock())
    _, new = tokens.rotate(store, idp, now=clock())
    assert not tokens.verify(store, idp, old, now=clock())
    assert tokens.verify(store, idp, new, now=clock())


def test_revoking_one_token_leaves_the_other_working(store, idp):
    clock = FakeClock()
    old = tokens.issue(store, idp, now=clock())
    record, new = tokens.rotate(store, idp, now=clock(), keep_old=timedelta(days=7))
    assert tokens.revoke(store, idp, record["id"], now=clock()) == 1
    assert not tokens.verify(store, idp, new, now=clock())
    assert tokens.verify(store, idp, old, now=clock())
    assert tokens.revoke(store, idp, record["id"], now=clock()) == 0  # already revoked


def test_an_idp_never_has_more_than_two_live_tokens(store, idp):
    clock = FakeClock()
    first = tokens.issue(store, idp, now=clock())
    second = tokens.rotate(store, idp, now=clock(), keep_old=DAY)[1]
    third = tokens.rotate(store, idp, now=clock(), keep_old=DAY)[1]
    assert not tokens.verify(store, idp, first, now=clock())
    assert tokens.verify(store, idp, second, now=clock())
    assert tokens.verify(store, idp, third, now=clock())
    assert live(store, idp, clock()) == ["Token 3", "Token 2"]


def test_a_grace_period_never_extends_an_earlier_expiry(store, idp):
    clock = FakeClock()
    record, old = tokens.rotate(store, idp, now=clock(), expires_in=timedelta(hours=2))
    tokens.rotate(store, idp, now=clock(), keep_old=timedelta(days=7))
    clock.advance(hours=2)
    assert not tokens.verify(store, idp, old, now=clock())


def test_a_token_with_a_lifetime_expires(store, idp):
    clock = FakeClock()
    record, token = tokens.rotate(store, idp, now=clock(), expires_in=timedelta(days=30))
    clock.advance(days=30)
    assert not tokens.verify(store, idp, token, now=clock())
    assert tokens.state(store, idp, clock()) == "expired"
    assert tokens.status(tokens.tokens_of(store, idp)[0], clock()) == "expired"


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"keep_old": timedelta(hours=2)}, "kept for 1 hour, 24 hours, 7 days"),
        ({"expires_in": timedelta(minutes=5)}, "a token lives from 1 hour to 730 days"),
        ({"expires_in": timedelta(days=731)}, "a token lives from 1 hour to 730 days"),
        ({"label": "x" * 101}, "at most 100 characters"),
        ({"label": "tab\there"}, "control characters"),
    ],
)
def test_bad_requests_change_nothing(store, idp, arguments, message):
    clock = FakeClock()
    token = tokens.issue(store, idp, now=clock())
    before = store.records("tokens")
    with pytest.raises(tokens.TokenError, match=message):
        tokens.rotate(store, idp, now=clock(), **arguments)
    assert store.records("tokens") == before
    assert tokens.verify(store, idp, token, now=clock())


def test_warnings_before_expiry_and_for_an_old_token_still_in_use(store, idp):
    clock = FakeClock()
    old = tokens.rotate(store, idp, now=clock(), label="Old", expires_in=timedelta(days=10))[1]
    assert tokens.warnings(tokens.tokens_of(store, idp), clock()) == []
    clock.advance(days=4)
    (warning,) = tokens.warnings(tokens.tokens_of(store, idp), clock())
    assert warning.startswith("Old (roster_scim_") and "stops in 6 days: generate" in warning
    tokens.rotate(store, idp, now=clock(), label="New", keep_old=DAY)
    # Replaced, and the IdP has not used the old one since: nothing to say.
    assert tokens.warnings(tokens.tokens_of(store, idp), clock()) == []
    clock.advance(hours=1)
    assert tokens.verify(store, idp, old, now=clock())  # the IdP still sends the old one
    (warning,) = tokens.warnings(tokens.tokens_of(store, idp), clock())
    assert warning.startswith("Still uses Old (roster_scim_")
    assert "stops in 23 hours: paste New into the IdP." in warning


# --- through SCIM -----------------------------------------------------------------------------


def test_two_clients_during_the_grace_period(client, store, idp, fake_clock):
    """A sync job keeps the old token while a second one starts on the new one; at the end
    of the period the old one is refused, and the new one never missed a request."""
    old = tokens.issue(store, idp, now=fake_clock())
    new = tokens.rotate(store, idp, now=fake_clock(), keep_old=timedelta(hours=1))[1]

    def status(token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return client.get(f"/scim/v2/{idp}/Users", headers=headers).status_code

    for _ in range(6):
        assert (status(old), status(new)) == (200, 200)
        fake_clock.advance(minutes=9, seconds=59)
    fake_clock.advance(seconds=6)  # one hour after the rotation
    assert (status(old), status(new)) == (401, 200)


# --- the console ------------------------------------------------------------------------------


def generate(client, idp: str, **form):
    return submit(client, f"{IDPS}/{idp}/token", form, page=f"{IDPS}/{idp}/advanced")


def shown_token(response) -> str | None:
    match = re.search(r'id="scim-token" type="text" value="([^"]+)"', text(response))
    return match.group(1) if match else None


def test_console_asks_then_keeps_the_old_token_for_the_period_chosen(
    signed_in, store, scim, fake_clock
):
    ask = generate(signed_in, scim.id, label="Rotated in March")
    body = text(ask)
    assert "Replace the active token?" in body and shown_token(ask) is None
    for choice in ("Revoke it now", "1 hour", "24 hours", "7 days"):
        assert choice in body
    assert 'name="label" value="Rotated in March"' in body  # carried to the answer
    answered = generate(signed_in, scim.id, label="Rotated in March", old="7d")
    new = shown_token(answered)
    assert new and tokens.verify(store, scim.id, new, now=fake_clock())
    assert scim.get("/Users").status_code == 200  # the old one still works
    page = text(signed_in.get(f"{IDPS}/{scim.id}/advanced"))
    assert "Rotated in March" in page and "Token 1" in page
    assert page.count(">Revoke<") == 2  # each live token has its own
    fake_clock.advance(days=7)
    assert scim.get("/Users").status_code == 401
    assert scim.get("/Users", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_console_revokes_one_token_and_keeps_the_other(signed_in, store, scim, fake_clock):
    record, new = tokens.rotate(store, scim.id, now=fake_clock(), keep_old=DAY)
    old_id = tokens.public_id(tokens.tokens_of(store, scim.id)[1])
    response = submit(
        signed_in, f"{IDPS}/{scim.id}/tokens/{old_id}/revoke", page=f"{IDPS}/{scim.id}/advanced"
    )
    assert response.status_code == 303
    assert "Token 1 revoked." in text(signed_in.get(response.headers["Location"]))
    assert scim.get("/Users").status_code == 401
    assert scim.get("/Users", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    missing = submit(
        signed_in, f"{IDPS}/{scim.id}/tokens/nope/revoke", page=f"{IDPS}/{scim.id}/advanced"
    )
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "form, message",
    [
        ({"label": "x" * 101}, "Enter a label of at most 100 characters."),
        ({"label": "a\x07b"}, "A label cannot hold control characters."),
        ({"expires": "3d"}, "Choose when the token expires."),
        ({"old": "forever"}, "Choose what happens to the current token."),
    ],
)
def test_console_refuses_bad_input_and_changes_nothing(signed_in, store, scim, form, message):
    before = store.records("tokens")
    response = generate(signed_in, scim.id, **form)
    assert response.status_code == 400
    assert message in text(response)
    assert store.records("tokens") == before


def test_console_new_token_with_an_expiry(signed_in, store, idp, fake_clock):
    response = generate(signed_in, idp, label="Quarterly", expires="90d")
    token = shown_token(response)
    (record,) = tokens.tokens_of(store, idp)
    assert record["label"] == "Quarterly"
    fake_clock.advance(days=90)
    assert not tokens.verify(store, idp, token, now=fake_clock())


def test_identity_providers_table_warns(signed_in, store, scim, fake_clock):
    tokens.rotate(store, scim.id, now=fake_clock(), label="New", keep_old=timedelta(hours=1))
    fake_clock.advance(minutes=10)
    assert scim.get("/Users").status_code == 200  # the IdP still sends the old token
    body = text(signed_in.get(IDPS))
    row = body[body.index(f'data-idp="{scim.id}"') :].split("</tr>")[0]
    assert "Still uses Token 1" in row and "stops in 50 minutes: paste New into the IdP." in row


# --- the CLI ----------------------------------------------------------------------------------


def invoke(runner, *args):
    return runner.invoke(args=list(args))


def test_cli_rotation_with_a_grace_period(runner, store, idp, fake_clock):
    first = json.loads(invoke(runner, "token", "generate", idp, "--json").output)
    result = invoke(runner, "token", "generate", idp, "--keep-old", "24h", "--json")
    assert result.exit_code == 0, result.output
    second = json.loads(result.output)
    assert second["label"] == "Token 2" and second["state"] == "active"
    assert tokens.verify(store, idp, first["token"], now=fake_clock())
    listed = json.loads(invoke(runner, "token", "list", idp, "--json").output)
    assert [(t["id"], t["state"]) for t in listed] == [
        (second["id"], "active"),
        (first["id"], "active"),
    ]
    assert "token" not in listed[0] and "digest" not in listed[0]
    assert listed[1]["expires"] is not None
    result = invoke(runner, "token", "revoke", idp, first["id"])
    assert result.exit_code == 0 and "revoked 1 token(s)" in result.output
    assert not tokens.verify(store, idp, first["token"], now=fake_clock())
    assert tokens.verify(store, idp, second["token"], now=fake_clock())
    table = invoke(runner, "token", "list", idp).output
    assert table.splitlines()[0].split() == [
        "ID", "LABEL", "PREFIX", "STATE", "CREATED", "LAST", "USED", "EXPIRES"
    ]  # fmt: skip
    assert "revoked" in table


def test_cli_expires_in(runner, store, idp, fake_clock):
    made = json.loads(
        invoke(runner, "token", "generate", idp, "--expires-in", "2w", "--json").output
    )
    fake_clock.advance(days=14)
    assert not tokens.verify(store, idp, made["token"], now=fake_clock())
    assert json.loads(invoke(runner, "token", "list", idp, "--json").output)[0]["state"] == (
        "expired"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--keep-old", "2h"], "kept for 1 hour, 24 hours, 7 days"),
        (["--keep-old", "8d"], "out of range"),
        (["--keep-old", "forever"], "is not a duration"),
        (["--expires-in", "30m"], "out of range"),
        (["--expires-in", "-5d"], "is not a duration"),
        (["--label", "x" * 101], "at most 100 characters"),
    ],
)
def test_cli_refuses_bad_input_and_changes_nothing(runner, store, idp, args, message):
    token = tokens.issue(store, idp)
    before = store.records("tokens")
    result = invoke(runner, "token", "generate", idp, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert store.records("tokens") == before
    assert tokens.verify(store, idp, token)


def test_cli_keep_old_accepts_only_the_grace_periods(runner, store, idp):
    tokens.issue(store, idp)
    for good in ("1h", "24h", "7d", "1d", "60m", "1w"):
        result = invoke(runner, "token", "generate", idp, "--keep-old", good)
        assert result.exit_code == 0, (good, result.output)
    result = invoke(runner, "token", "generate", idp, "--keep-old", "2d")
    assert result.exit_code == 1 and "kept for 1 hour, 24 hours, 7 days" in result.output


def test_cli_revoke_of_an_unknown_token_id_is_an_error(runner, store, idp):
    token = tokens.issue(store, idp)
    result = invoke(runner, "token", "revoke", idp, "nope")
    assert result.exit_code == 1 and "no live token with id 'nope'" in result.output
    assert tokens.verify(store, idp, token)


def test_cli_list_of_an_unknown_idp_is_an_error(runner):
    result = invoke(runner, "token", "list", "nope")
    assert result.exit_code == 1 and "no identity provider" in result.output


# --- the audit trail: the console and the CLI leave the same entries ----------------------------


def details(store, action: str) -> list[tuple[str, str, str]]:
    """(actor, outcome, detail) of the audit entries of ``action``, oldest first."""
    _, found = store.audit_entries(action=action)
    return [(e["actor"], e["outcome"], e["detail"]) for e in reversed(found)]


def test_console_and_cli_audit_rotation_and_revocation_alike(signed_in, runner, store, idp):
    generate(signed_in, idp, label="First")
    generate(signed_in, idp, label="Second", old="24h")
    second = tokens.tokens_of(store, idp)[0]
    submit(
        signed_in,
        f"{IDPS}/{idp}/tokens/{second['id']}/revoke",
        page=f"{IDPS}/{idp}/advanced",
    )
    invoke(runner, "token", "generate", idp, "--label", "Third", "--keep-old", "24h")
    third = tokens.tokens_of(store, idp)[0]
    invoke(runner, "token", "revoke", idp, third["id"])
    invoke(runner, "token", "revoke", idp, "nope")
    generated = details(store, "token.generate")
    assert [(actor, outcome) for actor, outcome, _ in generated] == [
        ("ada", "success"), ("ada", "success"), ("cli", "success"),
    ]  # fmt: skip
    assert generated[1][2] == (
        f"Okta: Second (id {second['id']}); the previous token kept for 24 hours"
    )
    assert (
        generated[2][2] == f"Okta: Third (id {third['id']}); the previous token kept for 24 hours"
    )
    assert details(store, "token.revoke") == [
        ("ada", "success", f"Okta: token {second['id']}, 1 revoked"),
        ("cli", "success", f"Okta: token {third['id']}, 1 revoked"),
        ("cli", "failure", "no live token nope"),
    ]
    assert all("roster_scim_" not in detail for _, _, detail in generated)


def test_refused_generation_is_audited_as_a_failure(runner, store, idp):
    tokens.issue(store, idp)
    invoke(runner, "token", "generate", idp, "--keep-old", "2h")
    ((actor, outcome, detail),) = details(store, "token.generate")
    assert (actor, outcome) == ("cli", "failure") and "kept for 1 hour, 24 hours" in detail


def test_idp_list_warns_like_the_table(runner, store, idp, fake_clock):
    tokens.rotate(store, idp, now=fake_clock(), label="Short", expires_in=timedelta(days=3))
    (row,) = json.loads(invoke(runner, "idp", "list", "--json").output)
    assert row["token"] == "active"
    (warning,) = row["token_warnings"]
    assert warning.startswith("Short (roster_scim_") and "stops in 3 days" in warning
    text_ = invoke(runner, "idp", "list").output
    assert "warning: Okta: Short (roster_scim_" in text_
