"""Hypothesis strategies for SCIM input, built from Roster's own schemas so that generated
input reaches deep code: attribute paths, filters (as trees and as text), PatchOp bodies,
attribute lists and resource bodies. Shared by the property tests and the HTTP fuzz suite."""

from __future__ import annotations

from hypothesis import strategies as st

from scim.core.filter import And, AttrPath, Compare, Not, Or, Present, ValuePath, to_string
from scim.core.schemas import GROUP_TYPE, USER_TYPE
from tests.security import CORE_GROUP, CORE_USER, ENTERPRISE, PATCH_OP

# --- vocabularies drawn from the schemas, so that generated input reaches deep code --------------


def _paths(rtype) -> list[str]:
    """Every attribute path of ``rtype``: plain, dotted and URN-qualified."""
    out = []
    for schema in (rtype.schema, *rtype.extensions):
        for attribute in (*rtype.common, *schema.attributes):
            out += [attribute.name, f"{schema.id}:{attribute.name}"]
            out += [f"{attribute.name}.{sub.name}" for sub in attribute.sub_attributes]
    return sorted(set(out))


USER_PATHS = _paths(USER_TYPE)
GROUP_PATHS = _paths(GROUP_TYPE)
URNS = [CORE_USER, ENTERPRISE, CORE_GROUP]
NAMES = sorted({p.split(":")[-1].split(".")[-1] for p in USER_PATHS + GROUP_PATHS})

SAMPLE_USER = {
    "schemas": [CORE_USER, ENTERPRISE],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "ext-1",
    "userName": "bjensen@example.com",
    "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. B Jensen"},
    "displayName": "Babs",
    "active": True,
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
    "addresses": [{"streetAddress": "100 Universal City Plaza", "type": "work"}],
    "roles": [{"value": "admin"}],
    "x509Certificates": [{"value": "MIIDQzCCAqy"}],
    "groups": [{"value": "e9e30dba", "display": "Tour Guides", "type": "direct"}],
    ENTERPRISE: {"department": "Tour Operations", "manager": {"value": "26118915"}},
    "meta": {
        "resourceType": "User",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": 'W/"3694e05e9dff590"',
    },
}
SAMPLE_GROUP = {
    "schemas": [CORE_GROUP],
    "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
    "displayName": "Tour Guides",
    "members": [{"value": "2819c223", "display": "Babs", "type": "User"}],
    "meta": {"resourceType": "Group", "version": 'W/"1"'},
}

# JSON values of every type, kept small; floats are finite, as the body parser ensures.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "True", "false", "work", "x@example.com", "2020-01-01T00:00:00Z"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


# --- filters -------------------------------------------------------------------------------------

_keywords = {"and", "or", "not"}
_word = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,7}", fullmatch=True).filter(
    lambda w: w.lower() not in _keywords
)
_attr = st.sampled_from([*NAMES, "$ref"]) | _word
attr_paths = st.builds(
    AttrPath, urn=st.none() | st.sampled_from(URNS), attr=_attr, sub=st.none() | _attr
) | st.builds(AttrPath, urn=st.sampled_from(URNS), attr=st.just(""))
values = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_characters="\x00"), max_size=16)  # NUL: invalidFilter
)
operators = st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
leaves = st.builds(Compare, attr_paths, operators, values) | st.builds(Present, attr_paths)


def _trees(base):
    return st.recursive(
        base,
        lambda c: st.builds(And, c, c) | st.builds(Or, c, c) | st.builds(Not, c),
        max_leaves=10,
    )


value_paths = st.builds(
    ValuePath,
    st.builds(AttrPath, urn=st.none() | st.sampled_from(URNS), attr=_attr),
    _trees(leaves),
)
filters = _trees(leaves | value_paths)

TOKENS = [
    "(", ")", "[", "]", "and", "or", "not", "AND", "Or", "pr", "eq", "ne", "co", "sw", "ew",
    "gt", "ge", "lt", "le", '"x"', '"', '"\\"', '"\\ud800"', '"\\u00e9"', "\\", "true",
    "False", "null", "1", "-1.5e3", "1e999", "9" * 50, "userName", "emails", "emails.value",
    "members.value", "meta.created", "meta.lastModified", '"2011-05-13T04:42:34Z"', "$ref",
    "name", "active", "x509Certificates", CORE_USER, f"{CORE_USER}:userName", f"{ENTERPRISE}:",
    f"{ENTERPRISE}:manager.value", "urn:", "urn:x:", ".value", "'", "\x00", "é", "\t", "",
]  # fmt: skip
token_soup = st.lists(st.sampled_from(TOKENS) | st.text(max_size=4), max_size=25)
filter_text = (
    st.text()
    | token_soup.map(" ".join)
    | token_soup.map("".join)
    | filters.map(to_string)
    | st.tuples(filters.map(to_string), st.integers(0, 200), st.text(max_size=3)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]  # a valid filter with a splice of junk
    )
)


# --- PATCH, projection, bodies -------------------------------------------------------------------

FILTERED = [
    'emails[type eq "work"]',
    'emails[type eq "work"].value',
    'emails[value eq "babs@jensen.org"]',
    "emails[primary eq true].display",
    'emails[not (type eq "work")].type',
    'addresses[type eq "work"].streetAddress',
    'members[value eq "2819c223"]',
    'members[value eq "nobody"].display',
    'phoneNumbers[type eq "mobile" and value eq "1"].value',
    "emails[",
    "emails[]",
    "emails[type eq]",
    'emails.value[type eq "x"]',
    "name[givenName pr]",
]
patch_paths = (
    st.none()
    | st.sampled_from(USER_PATHS + GROUP_PATHS + FILTERED + URNS + ["", "nope", "name.nope"])
    | st.text(max_size=12)
)
ops = st.sampled_from(["add", "remove", "replace", "Add", "REPLACE", "Remove"]) | json_values
operations = st.fixed_dictionaries(
    {"op": ops}, optional={"path": patch_paths, "value": json_values, "junk": json_values}
)
patch_bodies = st.fixed_dictionaries(
    {"Operations": st.lists(operations, max_size=6)},
    optional={"schemas": st.sampled_from([[PATCH_OP], [], ["urn:x"], "x"])},
)


projection_names = st.lists(
    st.sampled_from(USER_PATHS + URNS + [p.upper() for p in USER_PATHS[:20]]) | st.text(max_size=8),
    max_size=6,
)


body_keys = st.sampled_from(USER_PATHS + ["schemas", "password", "USERNAME", "Emails"]) | st.text(
    max_size=8
)
user_bodies = st.dictionaries(body_keys, json_values, max_size=8).flatmap(
    lambda body: st.sampled_from(
        [body, {**body, "schemas": [CORE_USER]}, {**body, "schemas": [ENTERPRISE, CORE_USER]}]
    )
)
