"""An IdP's deprovisioning policy: checked as a plain function, saved from the General tab and
``idp policy``; bad input refused with a message, changing nothing."""

from __future__ import annotations

import json

import pytest

from lifecycle import policy
from providers import create_idp
from tests.consoletools import submit, text

IDPS = "/settings/identity-providers"


def test_defaults():
    assert policy.of({}) == policy.Policy(
        on_delete="delete", keep_days=30, guard=True, guard_users=10, guard_percent=10,
        guard_minutes=15,
    )  # fmt: skip


def test_check_keeps_what_is_not_given():
    current = policy.Policy(on_delete="deactivate", keep_days=7)
    changed = policy.check({"guard": "off"}, current)
    assert changed == policy.Policy(on_delete="deactivate", keep_days=7, guard=False)


@pytest.mark.parametrize(
    "values, field, message",
    [
        ({"on_delete": "archive"}, "on_delete", "either deletes the user or deactivates it"),
        ({"keep_days": "0"}, "keep_days", "from 1 to 3,650"),
        ({"keep_days": "seven"}, "keep_days", "whole number"),
        ({"keep_days": "٣"}, "keep_days", "whole number"),  # a digit, but not an ASCII one
        ({"guard": "maybe"}, "guard", "either on or off"),
        ({"guard_users": "-1"}, "guard_users", "from 0 to 1,000,000"),
        ({"guard_percent": "101"}, "guard_percent", "from 0 to 100"),
        ({"guard_minutes": "0"}, "guard_minutes", "from 1 to 10,080"),
        ({"guard_minutes": ""}, "guard_minutes", "whole number"),
    ],
)
def test_check_names_the_bad_field(values, field, message):
    with pytest.raises(policy.BadPolicy, match=message) as caught:
        policy.check(values)
    assert caught.value.field == field


def test_describe():
    text_ = policy.describe(policy.Policy(on_delete="deactivate", keep_days=14))
    assert text_["on_delete"] == (
        "A SCIM DELETE deactivates the user for the applications and deletes it 14 days later."
    )
    assert "more than 10 users and more than 10 % of the active users" in text_["guard"]
    assert policy.describe(policy.Policy(guard=False))["guard"] == (
        "The mass-deprovisioning guard is off."
    )


# --- the console: the IdP's General tab ----------------------------------------------------


FORM = {
    "on_delete": "deactivate",
    "keep_days": "14",
    "guard": "on",
    "guard_users": "50",
    "guard_percent": "5",
    "guard_minutes": "30",
}


def save(client, idp: str, form: dict):
    return submit(client, f"{IDPS}/{idp}/deprovisioning", form, page=f"{IDPS}/{idp}/edit")


def test_general_tab_shows_and_saves_the_policy(signed_in, store):
    idp = create_idp(store, "Okta", "okta")["id"]
    page = text(signed_in.get(f"{IDPS}/{idp}/edit"))
    assert "A SCIM DELETE deletes the user at once." in page
    assert 'name="on_delete" value="delete" checked' in page
    response = save(signed_in, idp, FORM)
    assert response.status_code == 303
    assert policy.of(store.get_record("idps", idp)) == policy.Policy(
        on_delete="deactivate", keep_days=14, guard_users=50, guard_percent=5, guard_minutes=30
    )
    page = text(signed_in.get(response.headers["Location"]))
    assert "Deprovisioning policy saved." in page
    assert "deletes it 14 days later" in page and 'value="deactivate" checked' in page


@pytest.mark.parametrize(
    "change, message",
    [
        ({"on_delete": "archive"}, "A deletion either deletes the user or deactivates it."),
        ({"keep_days": "0"}, "The days to keep a user must be a whole number from 1 to 3,650."),
        ({"guard": ""}, "The guard is either on or off."),
        ({"guard_percent": "150"}, "The percentage must be a whole number from 0 to 100."),
        ({"guard_minutes": "1e3"}, "The minutes must be a whole number from 1 to 10,080."),
    ],
)
def test_general_tab_refuses_bad_input_and_changes_nothing(signed_in, store, change, message):
    idp = create_idp(store, "Okta", "okta")["id"]
    before = store.get_record("idps", idp)
    response = save(signed_in, idp, {**FORM, **change})
    assert response.status_code == 400
    assert message in text(response)
    assert store.get_record("idps", idp) == before


def test_general_tab_of_an_unknown_idp_is_404(signed_in):
    response = submit(signed_in, f"{IDPS}/nope/deprovisioning", FORM, page=IDPS)
    assert response.status_code == 404


# --- the CLI ------------------------------------------------------------------------------


def invoke(runner, *args):
    return runner.invoke(args=list(args))


def test_cli_shows_and_changes_the_policy(runner, store):
    idp = create_idp(store, "Okta", "okta")["id"]
    shown = invoke(runner, "idp", "policy", idp)
    assert shown.exit_code == 0 and "A SCIM DELETE deletes the user at once." in shown.output
    changed = invoke(
        runner, "idp", "policy", idp, "--on-delete", "deactivate", "--keep-days", "7",
        "--guard-users", "100", "--json",
    )  # fmt: skip
    assert changed.exit_code == 0, changed.output
    data = json.loads(changed.output)
    assert data["on_delete"] == "deactivate" and data["keep_days"] == 7
    assert data["guard_users"] == 100 and data["guard_percent"] == 10
    assert policy.of(store.get_record("idps", idp)).keep_days == 7
    off = json.loads(invoke(runner, "idp", "policy", idp, "--guard", "off", "--json").output)
    assert off["guard"] is False and off["keep_days"] == 7


@pytest.mark.parametrize(
    "args, message",
    [
        (["--on-delete", "archive"], "--on-delete: A deletion either deletes"),
        (["--keep-days", "0"], "--keep-days: The days to keep a user"),
        (["--guard", "yes"], "--guard: The guard is either on or off."),
        (["--guard-percent", "x"], "--guard-percent: The percentage"),
        (["--guard-minutes", "99999"], "--guard-minutes: The minutes"),
    ],
)
def test_cli_refuses_bad_input_and_changes_nothing(runner, store, args, message):
    idp = create_idp(store, "Okta", "okta")["id"]
    before = store.get_record("idps", idp)
    result = invoke(runner, "idp", "policy", idp, "--keep-days", "9", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert store.get_record("idps", idp) == before


def test_cli_policy_of_an_unknown_idp(runner):
    result = invoke(runner, "idp", "policy", "nope")
    assert result.exit_code == 1 and "no identity provider" in result.output


def test_console_and_cli_audit_a_policy_change_alike(signed_in, runner, store):
    idp = create_idp(store, "Okta", "okta")["id"]
    save(signed_in, idp, FORM)
    save(signed_in, idp, {**FORM, "keep_days": "0"})
    invoke(runner, "idp", "policy", idp, "--guard", "off")
    _, found = store.audit_entries(action="idp.update")
    trail = [(e["actor"], e["outcome"], e["detail"]) for e in reversed(found)]
    summary = "a deletion deactivates for 14 days"
    assert trail == [
        ("ada", "success",
         f"Okta: deprovisioning: {summary}; guard on (more than 50 users and 5 % in 30 min)"),
        ("ada", "failure",
         "keep_days: The days to keep a user must be a whole number from 1 to 3,650."),
        ("cli", "success", f"Okta: deprovisioning: {summary}; guard off"),
    ]  # fmt: skip
