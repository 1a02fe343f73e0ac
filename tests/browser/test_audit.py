"""The token path in a browser leaves its audit entries, and Settings → Audit log answers "who
generated this token, and when?"."""

from __future__ import annotations

import audit
from providers import create_idp
from tests.browser.conftest import sign_in
from tests.conftest import ADMIN_NAME, ADMIN_PASSWORD

IDPS = "/settings/identity-providers"


def test_who_generated_and_revoked_the_token(page, served, app, admin, store):
    idp = create_idp(store, "Okta", "okta")["id"]
    sign_in(page, served, ADMIN_NAME, ADMIN_PASSWORD)
    page.wait_for_url("**" + IDPS)
    page.goto(f"{served}{IDPS}/{idp}/advanced")
    page.get_by_text("User Auto-Provisioning (SCIM)").click()
    page.get_by_role("button", name="Generate new token").click()
    token = page.get_by_label("SCIM Provisioning Token").input_value()
    page.get_by_role("button", name="Revoke all tokens").click()
    assert "Token revoked." in page.inner_text("main")

    with app.app_context():
        _, entries = audit.entries(store)
    recorded = [(e["action"], e["actor"], e["object"], e["address"]) for e in reversed(entries)]
    assert recorded == [
        ("admin.sign_in", ADMIN_NAME, f"admin:{ADMIN_NAME}", "127.0.0.1"),
        ("token.generate", ADMIN_NAME, f"idp:{idp}", "127.0.0.1"),
        ("token.revoke", ADMIN_NAME, f"idp:{idp}", "127.0.0.1"),
    ]
    assert token not in str(entries)

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").select_option(label="Generated a SCIM token")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    row = rows.first.inner_text()
    assert ADMIN_NAME in row and f"idp:{idp}" in row and "Okta" in row and "success" in row
