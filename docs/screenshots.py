"""Regenerate the console screenshots in docs/img/ (the README shows them).

    .venv/bin/python docs/screenshots.py

Needs Playwright (requirements-dev.txt) and Debian's Chromium at /usr/bin/chromium. Builds a
throwaway Roster in a temporary folder, provisions demo users and groups through SCIM exactly
as an IdP would (so the counts, the request log and its one failure are real), serves it with
waitress on a free loopback port and photographs the main pages at laptop and phone sizes. Last,
JumpCloud deactivates 12 of its users at once, through SCIM, so that the mass-deprovisioning
guard holds them: the held changes are photographed after every other page, which would
otherwise show the hold's banner too.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import storage  # noqa: E402
import tokens  # noqa: E402
from app import create_app  # noqa: E402
from console import admins  # noqa: E402
from lifecycle import holds  # noqa: E402
from providers import create_idp  # noqa: E402
from tokens import apikeys  # noqa: E402
from webhooks import endpoints  # noqa: E402

OUT = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ADMIN, PASSWORD = "ada", "correct horse battery staple"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
GIVEN = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Ken",
    "Radia",
    "Linus",
    "Frances",
    "Tim",
]
FAMILY = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Thompson",
    "Perlman",
    "Torvalds",
]
TEAMS = ["Engineering", "Design", "Sales", "Support", "Finance", "Security"]


def _scim(client, idp: str, token: str, method: str, path: str, body: dict | None = None):
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "JumpCloud-SCIM/2.0"}
    data = json.dumps(body) if body is not None else None
    return client.open(
        f"/scim/v2/{idp}{path}",
        method=method,
        data=data,
        headers=headers,
        content_type="application/scim+json",
    )


def seed(app) -> dict[str, tuple[str, str]]:
    """Create the admin, three IdPs, and users and groups pushed through SCIM; return each
    provisioning IdP's id and token by name."""
    store = storage.get_store(app)
    admins.create_admin(store, ADMIN, PASSWORD)
    client = app.test_client()
    live = {}
    for name, kind, count, domain in (
        ("JumpCloud", "jumpcloud", 48, "example.com"),
        ("Okta (contractors)", "okta", 9, "partners.example.com"),
    ):
        idp = create_idp(store, name, kind)["id"]
        token = tokens.issue(store, idp)
        live[name] = (idp, token)
        _scim(client, idp, token, "GET", "/Users?startIndex=1&count=1")  # Test Connection
        ids = []
        for i in range(count):
            given, family = GIVEN[i % len(GIVEN)], FAMILY[(i * 7) % len(FAMILY)]
            user = f"{given}.{family}{i}".lower() + f"@{domain}"
            body = {
                "schemas": [CORE_USER],
                "userName": user,
                "name": {"givenName": given, "familyName": family},
                "emails": [{"value": user, "type": "work", "primary": True}],
                "title": "Engineer" if i % 3 else "Manager",
                "active": i % 11 != 5,
            }
            ids.append(_scim(client, idp, token, "POST", "/Users", body).get_json()["id"])
        # What JumpCloud's activation does when its test user exists already: a 409.
        existing = {"schemas": [CORE_USER], "userName": f"ada.lovelace0@{domain}"}
        _scim(client, idp, token, "POST", "/Users", existing)
        for t, team in enumerate(TEAMS[: 3 if kind == "okta" else len(TEAMS)]):
            members = [{"value": v} for v in ids[t :: len(TEAMS)]]
            body = {"schemas": [CORE_GROUP], "displayName": team, "members": members}
            _scim(client, idp, token, "POST", "/Groups", body)
    create_idp(store, "Entra ID", "entra")
    # An application reading the API, and one hearing of changes (nothing is delivered here:
    # this server runs no delivery worker). An address, not a name: the URL is resolved when
    # added, and the machine making the screenshots may have no DNS.
    apikeys.issue(store, "HR portal")
    apikeys.issue(store, "Badge system")
    endpoints.add(
        store,
        "https://10.20.0.15/roster/events",
        allow_private=True,
        description="Badge system: revoke badges of deactivated users",
        types=["user.deactivated", "user.deleted"],
    )
    return live


def deprovision_in_bulk(app, idp: str, token: str, count: int = 12) -> str:
    """Have the IdP deactivate ``count`` of its users at once (its token from ``seed`` still
    works: the console kept it for 24 hours when it replaced it); the guard holds the changes
    from the 11th on (more than 10 users and more than 10 % of its active users). Return the
    hold's id."""
    store = storage.get_store(app)
    client = app.test_client()
    users = store.query("User", idp, sort_by="userName")[1]
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    for user in [u for u in users if u.get("active") is not False][:count]:
        _scim(client, idp, token, "PATCH", f"/Users/{user['id']}", patch)
    return holds.holds(store, open_only=True)[0]["id"]


def serve(app) -> tuple[str, object]:
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return f"http://127.0.0.1:{server.effective_port}", server


def shoot(base: str, held: Callable[[], str]) -> list[Path]:
    """Sign in and photograph the main pages (``held()`` makes the guard hold changes before
    the last ones); return the files written."""
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})

        def snap(name: str, full: bool = False) -> None:
            path = OUT / f"{name}.png"
            page.screenshot(path=str(path), full_page=full)
            written.append(path)

        page.goto(base + "/sign-in")
        snap("sign-in")
        page.get_by_label("Username").fill(ADMIN)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/settings/identity-providers")
        page.get_by_role("row").nth(1).hover()
        snap("identity-providers")
        page.get_by_role("link", name="Edit JumpCloud").click()
        page.get_by_role("link", name="Advanced Settings").click()
        page.get_by_text("User Auto-Provisioning (SCIM)").click()
        page.get_by_role("button", name="Generate new token").click()
        page.get_by_label("Keep it working for 24 hours").check()
        page.get_by_role("button", name="Replace token").click()
        snap("scim-token", full=True)
        page.goto(base + "/settings/provisioned-users")
        snap("provisioned-users")
        page.goto(base + "/settings/provisioned-users/groups")
        snap("user-groups")
        page.goto(base + "/settings/provisioned-users")
        page.get_by_role("link", name="grace.hopper").first.click()
        snap("user", full=True)
        page.goto(base + "/activity")
        snap("activity")
        page.goto(base + "/settings/api-keys")
        snap("api-keys")
        page.goto(base + "/settings/webhooks")
        snap("webhooks", full=True)
        page.goto(base + "/settings/held-changes/" + held())
        snap("held-changes", full=True)
        phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        phone.context.add_cookies(page.context.cookies())
        page = phone
        page.goto(base + "/settings/provisioned-users")
        snap("phone-provisioned-users")
        browser.close()
    return written


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"data_dir": folder, "secret_key": "screenshots"})
        live = seed(app)
        base, server = serve(app)
        try:
            for path in shoot(base, lambda: deprovision_in_bulk(app, *live["JumpCloud"])):
                print(path.relative_to(ROOT))
        finally:
            server.close()
            storage.close_store(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
