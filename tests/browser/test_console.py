"""The console in a browser, served by waitress in this process: sign-in failures, token
replacement, CSRF rejection, search and pagination, revealing Edit, and the phone layout."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from providers import create_idp
from tests.browser.conftest import sign_in
from tests.conftest import ADMIN_NAME, ADMIN_PASSWORD
from tests.consoletools import seed

IDPS = "/settings/identity-providers"


def scim_status(base: str, path: str, token: str) -> int:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


@pytest.fixture
def console(page, served, admin):
    """A tab signed in to the console; yields (tab, base URL)."""
    sign_in(page, served, ADMIN_NAME, ADMIN_PASSWORD)
    page.wait_for_url("**" + IDPS)
    return page, served


def test_sign_in_failures_say_what_went_wrong(page, served, admin):
    sign_in(page, served, ADMIN_NAME, "")
    assert "Enter your password." in page.inner_text("main")
    sign_in(page, served, ADMIN_NAME, "not the password")
    assert page.get_by_role("alert").inner_text() == "Wrong username or password."
    assert page.get_by_label("Username").input_value() == ADMIN_NAME  # kept for a retry
    for _ in range(4):
        sign_in(page, served, ADMIN_NAME, "not the password")
    sign_in(page, served, ADMIN_NAME, ADMIN_PASSWORD)  # right, but too late
    alert = page.get_by_role("alert").inner_text()
    assert alert.startswith("Too many failed sign-in attempts. Try again in ")
    assert page.url.endswith("/sign-in")


def test_replacing_the_token_stops_the_old_one(console, store):
    page, base = console
    idp = create_idp(store, "Okta", "okta")["id"]
    page.goto(f"{base}{IDPS}/{idp}/advanced")
    page.get_by_text("User Auto-Provisioning (SCIM)").click()
    page.get_by_role("button", name="Generate new token").click()
    old = page.get_by_label("SCIM Provisioning Token").input_value()
    assert scim_status(base, f"/scim/v2/{idp}/Users", old) == 200

    page.get_by_role("button", name="Generate new token").click()
    assert "Replace the active token?" in page.inner_text("main")
    assert scim_status(base, f"/scim/v2/{idp}/Users", old) == 200  # asking changes nothing
    page.get_by_role("button", name="Replace token").click()
    new = page.get_by_label("SCIM Provisioning Token").input_value()
    assert new != old
    assert scim_status(base, f"/scim/v2/{idp}/Users", old) == 401
    assert scim_status(base, f"/scim/v2/{idp}/Users", new) == 200


def test_a_forged_form_is_refused(console, store):
    page, base = console
    page.goto(f"{base}{IDPS}/new")
    page.get_by_label("Name").fill("Forged")
    page.evaluate("document.querySelector('main input[name=csrf_token]').value = 'forged'")
    page.get_by_role("button", name="Add identity provider").click()
    assert "The form has expired or did not come from this page" in page.inner_text("main")
    assert not store.records("idps")


def test_search_and_pagination(console, store):
    page, base = console
    alpha = create_idp(store, "Alpha", "okta")["id"]
    beta = create_idp(store, "Beta", "entra")["id"]
    seed(store, alpha, 70, "alpha")
    seed(store, beta, 50, "beta")
    page.goto(f"{base}/settings/provisioned-users")
    pages = page.get_by_role("navigation", name="Pages")
    assert "1–50 of 120 users" in pages.inner_text()
    pages.get_by_role("link", name="Next").click()
    assert "51–100 of 120 users" in pages.inner_text()
    assert page.get_by_role("rowheader").first.inner_text() == "alpha-050@example.com"

    page.get_by_label("Search").fill("family00")
    page.get_by_role("button", name="Apply").click()
    assert "1–20 of 20 users" in pages.inner_text()
    page.get_by_label("Identity provider").select_option(label="Beta")
    page.get_by_label("State").select_option(label="Inactive")
    page.get_by_role("button", name="Apply").click()
    names = page.get_by_role("rowheader").all_inner_texts()
    assert names == ["beta-000@example.com", "beta-004@example.com", "beta-008@example.com"]
    page.get_by_role("link", name="Clear").click()
    assert "1–50 of 120 users" in pages.inner_text()


def test_focusing_or_hovering_a_row_reveals_edit(console, store):
    page, base = console
    create_idp(store, "Okta", "okta")
    page.goto(base + IDPS)
    edit = page.get_by_role("link", name="Edit Okta")
    opacity = "e => getComputedStyle(e).opacity"
    assert edit.evaluate(opacity) == "0"
    page.get_by_role("link", name="Okta", exact=True).focus()
    for _ in range(6):  # Tab along the row (users, groups links) until Edit has the focus
        page.keyboard.press("Tab")
        if edit.evaluate("e => e === document.activeElement"):
            break
    assert edit.evaluate("e => e === document.activeElement")
    assert edit.evaluate(opacity) == "1"
    page.mouse.move(0, 0)
    page.get_by_role("row").filter(has_text="Okta").hover()
    assert edit.evaluate(opacity) == "1"


def test_phone_layout_has_no_sideways_scroll(console, store):
    page, base = console
    idp = create_idp(store, "JumpCloud with a long name", "jumpcloud")["id"]
    seed(store, idp, 5)
    page.set_viewport_size({"width": 375, "height": 740})
    for path in (IDPS, "/settings/provisioned-users", f"{IDPS}/{idp}/advanced", "/activity"):
        page.goto(base + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    page.goto(base + IDPS)
    assert page.get_by_role("link", name="Edit JumpCloud with a long name").is_visible()
