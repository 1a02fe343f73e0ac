"""Unit tests for scim.core.projection: attributes/excludedAttributes and sortBy."""

import copy

import pytest

from scim.core.attributes import CORE_USER, ENTERPRISE_USER
from scim.core.errors import InvalidValue
from scim.core.projection import project, sort_key, sort_resources, split_attribute_list
from tests.core.user_type import USER

META = {
    "resourceType": "User",
    "created": "2010-01-23T04:56:22Z",
    "lastModified": "2011-05-13T04:42:34Z",
    "version": 'W/"a330bc54f0671c9"',
}
WORK = {"value": "bjensen@example.com", "type": "work", "primary": True}
HOME = {"value": "babs@jensen.org", "type": "home"}
BJENSEN = {
    "schemas": [CORE_USER, ENTERPRISE_USER],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "bjensen",
    "userName": "bjensen@example.com",
    "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"},
    "emails": [WORK, HOME],
    "active": True,
    "nickName": "Babs",
    "password": "t1meMa$heen",
    "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJ"}],
    "meta": META,
    ENTERPRISE_USER: {
        "employeeNumber": "701984",
        "costCenter": "4130",
        "manager": {"value": "26118915", "displayName": "John Smith"},
    },
}
ALWAYS = {"schemas": [CORE_USER, ENTERPRISE_USER], "id": "2819c223-7f76-453a-919d-413861904646"}
# The default view: no "never" (password) and no "request" (nickName, middleName, costCenter).
DEFAULT = {
    **ALWAYS,
    "externalId": "bjensen",
    "userName": "bjensen@example.com",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "emails": [WORK, HOME],
    "active": True,
    "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJ"}],
    "meta": META,
    ENTERPRISE_USER: {
        "employeeNumber": "701984",
        "manager": {"value": "26118915", "displayName": "John Smith"},
    },
}


def without(data, *keys):
    return {k: v for k, v in data.items() if k not in keys}


# --- split_attribute_list --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (" , ,", None),
        ([], None),
        ("userName", ["userName"]),
        ("userName, name.givenName ,,emails", ["userName", "name.givenName", "emails"]),
        (["userName,title", " emails "], ["userName", "title", "emails"]),
        (f"{ENTERPRISE_USER}:manager", [f"{ENTERPRISE_USER}:manager"]),
    ],
)
def test_split_attribute_list(value, expected):
    assert split_attribute_list(value) == expected


# --- project ---------------------------------------------------------------------------------


def test_default_view_drops_never_and_request():
    assert project(BJENSEN, USER) == DEFAULT


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (["userName"], {**ALWAYS, "userName": "bjensen@example.com"}),
        (["USERNAME"], {**ALWAYS, "userName": "bjensen@example.com"}),
        ([f"{CORE_USER}:userName"], {**ALWAYS, "userName": "bjensen@example.com"}),
        (["id"], ALWAYS),
        (["password"], ALWAYS),
        (["nope", "name.nope", "urn:example:Nope:x", "1bad", "a.b.c"], ALWAYS),
        (["name.givenName"], {**ALWAYS, "name": {"givenName": "Barbara"}}),
        (["Name.GivenName"], {**ALWAYS, "name": {"givenName": "Barbara"}}),
        # A complex attribute named whole brings its default sub-attributes only.
        (["name"], {**ALWAYS, "name": {"givenName": "Barbara", "familyName": "Jensen"}}),
        (["name.middleName"], {**ALWAYS, "name": {"middleName": "Jane"}}),
        (["nickName"], {**ALWAYS, "nickName": "Babs"}),
        (["emails"], {**ALWAYS, "emails": [WORK, HOME]}),
        (
            ["emails.value"],
            {**ALWAYS, "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]},
        ),
        (["emails.primary"], {**ALWAYS, "emails": [{"primary": True}]}),
        (["meta.lastModified"], {**ALWAYS, "meta": {"lastModified": "2011-05-13T04:42:34Z"}}),
        (["userName,active"], {**ALWAYS, "userName": "bjensen@example.com", "active": True}),
        # Extensions: the bare URN is the whole (default) extension.
        ([ENTERPRISE_USER], {**ALWAYS, ENTERPRISE_USER: DEFAULT[ENTERPRISE_USER]}),
        ([ENTERPRISE_USER.lower()], {**ALWAYS, ENTERPRISE_USER: DEFAULT[ENTERPRISE_USER]}),
        (["employeeNumber"], {**ALWAYS, ENTERPRISE_USER: {"employeeNumber": "701984"}}),
        ([f"{ENTERPRISE_USER}:costCenter"], {**ALWAYS, ENTERPRISE_USER: {"costCenter": "4130"}}),
        (
            [f"{ENTERPRISE_USER}:manager.displayName"],
            {**ALWAYS, ENTERPRISE_USER: {"manager": {"displayName": "John Smith"}}},
        ),
        ([CORE_USER], without(DEFAULT, ENTERPRISE_USER)),
    ],
)
def test_attributes(attributes, expected):
    assert project(BJENSEN, USER, attributes=attributes) == expected


@pytest.mark.parametrize(
    ("excluded", "expected"),
    [
        (["emails"], without(DEFAULT, "emails")),
        (["EMAILS", "meta"], without(DEFAULT, "emails", "meta")),
        (["id", "schemas"], DEFAULT),  # "always" stays; schemas is no attribute
        (["unknown", "a.b.c", "name.unknown"], DEFAULT),
        (["name.familyName"], {**DEFAULT, "name": {"givenName": "Barbara"}}),
        (["name.givenName", "name.familyName"], without(DEFAULT, "name")),
        (
            ["emails.type", "emails.primary"],
            {**DEFAULT, "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]},
        ),
        ([ENTERPRISE_USER], without(DEFAULT, ENTERPRISE_USER)),
        # An extension left empty is omitted.
        (["employeeNumber", f"{ENTERPRISE_USER}:manager"], without(DEFAULT, ENTERPRISE_USER)),
        (
            [f"{ENTERPRISE_USER}:manager.value"],
            {
                **DEFAULT,
                ENTERPRISE_USER: {
                    "employeeNumber": "701984",
                    "manager": {"displayName": "John Smith"},
                },
            },
        ),
    ],
)
def test_excluded_attributes(excluded, expected):
    assert project(BJENSEN, USER, excluded=excluded) == expected


def test_attributes_and_excluded_together():
    projected = project(BJENSEN, USER, attributes=["emails", "userName"], excluded=["emails.type"])
    assert projected == {
        **ALWAYS,
        "userName": "bjensen@example.com",
        "emails": [
            {"value": "bjensen@example.com", "primary": True},
            {"value": "babs@jensen.org"},
        ],
    }


def test_project_copies_and_never_mutates():
    before = copy.deepcopy(BJENSEN)
    projected = project(BJENSEN, USER, excluded=["emails.type"])
    projected["emails"][0]["value"] = "changed"
    projected["meta"]["version"] = "changed"
    projected["schemas"].append("changed")
    assert before == BJENSEN


def test_project_drops_keys_outside_the_schema():
    stored = {"schemas": [CORE_USER], "id": "1", "userName": "u", "_tenant": "acme", "bogus": 1}
    assert project(stored, USER) == {"schemas": [CORE_USER], "id": "1", "userName": "u"}


def test_project_sparse_resource():
    stored = {"schemas": [CORE_USER], "id": "1", "userName": "u", "name": {"middleName": "M"}}
    assert project(stored, USER) == {"schemas": [CORE_USER], "id": "1", "userName": "u"}
    assert project(stored, USER, attributes=[ENTERPRISE_USER]) == {
        "schemas": [CORE_USER],
        "id": "1",
    }


# --- sorting ---------------------------------------------------------------------------------


def user(id_, created=None, **attributes):
    meta = {"meta": {"created": created}} if created else {}
    return {"schemas": [CORE_USER], "id": id_, **attributes, **meta}


USERS = [
    user("1", userName="bob", externalId="b", loginCount=10, created="2020-01-02T00:00:00Z"),
    user("2", userName="Alice", externalId="B", loginCount=9, created="2020-01-01T23:00:00-02:00"),
    user("3", externalId="a"),
    user("4", userName="carol", loginCount=100, created="2020-01-01T12:00:00Z"),
    user("5", userName="alice", externalId="A"),
    user("6", name={"familyName": "Zed"}),
]


def ids(resources):
    return [r["id"] for r in resources]


@pytest.mark.parametrize(
    ("sort_by", "descending", "expected"),
    [
        (None, False, ["1", "2", "3", "4", "5", "6"]),
        (None, True, ["1", "2", "3", "4", "5", "6"]),
        # Case-insensitive, stable among equals, missing last when ascending...
        ("userName", False, ["2", "5", "1", "4", "3", "6"]),
        # ...and first when descending (RFC 7644 §3.4.2.3), still stable.
        ("userName", True, ["3", "6", "4", "1", "2", "5"]),
        ("USERNAME", False, ["2", "5", "1", "4", "3", "6"]),
        (f"{CORE_USER}:userName", False, ["2", "5", "1", "4", "3", "6"]),
        # externalId is caseExact: upper case sorts before lower case.
        ("externalId", False, ["5", "2", "3", "1", "4", "6"]),
        ("loginCount", False, ["2", "1", "4", "3", "5", "6"]),
        ("loginCount", True, ["3", "5", "6", "4", "1", "2"]),
        # dateTime sorts chronologically: 2020-01-01T23:00-02:00 is 2020-01-02T01:00Z.
        ("meta.created", False, ["4", "1", "2", "3", "5", "6"]),
        ("name.familyName", False, ["6", "1", "2", "3", "4", "5"]),
    ],
)
def test_sort_resources(sort_by, descending, expected):
    assert ids(sort_resources(USERS, USER, sort_by, descending)) == expected


def test_sort_resources_returns_a_new_list():
    ordered = sort_resources(USERS, USER, "userName", False)
    assert ordered is not USERS
    assert ids(USERS) == ["1", "2", "3", "4", "5", "6"]


def test_sort_key_works_with_sorted():
    ordered = sorted(USERS, key=sort_key(USER, "userName"))
    assert ids(ordered) == ["2", "5", "1", "4", "3", "6"]


@pytest.mark.parametrize(
    ("resources", "sort_by", "expected"),
    [
        # Multi-valued: the primary value if any, else the first one.
        (
            [
                user("1", emails=[{"value": "z@x"}, {"value": "a@x", "primary": True}]),
                user("2", emails=[{"value": "m@x"}, {"value": "b@x"}]),
                user("3", emails=[]),
                user("4", emails=[{"value": "c@x", "primary": "True"}]),
            ],
            "emails",
            ["1", "4", "2", "3"],
        ),
        (
            [
                user("1", emails=[{"value": "a@x", "type": "work", "primary": True}]),
                user("2", emails=[{"value": "b@x", "type": "home"}]),
                user("3", emails=[{"value": "c@x"}]),
            ],
            "emails.type",
            ["2", "1", "3"],
        ),
        (
            [
                {"id": "1", ENTERPRISE_USER: {"employeeNumber": "20"}},
                {"id": "2"},
                {"id": "3", ENTERPRISE_USER: {"employeeNumber": "100"}},
            ],
            f"{ENTERPRISE_USER}:employeeNumber",
            ["3", "1", "2"],  # a string attribute sorts as text
        ),
        (
            [
                {"id": "1", "active": True},
                {"id": "2", "active": False},
                {"id": "3", "active": "False"},
            ],
            "active",
            ["2", "3", "1"],
        ),
    ],
)
def test_sort_by_value_kinds(resources, sort_by, expected):
    assert ids(sort_resources(resources, USER, sort_by, False)) == expected


@pytest.mark.parametrize(
    ("sort_by", "detail"),
    [
        ("", "not an attribute path"),
        ("1userName", "not an attribute path"),
        ("name.givenName.x", "not an attribute path"),
        ("nickname2", "names no attribute"),
        ("name.nope", "names no attribute"),
        (ENTERPRISE_USER, "names no attribute"),
        ("name", "complex"),
        (f"{ENTERPRISE_USER}:manager", "complex"),
    ],
)
def test_sort_key_rejects(sort_by, detail):
    with pytest.raises(InvalidValue, match=detail):
        sort_key(USER, sort_by)
