"""Every console page passes axe-core's WCAG 2.1 A and AA rules, signed in and signed out, and
every focus ring stands out from what surrounds it.

axe-core is the npm package pinned in ``tests/browser/package.json`` (``npm ci`` in that folder
installs it; ``make test`` and ``.ci/run`` do). Without it these tests are skipped, saying
why; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import storage
from app import create_app
from console import setup_link
from providers import create_idp
from tests.browser.conftest import sign_in
from tests.conftest import ADMIN_NAME, ADMIN_PASSWORD, Tenant, backend_config

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
IDPS = "/settings/identity-providers"
USERS = "/settings/provisioned-users"
KEYS = "/settings/api-keys"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        missing = f"axe-core is not installed (cd tests/browser && npm ci): no {AXE}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the accessibility tests, but {missing}")
        pytest.skip(missing)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def app(request, backend, tmp_path):
    """The app with request bodies logged, so that Activity shows its Bodies sections too."""
    app = create_app({**backend_config(request, backend, tmp_path), "log_bodies": True})
    app.config["TESTING"] = True
    yield app
    storage.close_store(app)


@dataclass
class World:
    """A console with something on every page: two IdPs, users, a group, failed requests."""

    base: str
    app: object
    idp: str  # Okta, with an active token, two users, a group and a failed request
    fresh: str  # JumpCloud, no token yet
    user: str
    group: str


@pytest.fixture
def world(app, store, served) -> World:
    okta = Tenant(app.test_client(), store, "Okta", "okta")
    ann = okta.create_user("ann@example.com", name={"givenName": "Ann", "familyName": "Lee"})
    bob = okta.create_user("bob@example.com", active=False)
    group = okta.create_group("Engineering", (ann["id"], bob["id"]))
    okta.post("/Users", {"schemas": ann["schemas"], "userName": "ann@example.com"})  # 409
    okta.get("/Users", query_string={"filter": "userName eq"})  # 400 invalidFilter
    fresh = create_idp(store, "JumpCloud", "jumpcloud")["id"]
    return World(served, app, okta.id, fresh, ann["id"], group["id"])


# --- how each page is reached ---------------------------------------------------------------
# Each step takes the tab and the world and leaves the tab on the page to check.


def signed_in(path: str):
    def step(page, world: World) -> None:
        page.goto(world.base + path.format(w=world))

    return step


def submitted(path: str, button: str, **fields: str):
    """Open ``path``, fill the labelled fields, press ``button``: the answer is the page."""

    def step(page, world: World) -> None:
        page.goto(world.base + path.format(w=world))
        for label, value in fields.items():
            page.get_by_label(label.replace("_", " "), exact=True).fill(value)
        page.get_by_role("button", name=button, exact=True).click()
        page.wait_for_load_state()

    return step


def token_shown(page, world: World) -> None:
    submitted(f"{IDPS}/{{w.fresh}}/advanced?section=scim", "Generate new token")(page, world)
    assert page.get_by_label("SCIM Provisioning Token").input_value().startswith("roster_scim_")


def revoked_key(page, world: World) -> None:
    submitted(KEYS, "Create API key", Name="Old importer")(page, world)
    page.get_by_role("button", name="Revoke Old importer").click()
    page.wait_for_load_state()


def opened(path: str):
    """Open ``path`` with every collapsed section expanded, as a reader would."""

    def step(page, world: World) -> None:
        page.goto(world.base + path.format(w=world))
        page.locator("details").evaluate_all("all => all.forEach(d => { d.open = true; })")

    return step


def held(suffix: str = "", then: str | None = None):
    """Make Entra deactivate 12 of 12 users (the guard holds the last two), open its hold's
    page (``suffix`` after it), and press ``then`` if given."""

    def step(page, world: World) -> None:
        store = storage.get_store(world.app)
        entra = Tenant(world.app.test_client(), store, "Entra", "entra")
        off = {
            "schemas": [PATCH],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        }
        for n in range(12):
            user = entra.create_user(f"user{n}@entra.example")
            assert entra.patch(f"/Users/{user['id']}", off).status_code == 200
        (hold,) = store.records("holds")
        page.goto(f"{world.base}/settings/held-changes/{hold['id']}{suffix}")
        if then:
            page.get_by_role("button", name=then, exact=True).click()
            page.wait_for_load_state()

    return step


def on_phone(step):
    """Take ``step`` at a phone's width, where tables become stacks of cards."""

    def phone_step(page, world: World) -> None:
        page.set_viewport_size({"width": 375, "height": 740})
        step(page, world)

    return phone_step


SIGNED_IN = {
    "identity providers": signed_in(IDPS),
    "add identity provider": signed_in(IDPS + "/new"),
    "add identity provider, errors": submitted(IDPS + "/new", "Add identity provider"),
    "identity provider added": submitted(IDPS + "/new", "Add identity provider", Name="Ping"),
    "edit, general": signed_in(IDPS + "/{w.idp}/edit"),
    "edit, general, errors": submitted(IDPS + "/{w.idp}/edit", "Save", Name=""),
    "edit, advanced settings": signed_in(IDPS + "/{w.idp}/advanced"),
    "edit, advanced settings, scim open": signed_in(IDPS + "/{w.idp}/advanced?section=scim"),
    "edit, new token shown": token_shown,
    "edit, replace token?": submitted(
        IDPS + "/{w.idp}/advanced?section=scim", "Generate new token"
    ),
    "edit, token revoked": submitted(IDPS + "/{w.idp}/advanced?section=scim", "Revoke all tokens"),
    "edit, deprovisioning, errors": submitted(
        IDPS + "/{w.idp}/edit",
        "Save deprovisioning",
        Days_to_keep_a_deactivated_user_before_deleting_it="0",
    ),
    "delete identity provider?": signed_in(IDPS + "/{w.idp}/delete"),
    "provisioned users": signed_in(USERS),
    "provisioned users, nothing found": submitted(USERS, "Apply", Search="nobody"),
    "user groups": signed_in(USERS + "/groups"),
    "a user": signed_in(USERS + "/{w.idp}/users/{w.user}"),
    "a user, raw json open": opened(USERS + "/{w.idp}/users/{w.user}"),
    "a group": signed_in(USERS + "/{w.idp}/groups/{w.group}"),
    "a group, raw json open": opened(USERS + "/{w.idp}/groups/{w.group}"),
    "api keys": signed_in(KEYS),
    "api keys, errors": submitted(KEYS, "Create API key"),
    "api keys, new key shown": submitted(KEYS, "Create API key", Name="Billing"),
    "api keys, one revoked": revoked_key,
    "held changes, none": signed_in("/settings/held-changes"),
    "held changes, a hold and its banner": held(),
    "held changes, applied": held(then="Apply"),
    "held changes, discarded": held(then="Discard"),
    "phone: held changes": on_phone(held()),
    "activity": signed_in("/activity"),
    "activity, bodies open": opened("/activity"),
    "activity, only failures": signed_in("/activity?errors=1"),
    "error: no such page": signed_in("/no-such-page"),
    "error: no such identity provider": signed_in(IDPS + "/nope/edit"),
    "error: no such user": signed_in(USERS + "/{w.idp}/users/nope"),
    "phone: identity providers": on_phone(signed_in(IDPS)),
    "phone: provisioned users": on_phone(signed_in(USERS)),
    "phone: a group": on_phone(signed_in(USERS + "/{w.idp}/groups/{w.group}")),
    "phone: activity, bodies open": on_phone(opened("/activity")),
    "phone: api keys, new key shown": on_phone(submitted(KEYS, "Create API key", Name="Wiki")),
}


def setup_page(page, world: World) -> None:
    page.goto(world.base + "/setup/" + setup_link(world.app).rpartition("/setup/")[2])


def setup_errors(page, world: World) -> None:
    setup_page(page, world)
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_role("button", name="Create admin and sign in").click()
    page.wait_for_load_state()


def wrong_password(page, world: World) -> None:
    sign_in(page, world.base, ADMIN_NAME, "not the password")


SIGNED_OUT = {
    "sign-in": signed_in("/sign-in"),
    "sign-in, empty fields": submitted("/sign-in", "Sign in"),
    "sign-in, wrong password": wrong_password,
    "setup link": setup_page,
    "setup link, errors": setup_errors,
    "setup link, not valid": signed_in("/setup/not-a-link"),
    "error: no such page": signed_in("/no-such-page"),
    "phone: sign-in": on_phone(signed_in("/sign-in")),
}


# --- the checks -----------------------------------------------------------------------------


def axe_violations(page, source: str) -> list[str]:
    """Run axe-core's WCAG 2.1 A/AA rules on the tab's page; describe each failing element."""
    # page.evaluate hands the script to the browser over the DevTools protocol, which the
    # page's Content-Security-Policy does not govern: axe runs in the page exactly as served,
    # CSP in force. (add_script_tag would add an inline <script>, which the CSP rightly
    # refuses; bypass_csp on the context would check a page without its CSP.)
    page.evaluate(source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA
    )
    return [
        f"{rule['id']} ({rule['impact']}): {rule['help']}\n"
        f"    at {' '.join(node['target'])}: {node['failureSummary'].replace(chr(10), ' ')}"
        for rule in result["violations"]
        for node in rule["nodes"]
    ]


def assert_accessible(page, source: str) -> None:
    # A page with one heading is a page that rendered: axe finds nothing wrong with a blank one.
    assert page.locator("h1").count() == 1, page.url
    found = axe_violations(page, source)
    assert not found, f"{page.url}\n" + "\n".join(found)


@pytest.mark.parametrize("name", SIGNED_IN)
def test_signed_in_page_passes_axe(page, world, admin, axe_source, name):
    sign_in(page, world.base, ADMIN_NAME, ADMIN_PASSWORD)
    page.wait_for_url("**" + IDPS)
    SIGNED_IN[name](page, world)
    assert_accessible(page, axe_source)


@pytest.mark.parametrize("name", SIGNED_OUT)
def test_signed_out_page_passes_axe(page, world, store, axe_source, name):
    if name.startswith("sign-in"):
        from console.admins import create_admin

        create_admin(store, ADMIN_NAME, ADMIN_PASSWORD)  # else sign-in has nobody to refuse
    SIGNED_OUT[name](page, world)
    assert_accessible(page, axe_source)


# WCAG 2.1 §1.4.11 asks 3:1 of a focus indicator against what surrounds it, which axe-core does
# not check: tab through the page and measure each outline against the background behind it.
FOCUS_RING = """() => {
  const el = document.activeElement;
  if (el === document.body) return null;  // between the last element and the first
  window.ringsSeen = window.ringsSeen || new Set();
  const again = window.ringsSeen.has(el);
  window.ringsSeen.add(el);
  const style = getComputedStyle(el);
  let behind = el.parentElement;  // the outline is drawn outside the element, on its parent
  while (behind && /rgba\\(.*, 0\\)$/.test(getComputedStyle(behind).backgroundColor)) {
    behind = behind.parentElement;
  }
  return {
    again,
    element: el.outerHTML.slice(0, 80),
    style: style.outlineStyle,
    width: parseFloat(style.outlineWidth),
    color: style.outlineColor,
    background: behind ? getComputedStyle(behind).backgroundColor : "rgb(255, 255, 255)",
  };
}"""


def contrast(first: str, second: str) -> float:
    """Return the WCAG contrast ratio of two CSS ``rgb()``/``rgba()`` colours."""

    def luminance(css: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", css)[:3]]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def weak_focus_rings(page) -> list[str]:
    """Tab round the page once; describe each focus ring under 3:1 against its background."""
    weak, reached = [], 0
    for _ in range(200):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        if ring is None:
            continue
        if ring["again"]:
            break
        reached += 1
        ratio = contrast(ring["color"], ring["background"])
        if ring["style"] == "none" or ring["width"] < 2 or ratio < 3:
            weak.append(f"{ring['element']}: {ring['style']} {ring['width']}px, {ratio:.2f}:1")
    assert reached > 3, "tabbing reached almost nothing"
    return weak


def test_focus_rings_stand_out_signed_out(page, world):
    page.goto(world.base + "/sign-in")
    weak = weak_focus_rings(page)
    assert not weak, "\n".join(weak)


FOCUS_PAGES = ["identity providers", "edit, new token shown", "a user, raw json open"]


@pytest.mark.parametrize("name", [*FOCUS_PAGES, "activity, bodies open"])
def test_focus_rings_stand_out_signed_in(page, world, admin, name):
    sign_in(page, world.base, ADMIN_NAME, ADMIN_PASSWORD)
    page.wait_for_url("**" + IDPS)
    SIGNED_IN[name](page, world)
    weak = weak_focus_rings(page)
    assert not weak, "\n".join(weak)
