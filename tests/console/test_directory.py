"""Settings → Provisioned Users: the Users and User Groups tabs (search, IdP and active-state
filters, pages across IdPs) and the detail pages; ``console.listing`` and ``console.present``."""

from __future__ import annotations

import json
import re

import pytest

from console import listing, present
from scim.core.filter import Compare, Or, parse_filter
from tests.conftest import Tenant, patch_op
from tests.consoletools import seed, text

USERS = "/settings/provisioned-users"


def names_on(response) -> list[str]:
    """Return the userNames (or displayNames) of the rows of a list page, in order."""
    return re.findall(r'<th scope="row"[^>]*><a href="[^"]+">([^<]+)</a>', text(response))


@pytest.fixture
def two(client, store):
    """Two IdPs: "Alpha" with 70 users, "Beta" with 50, named so that Alpha lists first."""
    alpha, beta = Tenant(client, store, "Alpha"), Tenant(client, store, "Beta")
    seed(store, alpha.id, 70, "alpha")
    seed(store, beta.id, 50, "beta")
    return alpha, beta


def test_users_tab_shows_each_column(signed_in, scim):
    ann = scim.create_user(
        "ann@example.com",
        name={"givenName": "Ann", "familyName": "Lee"},
        emails=[{"value": "ann@mail.example", "primary": True}],
        active=False,
    )
    scim.create_group("Admins", (ann["id"],))
    body = text(signed_in.get(USERS))
    row = body[body.index("ann@example.com") :].split("</tr>")[0]
    for cell in ("Ann Lee", "ann@mail.example", "Inactive", "Primary IdP", "Admins", "just now"):
        assert cell in row


def test_pages_run_across_idps(signed_in, two):
    first = signed_in.get(USERS)
    assert "1–50 of 120 users" in text(first)
    assert names_on(first)[0] == "alpha-000@example.com"
    second = signed_in.get(USERS, query_string={"page": 2})
    assert "51–100 of 120 users" in text(second)
    names = names_on(second)
    assert names[0] == "alpha-050@example.com" and names[20] == "beta-000@example.com"
    third = names_on(signed_in.get(USERS, query_string={"page": 3}))
    assert len(third) == 20 and third[-1] == "beta-049@example.com"


def test_a_page_past_the_end_shows_the_last(signed_in, two):
    assert "101–120 of 120 users" in text(signed_in.get(USERS, query_string={"page": 99}))


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"q": "alpha-06"}, 10),  # userName
        ({"q": "BETA.01"}, 10),  # email, case-insensitive
        ({"q": "family00"}, 20),  # family name, both IdPs
        ({"active": "false"}, 31),  # every fourth user: 18 of 70 and 13 of 50
        ({"active": "true", "q": "alpha"}, 52),
        ({"q": 'a"b\\c) or (userName pr'}, 0),  # quotes stay text
    ],
)
def test_search_and_active_filter(signed_in, two, query, expected):
    response = signed_in.get(USERS, query_string=query)
    assert response.status_code == 200
    body = text(response)
    if expected:
        assert f"of {expected} users" in body
    else:
        assert "No users match this search." in body


def test_filter_by_idp(signed_in, two):
    alpha, beta = two
    response = signed_in.get(USERS, query_string={"idp": beta.id})
    assert "1–50 of 50 users" in text(response)
    assert all(name.startswith("beta") for name in names_on(response))


def test_pagination_links_keep_the_filters(signed_in, two):
    alpha, _ = two
    body = text(signed_in.get(USERS, query_string={"idp": alpha.id, "active": "true"}))
    assert f'href="{USERS}?active=true&amp;idp={alpha.id}&amp;page=2"' in body


def test_user_groups_tab(signed_in, scim, other):
    ann = scim.create_user("ann")
    scim.create_group("Engineering", (ann["id"],))
    other.create_group("Sales")
    response = signed_in.get(f"{USERS}/groups")
    assert names_on(response) == ["Sales", "Engineering"]  # IdPs by name: Other, Primary
    row = text(response)[text(response).index("Engineering") :].split("</tr>")[0]
    assert ">1<" in row and "Primary IdP" in row
    searched = signed_in.get(f"{USERS}/groups", query_string={"q": "sal", "idp": other.id})
    assert names_on(searched) == ["Sales"]


def test_user_page_shows_attributes_groups_and_raw_json(signed_in, scim):
    ann = scim.create_user(
        "ann", password="hunter2-hunter2", title="Engineer", emails=[{"value": "a@x.example"}]
    )
    group = scim.create_group("Team", (ann["id"],))
    body = text(signed_in.get(f"{USERS}/{scim.id}/users/{ann['id']}"))
    assert "title" in body and "Engineer" in body and "a@x.example" in body
    assert f"/groups/{group['id']}" in body
    raw = re.search(r'<pre class="code" id="raw-json"[^>]*>(.*?)</pre>', body, re.S).group(1)
    shown = json.loads(raw.replace("&#34;", '"').replace("&quot;", '"'))
    assert shown["id"] == ann["id"] and "_password" not in shown and "password" not in shown
    assert shown["meta"]["location"].endswith(f"/scim/v2/{scim.id}/Users/{ann['id']}")


def test_group_page_lists_members_a_page_at_a_time(signed_in, scim, store):
    seed(store, scim.id, 120)
    _, users = store.query("User", scim.id)
    group = scim.create_group("Everyone", tuple(u["id"] for u in users))
    path = f"{USERS}/{scim.id}/groups/{group['id']}"
    first = text(signed_in.get(path))
    assert "1–100 of 120 members" in first and "user-000@example.com" in first
    second = text(signed_in.get(path, query_string={"page": 2}))
    assert "101–120 of 120 members" in second and "user-119@example.com" in second


def test_unknown_user_is_a_404_page(signed_in, scim):
    response = signed_in.get(f"{USERS}/{scim.id}/users/nope")
    assert response.status_code == 404 and "There is no such user" in text(response)


def test_another_idps_user_is_not_found_under_this_idp(signed_in, scim, other):
    theirs = other.create_user("bob")
    assert signed_in.get(f"{USERS}/{scim.id}/users/{theirs['id']}").status_code == 404


# --- listing: plain functions ------------------------------------------------------------------


def test_search_filter_quotes_the_text():
    expr = listing.search_filter("Group", 'say "hi" \\ bye')
    assert isinstance(expr, Or)
    first = expr.left if isinstance(expr.left, Compare) else expr.left.left
    assert first.value == 'say "hi" \\ bye'


def test_search_filter_is_none_for_everything():
    assert listing.search_filter("User") is None
    assert listing.search_filter("User", "  ", "maybe") is None
    assert listing.search_filter("User", "", "false") == parse_filter("active eq false")


class CountingStore:
    """Wrap a store and record the arguments of every ``query``."""

    def __init__(self, store):
        self.store, self.queries = store, []

    def count(self, kind, idp):
        return self.store.count(kind, idp)

    def query(self, kind, idp, **kwargs):
        self.queries.append(kwargs)
        return self.store.query(kind, idp, **kwargs)


def test_a_page_copies_only_a_page(store, two):
    idps = sorted(store.records("idps"), key=lambda r: r["name"])
    spy = CountingStore(store)
    page = listing.page_of(spy, "User", idps, None, 2)
    assert [len(page.rows), page.total, page.first, page.last] == [50, 120, 51, 100]
    # Unfiltered: totals come from count(); only the IdPs on the page are queried, for a page.
    assert [q["count"] for q in spy.queries] == [50, 30]
    spy.queries.clear()
    listing.page_of(spy, "User", idps, listing.search_filter("User", "family"), 1)
    assert [q["count"] for q in spy.queries] == [50, 0]  # one scan per IdP, never unbounded


def test_page_number_is_forgiving():
    assert [listing.page_number(v) for v in (None, "", "x", "-3", "0", "7")] == [1, 1, 1, 1, 1, 7]


# --- present: plain functions ------------------------------------------------------------------


@pytest.mark.parametrize(
    "user, name",
    [
        ({"name": {"formatted": "Dr. Ann Lee"}}, "Dr. Ann Lee"),
        ({"name": {"givenName": "Ann", "familyName": "Lee"}}, "Ann Lee"),
        ({"displayName": "annie"}, "annie"),
        ({"name": "not an object"}, ""),
    ],
)
def test_full_name(user, name):
    assert present.full_name(user) == name


def test_primary_email_prefers_primary():
    emails = [{"value": "a@x"}, {"value": "b@x", "primary": True}]
    assert present.primary_email({"emails": emails}) == "b@x"
    assert present.primary_email({"emails": "junk"}) == ""


def test_attribute_rows_flatten_one_level():
    rows = dict(
        present.attribute_rows(
            {
                "userName": "ann",
                "_password": "hash",
                "name": {"givenName": "Ann"},
                "emails": [{"value": "a@x", "type": "work", "primary": True}],
                present.ENTERPRISE: {"department": "R&D"},
                "active": False,
            }
        )
    )
    assert rows == {
        "userName": "ann",
        "name.givenName": "Ann",
        "emails": "a@x (type: work, primary)",
        "enterprise.department": "R&D",
        "active": "false",
    }


def test_detail_pages_show_recent_change_events(signed_in, scim):
    ann = scim.create_user("ann@example.com", title="Eng")
    crew = scim.create_group("Crew", (ann["id"],))
    scim.patch(f"/Users/{ann['id']}", patch_op({"op": "replace", "path": "title", "value": "CTO"}))
    scim.patch(f"/Users/{ann['id']}", patch_op({"op": "replace", "path": "active", "value": False}))
    page = text(signed_in.get(f"{USERS}/{scim.id}/users/{ann['id']}"))
    changes = page[page.index("Recent changes") :]
    rows = re.findall(r'class="mono">([a-z_.]+)</th>.*?class="break">([^<]*)</td>', changes, re.S)
    assert rows == [
        ("user.deactivated", "active"),
        ("user.updated", "scim.title"),
        ("user.created", "—"),
    ]
    page = text(signed_in.get(f"{USERS}/{scim.id}/groups/{crew['id']}"))
    changes = page[page.index("Recent changes") :]
    assert "group.members_added" in changes and "1 member added" in changes
