"""``scim.core.projection.Shown``: whether a response carries a Group's members (RFC 7644 §3.9), and
whether it carries them as they are returned by default, so that a rendering made ahead
(``scim.rendered``) may stand for them."""

from __future__ import annotations

from itertools import product

import pytest

from scim.core.projection import Shown, project
from scim.core.schemas import GROUP_TYPE

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
BASE = "https://roster.example/scim/v2/idp"

RESOURCE = {
    "schemas": [GROUP],
    "id": "g1",
    "externalId": "ext-g1",
    "displayName": "Team",
    "members": [
        {"value": "u1", "type": "User", "display": "Ann", "$ref": f"{BASE}/Users/u1"},
        {"value": "g2", "type": "Group", "display": "Inner", "$ref": f"{BASE}/Groups/g2"},
    ],
    "meta": {"resourceType": "Group", "version": 'W/"1"'},
}


@pytest.mark.parametrize(
    "attributes, excluded, shown, whole",
    [
        (None, None, True, True),
        ("members", None, True, True),
        ("MEMBERS", None, True, True),  # RFC 7643 §2.1: names are case-insensitive
        (f"{GROUP}:members", None, True, True),
        ("displayName,members", None, True, True),
        (GROUP, None, True, True),  # the core schema's URN names its default attributes
        ("", None, True, True),  # an empty list is no list
        ("members.value", None, True, False),  # only the values
        ("members.value,members.type", None, True, False),
        (f"{GROUP}:members.display", None, True, False),
        ("displayName", None, False, False),
        ("id", None, False, False),
        ("unknown", None, False, False),
        (None, "members", False, False),
        (None, "Members", False, False),
        (None, GROUP, False, False),
        (None, "members.display", True, False),  # members without their display
        (None, "displayName", True, True),
        (None, "unknown", True, True),
        ("members", "members.display", True, False),
        ("members", "members", False, False),
        (GROUP, "members", False, False),
        (GROUP, "displayName", True, True),
    ],
)
def test_members_shown_and_whole(attributes, excluded, shown, whole):
    view = Shown(GROUP_TYPE, attributes, excluded)
    assert view("members") is shown
    assert view.whole("members") is whole


@pytest.mark.parametrize(
    "attributes, excluded, shown",
    [
        (None, None, True),
        ("members", None, False),
        ("displayName", None, True),
        ("DISPLAYNAME", None, True),
        (GROUP, None, True),
        (None, "displayName", False),
        ("members.value", "displayName", False),
    ],
)
def test_display_name_shown(attributes, excluded, shown):
    view = Shown(GROUP_TYPE, attributes, excluded)
    assert view("displayName") is shown
    assert view.whole("displayName") is shown  # a simple attribute is returned whole or not


def test_names_that_are_no_attribute_of_the_core_schema_are_not_shown():
    view = Shown(GROUP_TYPE)
    for name in ("userName", "nonsense", "members.value"):
        assert not view(name)
        assert not view.whole(name)


ATTRIBUTES = (
    None,
    "members",
    "Members",
    "members.value",
    "members.display",
    "members.value,members",
    "members.$ref",
    "displayName",
    "displayName,members",
    GROUP,
    f"{GROUP}:members",
    f"{GROUP}:members.value",
    "externalId",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "",
    "bogus",
)
EXCLUDED = (
    None,
    "members",
    "members.display",
    "members.value",
    "members.type",
    "displayName",
    GROUP,
    f"{GROUP}:members.type",
)


@pytest.mark.parametrize("attributes, excluded", list(product(ATTRIBUTES, EXCLUDED)))
def test_shown_agrees_with_project(attributes, excluded):
    """What ``Shown`` says agrees with what ``project`` does: an attribute the projection keeps
    is shown, and one shown whole is kept as it is kept by default.

    Not the converse for members: ``attributes=members.value&excludedAttributes=members.value``
    names them and leaves nothing of them; ``Shown`` still says shown, which costs the $refs
    of members that ``project`` then drops, never a wrong answer."""
    view = Shown(GROUP_TYPE, attributes, excluded)
    projected = project(RESOURCE, GROUP_TYPE, attributes, excluded)
    default = project(RESOURCE, GROUP_TYPE)
    assert view("displayName") is ("displayName" in projected)
    for name in ("displayName", "members"):
        if name in projected:
            assert view(name), name
        if view.whole(name):
            assert projected[name] == default[name], name
