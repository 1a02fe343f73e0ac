"""The whole path as a new admin walks it, against a real ``python app.py`` under waitress:
setup link → first admin → add JumpCloud → Edit → Advanced Settings → User Auto-Provisioning
(SCIM) → Generate new token → provision over real HTTP with that endpoint and token → the
counts in Identity Providers → the users and groups in Provisioned Users."""

from __future__ import annotations

import re

from tests.live import LiveServer

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PASSWORD = "a long enough password"


def nav(page, name: str):
    """Return a link of the console's navigation (breadcrumbs repeat some of its names)."""
    return page.get_by_role("navigation", name="Console").get_by_role("link", name=name)


def provision(server: LiveServer, endpoint: str, token: str) -> None:
    """Do what JumpCloud does after Activate: users, then a group of two of them."""
    base = endpoint.removeprefix(server.url)
    status, _, listing = server.request("GET", base + "/Users?startIndex=1&count=1", token)
    assert status == 200 and listing["totalResults"] == 0  # Test Connection
    ids = []
    for name, active in (("ann", True), ("bob", True), ("cyd", False)):
        body = {
            "schemas": [CORE_USER],
            "userName": f"{name}@example.com",
            "name": {"givenName": name.title(), "familyName": "Example"},
            "emails": [{"value": f"{name}@example.com", "primary": True}],
            "active": active,
        }
        status, _, user = server.request("POST", base + "/Users", token, body)
        assert status == 201, user
        ids.append(user["id"])
    group = {
        "schemas": [CORE_GROUP],
        "displayName": "Engineering",
        "members": [{"value": ids[0]}, {"value": ids[1]}],
    }
    status, _, created = server.request("POST", base + "/Groups", token, group)
    assert status == 201, created


def test_a_new_admin_walks_the_whole_path(page, tmp_path):
    with LiveServer(tmp_path / "data") as server:
        printed = "".join(server.output)
        link = re.search(r"(http://\S+/setup/\S+)", printed).group(1)

        # The one-time setup link creates the first admin and signs them in.
        page.goto(link)
        page.get_by_label("Username").fill("grace")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password again").fill(PASSWORD)
        page.get_by_role("button", name="Create admin and sign in").click()
        page.wait_for_url("**/settings/identity-providers")
        assert "Welcome, grace" in page.inner_text("main")

        # Settings → Identity Providers → Add identity provider.
        page.get_by_role("link", name="Add identity provider").first.click()
        page.get_by_label("Name").fill("JumpCloud")
        page.get_by_label("Kind").select_option(label="JumpCloud")
        page.get_by_role("button", name="Add identity provider").click()

        # Back to the table; hovering the row reveals Edit.
        nav(page, "Identity Providers").click()
        row = page.get_by_role("row").filter(has_text="JumpCloud")
        row.hover()
        row.get_by_role("link", name="Edit JumpCloud").click()

        # Edit → Advanced Settings → User Auto-Provisioning (SCIM) → Generate new token.
        page.get_by_role("link", name="Advanced Settings").click()
        page.get_by_text("User Auto-Provisioning (SCIM)").click()
        page.get_by_role("button", name="Generate new token").click()
        assert "shown only this once" in page.inner_text("main")
        endpoint = page.get_by_label("SCIM Service Provider Endpoint").input_value()
        token = page.get_by_label("SCIM Provisioning Token").input_value()
        assert endpoint.startswith(server.url + "/scim/v2/")
        assert token.startswith("roster_scim_")

        # The Copy button puts the token on the clipboard.
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.get_by_role("button", name="Copy").nth(1).click()
        assert page.evaluate("navigator.clipboard.readText()") == token

        provision(server, endpoint, token)

        # The counts in the Identity Providers table.
        nav(page, "Identity Providers").click()
        row = page.get_by_role("row").filter(has_text="JumpCloud")
        cells = row.get_by_role("cell")
        # The name is the row's header; the cells are kind, provisioning, users, groups, last.
        assert cells.nth(1).inner_text() == "Active"
        assert cells.nth(2).inner_text() == "3"
        assert cells.nth(3).inner_text() == "1"
        assert cells.nth(4).inner_text().startswith("just now")

        # Settings → Provisioned Users: the Users tab, then the User Groups tab.
        nav(page, "Provisioned Users").click()
        users = page.locator("tbody").inner_text()
        for name in ("ann@example.com", "bob@example.com", "cyd@example.com"):
            assert name in users
        assert "Inactive" in users and "Engineering" in users
        page.get_by_role("link", name="User Groups").click()
        group_row = page.get_by_role("row").filter(has_text="Engineering")
        assert group_row.get_by_role("cell").nth(0).inner_text() == "2"  # members
        group_row.get_by_role("link", name="Engineering").click()
        assert "ann@example.com" in page.inner_text("main")
