"""Settings → API Keys in a browser: create a key, copy it, read the application API with it,
revoke it; also on a phone without sideways scrolling."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.browser.conftest import sign_in
from tests.conftest import ADMIN_NAME, ADMIN_PASSWORD


def api_status(base: str, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    request = urllib.request.Request(base + "/api/v1/idps", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            assert "seq" in json.load(response)
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


@pytest.fixture
def console(page, served, admin):
    sign_in(page, served, ADMIN_NAME, ADMIN_PASSWORD)
    page.wait_for_url("**/settings/identity-providers")
    return page, served


def test_create_copy_use_and_revoke_a_key(console):
    page, base = console
    page.get_by_role("navigation", name="Console").get_by_role("link", name="API Keys").click()
    page.get_by_label("Name").fill("Billing")
    page.get_by_role("button", name="Create API key").click()
    assert "shown only this once" in page.inner_text("main")
    key = page.get_by_label("API key").input_value()
    assert key.startswith("roster_key_")

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == key
    assert api_status(base, key) == 200

    page.get_by_role("button", name="Revoke Billing").click()
    assert "Revoked the API key Billing." in page.inner_text("main")
    assert page.get_by_role("row").filter(has_text="Billing").get_by_text("Revoked").count() == 1
    assert api_status(base, key) == 401


def test_a_bad_name_is_said_beside_the_field(console):
    page, base = console
    page.goto(base + "/settings/api-keys")
    page.get_by_label("Name").fill("tab\there")
    page.get_by_role("button", name="Create API key").click()
    assert "A name cannot hold control characters." in page.inner_text("main")
    assert page.get_by_label("API key").count() == 0


def test_the_page_fits_a_phone(console):
    page, base = console
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(base + "/settings/api-keys")
    page.get_by_label("Name").fill("Wiki")
    page.get_by_role("button", name="Create API key").click()
    # The click returns before the next page has loaded: measure the page that shows the key.
    page.get_by_label("API key").wait_for()
    page.wait_for_load_state("load")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
