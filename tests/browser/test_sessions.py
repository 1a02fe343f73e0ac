"""Sessions end on the server, in a browser: a cookie copied before signing out opens nothing,
and changing the password signs out the admin's other browsers but not the one changing it."""

from __future__ import annotations

from tests.browser.conftest import sign_in
from tests.conftest import ADMIN_NAME, ADMIN_PASSWORD

IDPS = "/settings/identity-providers"
NEW_PASSWORD = "a brand new passphrase"


def signed_in_tab(browser, base: str):
    """A tab in a browser context of its own (another device), signed in as the admin."""
    tab = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    tab.set_default_timeout(15_000)
    sign_in(tab, base, ADMIN_NAME, ADMIN_PASSWORD)
    tab.wait_for_url("**" + IDPS)
    return tab


def test_signing_out_and_changing_the_password_end_sessions(browser, served, admin):
    laptop, phone, tablet = (signed_in_tab(browser, served) for _ in range(3))
    try:
        # A copy of the laptop's cookie, as malware or a shared machine might keep it.
        copied = laptop.context.storage_state()
        laptop.get_by_role("button", name="Sign out").click()
        laptop.wait_for_url("**/sign-in")
        thief = browser.new_context(storage_state=copied).new_page()
        thief.goto(served + IDPS)
        assert thief.url.startswith(served + "/sign-in?next=")
        assert thief.get_by_role("heading", name="Sign in").is_visible()
        thief.context.close()

        # The phone changes the password: it stays signed in, the tablet is signed out.
        phone.get_by_role("link", name="Change password").click()
        phone.get_by_label("Current password").fill(ADMIN_PASSWORD)
        phone.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        phone.get_by_label("New password again").fill(NEW_PASSWORD)
        phone.get_by_role("button", name="Change password").click()
        assert phone.get_by_role("status").inner_text() == (
            "Password changed. 1 other session signed out."
        )
        phone.goto(served + IDPS)
        assert phone.url == served + IDPS
        tablet.reload()
        assert tablet.url.startswith(served + "/sign-in")
        sign_in(tablet, served, ADMIN_NAME, ADMIN_PASSWORD)
        assert tablet.get_by_role("alert").inner_text() == "Wrong username or password."
    finally:
        for tab in (laptop, phone, tablet):
            tab.context.close()
