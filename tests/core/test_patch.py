"""The PATCH engine (RFC 7644 §3.5.2) over small User-like and Group-like resource types."""

import copy
import json
from pathlib import Path

import pytest

from scim.core.attributes import Attribute, ResourceType, Schema
from scim.core.errors import InvalidPath, InvalidValue, Mutability, NoTarget
from scim.core.patch import apply_patch
from tests.core.user_type import COMMON, USER

SAMPLES = Path(__file__).parents[1] / "samples"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
NAME = {"givenName": "Barbara", "familyName": "Jensen"}
MEMBERS = Attribute(
    "members",
    "complex",
    multi_valued=True,
    sub_attributes=(
        Attribute("value", mutability="immutable", case_exact=True),
        Attribute("$ref", "reference", mutability="readOnly"),
        Attribute("display"),
        Attribute("type"),
    ),
)
GROUP = ResourceType(
    "Group",
    "/Groups",
    "Group",
    Schema(
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "Group",
        "",
        (Attribute("displayName", required=True), MEMBERS),
    ),
    common=COMMON,
)
# A resource type with a top-level immutable attribute, for RFC 7644 §3.5.2's "add" exception.
BADGE = ResourceType(
    "Badge",
    "/Badges",
    "Badge",
    Schema("urn:example:Badge", "Badge", "", (Attribute("serial", mutability="immutable"),)),
)


@pytest.fixture
def user() -> dict:
    return {
        "schemas": [CORE],
        "id": "u1",
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"},
        "userName": "bjensen",
        "displayName": "Babs",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": True,
        "emails": [
            {"value": "b@work.example", "type": "work", "primary": True},
            {"value": "b@home.example", "type": "home"},
        ],
        "groups": [{"value": "g1", "display": "Staff"}],
    }


@pytest.fixture
def group() -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "meta": {"resourceType": "Group"},
        "displayName": "Staff",
        "members": [{"value": "u1", "display": "Babs"}, {"value": "u2"}],
    }


def patch(resource: dict, rtype: ResourceType = USER, **op) -> dict:
    """Apply one operation, the way the view hands it over."""
    return apply_patch(resource, [op], rtype)


def sample(name: str) -> list[dict]:
    """Load a sample's operations, lower-casing ``op`` as the caller does."""
    body = json.loads((SAMPLES / name).read_text())
    return [{**o, "op": o["op"].lower()} for o in body["Operations"]]


# --- §3.5.2.1 add ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"title": "Boss"}, {"title": "Boss"}),
        ({"TITLE": "Boss"}, {"title": "Boss"}),
        ({"name.givenName": "Bee"}, {"name": {**NAME, "givenName": "Bee"}}),
        ({"name": {"formatted": "B J"}}, {"name": {**NAME, "formatted": "B J"}}),
        ({f"{ENTERPRISE}:employeeNumber": "7"}, {ENTERPRISE: {"employeeNumber": "7"}}),
        ({f"{ENTERPRISE.upper()}:Manager.Value": "m"}, {ENTERPRISE: {"manager": {"value": "m"}}}),
        ({ENTERPRISE: {"department": "R&D"}}, {ENTERPRISE: {"department": "R&D"}}),
        ({f"{CORE}:displayName": "B"}, {"displayName": "B"}),
        ({CORE: {"displayName": "B"}}, {"displayName": "B"}),
    ],
)
def test_add_without_path_merges_each_key(user, value, expected):
    result = patch(user, op="add", value=value)
    assert {k: result[k] for k in expected} == expected


def test_add_without_path_appends_to_multi_valued(user):
    result = patch(
        user, op="add", value={"phoneNumbers": [{"value": "555"}], "emails": {"value": "x@e"}}
    )
    assert result["phoneNumbers"] == [{"value": "555"}]
    assert [e["value"] for e in result["emails"]] == ["b@work.example", "b@home.example", "x@e"]


def test_add_without_path_ignores_unknown_keys(user):
    value = {
        "favoriteColor": "B",  # no attribute of the type
        "urn:example:unknown:Schema": {"x": 1},
        "title": "T",
        "name": {"x": 1},
    }
    result = patch(user, op="add", value=value)
    assert result == {**user, "title": "T"}


@pytest.mark.parametrize(
    ("path", "value", "key", "expected"),
    [
        ("displayName", "New", "displayName", "New"),
        ("name", {"givenName": "Bee"}, "name", {"givenName": "Bee", "familyName": "Jensen"}),
        ("name.familyName", "J", "name", {"givenName": "Barbara", "familyName": "J"}),
        ("NAME.GIVENNAME", "Bee", "name", {"givenName": "Bee", "familyName": "Jensen"}),
    ],
)
def test_add_with_path_replaces_single_and_merges_complex(user, path, value, key, expected):
    assert patch(user, op="add", path=path, value=value)[key] == expected


@pytest.mark.parametrize("value", [{"value": "u3"}, [{"value": "u3"}]])
def test_add_member_appends_object_or_list(group, value):
    result = patch(group, GROUP, op="add", path="members", value=value)
    assert [m["value"] for m in result["members"]] == ["u1", "u2", "u3"]


def test_add_existing_member_is_idempotent(group):
    # Entra and JumpCloud repeat adds for members the group already has.
    ops = [{"op": "add", "path": "members", "value": [{"value": "u1", "display": "Other"}]}] * 2
    assert apply_patch(group, ops, GROUP)["members"] == group["members"]


def test_add_equal_email_is_not_duplicated(user):
    value = {"value": "b@home.example", "type": "home"}
    assert patch(user, op="add", path="emails", value=value)["emails"] == user["emails"]


@pytest.mark.parametrize("op", ["add", "replace"])
def test_primary_true_clears_other_primaries(user, op):
    # RFC 7643 §2.4: "primary" true appears at most once.
    if op == "add":
        result = patch(user, op="add", path="emails", value={"value": "n@e", "primary": True})
    else:
        result = patch(user, op="replace", path='emails[type eq "home"].primary', value="True")
    primaries = [e["value"] for e in result["emails"] if e.get("primary") in (True, "True")]
    assert len(primaries) == 1 and primaries[0] != "b@work.example"
    assert result["emails"][0]["primary"] is False


@pytest.mark.parametrize("op", ["add", "replace"])
def test_filter_with_sub_sets_matching_elements(user, op):
    result = patch(user, op=op, path='emails[type eq "work"].value', value="new@work")
    assert result["emails"][0] == {"value": "new@work", "type": "work", "primary": True}
    assert result["emails"][1] == user["emails"][1]


@pytest.mark.parametrize("op", ["add", "replace"])
def test_filter_with_sub_and_no_match_creates_element(user, op):
    # Entra sends emails[type eq "work"].value to users without a work email.
    del user["emails"]
    result = patch(user, op=op, path='addresses[type eq "work"].streetAddress', value="1 Main")
    assert result["addresses"] == [{"type": "work", "streetAddress": "1 Main"}]
    result = patch(
        user, op=op, path='emails[type eq "work" and primary eq true].value', value="w@e"
    )
    assert result["emails"] == [{"type": "work", "primary": True, "value": "w@e"}]


def test_add_with_filter_and_no_match_creates_element_from_value(user):
    result = patch(user, op="add", path='phoneNumbers[type eq "mobile"]', value={"value": "555"})
    assert result["phoneNumbers"] == [{"type": "mobile", "value": "555"}]


def test_filter_that_pins_nothing_down_is_no_target(user):
    with pytest.raises(NoTarget):
        patch(user, op="add", path='emails[type ne "work" and type ne "home"].value', value="x")


# --- §3.5.2.3 replace -----------------------------------------------------------------------


def test_replace_without_path_keeps_unspecified_sub_attributes(user):
    result = patch(
        user, op="replace", value={"name": {"givenName": "Bee"}, "emails": [{"value": "o@e"}]}
    )
    assert result["name"] == {"givenName": "Bee", "familyName": "Jensen"}
    assert result["emails"] == [{"value": "o@e"}]


def test_replace_multi_valued_path_replaces_all_values(group):
    result = patch(group, GROUP, op="replace", path="members", value=[{"value": "u9"}])
    assert result["members"] == [{"value": "u9"}]


def test_replace_absent_attribute_is_an_add(user):
    # §3.5.2.3: "If the target location path specifies an attribute that does not exist, the
    # service provider SHALL treat the operation as an "add"."
    result = patch(user, op="replace", path=f"{ENTERPRISE}:department", value="Ops")
    assert result[ENTERPRISE] == {"department": "Ops"}


def test_replace_with_filter_merges_matching_elements(user):
    result = patch(user, op="replace", path='emails[type eq "home"]', value={"value": "h@e"})
    assert result["emails"][1] == {"value": "h@e", "type": "home"}
    assert result["emails"][0] == user["emails"][0]


def test_replace_with_filter_and_no_match_is_no_target(user):
    with pytest.raises(NoTarget):
        patch(user, op="replace", path='emails[type eq "other"]', value={"value": "x@e"})


def test_password_is_writable(user):
    assert patch(user, op="replace", path="password", value="s3cret")["password"] == "s3cret"


# --- §3.5.2.2 remove ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key", "expected"),
    [
        ("displayName", "displayName", None),
        ("name", "name", None),
        ("emails", "emails", None),
        ('emails[type eq "work"]', "emails", [{"value": "b@home.example", "type": "home"}]),
        ("name.givenName", "name", {"familyName": "Jensen"}),
    ],
)
def test_remove(user, path, key, expected):
    assert patch(user, op="remove", path=path).get(key) == expected


def test_removing_last_sub_attribute_unassigns_complex(user):
    user["name"] = {"givenName": "Barbara"}
    assert "name" not in patch(user, op="remove", path="name.givenName")


def test_remove_sub_attribute_of_filtered_elements(user):
    result = patch(user, op="remove", path="emails[primary eq true].primary")
    assert result["emails"][0] == {"value": "b@work.example", "type": "work"}


def test_remove_last_element_unassigns_attribute(group):
    result = patch(group, GROUP, op="remove", path='members[value eq "u1" or value eq "u2"]')
    assert "members" not in result


def test_remove_absent_member_is_idempotent(group):
    # Okta and JumpCloud repeat removals.
    result = patch(group, GROUP, op="remove", path='members[value eq "nobody"]')
    assert result == group
    result = patch(group, GROUP, op="remove", path="members", value=[{"value": "nobody"}])
    assert result == group


def test_remove_members_with_value_list_removes_only_those(group):
    result = patch(group, GROUP, op="remove", path="members", value=[{"value": "u2"}])
    assert result["members"] == [{"value": "u1", "display": "Babs"}]


def test_remove_without_path_is_no_target(user):
    with pytest.raises(NoTarget):
        patch(user, op="remove", path=None)


@pytest.mark.parametrize(
    ("op", "path", "value"),
    [
        ("remove", "userName", None),
        ("replace", "USERNAME", None),
        ("add", None, {"userName": None}),
    ],
)
def test_removing_required_attribute_is_mutability(user, op, path, value):
    # §3.5.2.2: a required attribute that "is removed or becomes unassigned" → mutability.
    with pytest.raises(Mutability):
        patch(user, op=op, path=path, value=value)


def test_unassigning_required_group_name_is_mutability(group):
    with pytest.raises(Mutability):
        patch(group, GROUP, op="replace", value={"displayName": None})


@pytest.mark.parametrize("op", ["add", "replace"])
def test_null_value_unassigns(user, op):
    # RFC 7643 §2.5: null is "unassigned".
    assert "title" not in patch({**user, "title": "T"}, op=op, path="title", value=None)
    assert "displayName" not in patch(user, op=op, value={"displayName": None})
    assert patch(user, op=op, value={"name": {"givenName": None}})["name"] == {
        "familyName": "Jensen"
    }


# --- mutability (RFC 7643 §2.2, RFC 7644 §3.5.2) --------------------------------------------


@pytest.mark.parametrize("op", ["add", "replace", "remove"])
@pytest.mark.parametrize(
    "path", ["id", "meta", "meta.created", "groups", f"{ENTERPRISE}:manager.displayName"]
)
def test_read_only_path_is_mutability(user, op, path):
    with pytest.raises(Mutability):
        patch(user, op=op, path=path, value="x")


def test_read_only_member_ref_is_mutability(group):
    with pytest.raises(Mutability):
        patch(group, GROUP, op="replace", path='members[value eq "u1"].$ref', value="x")


def test_echoed_read_only_keys_are_ignored_without_path(user):
    # Okta's rename PATCH re-sends {"id": ..., "displayName": ...}.
    value = {"id": "other", "meta": {}, "schemas": [], "groups": [], "displayName": "N"}
    assert patch(user, op="replace", value=value) == {**user, "displayName": "N"}


def test_read_only_key_without_path_must_equal_current_value(user):
    user |= {"schemas": [CORE, ENTERPRISE], ENTERPRISE: {"manager": {"displayName": "Boss"}}}
    key = f"{ENTERPRISE}:manager.displayName"
    assert patch(user, op="replace", value={key: "Boss"}) == user
    with pytest.raises(Mutability):
        patch(user, op="replace", value={key: "Someone"})


def test_read_only_sub_attributes_in_values_are_dropped(group):
    value = {"value": "u3", "$ref": "https://elsewhere/Users/u3"}
    assert patch(group, GROUP, op="add", path="members", value=value)["members"][-1] == {
        "value": "u3"
    }


def test_immutable_may_be_added_when_absent_but_not_changed():
    # §3.5.2: "a client MAY "add" a value to an "immutable" attribute if the attribute had no
    # previous value".
    assert patch({}, BADGE, op="add", path="serial", value="A1") == {"serial": "A1"}
    assert patch({"serial": "A1"}, BADGE, op="replace", path="serial", value="A1") == {
        "serial": "A1"
    }
    for op in ("add", "replace", "remove"):
        with pytest.raises(Mutability):
            patch({"serial": "A1"}, BADGE, op=op, path="serial", value="B2")


def test_immutable_member_value_cannot_change(group):
    with pytest.raises(Mutability):
        patch(group, GROUP, op="replace", path='members[value eq "u1"].value', value="u7")
    with pytest.raises(Mutability):
        patch(group, GROUP, op="replace", path='members[value eq "u1"]', value={"value": "u7"})


# --- paths and values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "favoriteColor",  # no attribute of the type
        "name.middle",
        'displayName[value eq "x"]',
        'name[givenName eq "x"]',
        'emails[type eq "work"].nope',
        'emails[type eq "work"',
        "emails..value",
    ],
)
def test_invalid_path(user, path):
    with pytest.raises(InvalidPath):
        patch(user, op="replace", path=path, value="x")


@pytest.mark.parametrize("op", ["add", "replace", "remove"])
@pytest.mark.parametrize("path", ["urn:example:unknown:Schema:thing", "urn:example:unknown:Schema"])
def test_unknown_extension_paths_are_ignored(user, op, path):
    # As in POST and PUT bodies: an extension the server does not know is not an error.
    assert patch(user, op=op, path=path, value="x") == user


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("displayName", {"x": 1}),
        ("displayName", ["a"]),
        ("name.givenName", ["a"]),
        ("name", "Barbara"),
        ("name", [{"givenName": "B"}]),
        ("emails", "b@e"),
        ("emails", [{"value": "b@e"}, "c@e"]),
        ('emails[type eq "work"]', "b@e"),
        (f"{ENTERPRISE}:manager", [{"value": "a"}, {"value": "b"}]),
        (None, ["not", "an", "object"]),
        (None, {ENTERPRISE: "not an object"}),
    ],
)
def test_invalid_value(user, path, value):
    with pytest.raises(InvalidValue):
        patch(user, op="add", path=path, value=value)


# --- Entra's manager --------------------------------------------------------------------------

MANAGER = f"{ENTERPRISE}:manager"


@pytest.mark.parametrize(
    "value", ["m2", {"value": "m2"}, [{"value": "m2"}], ["m2"], {"Value": "m2", "displayName": "X"}]
)
def test_manager_accepts_string_object_or_array(user, value):
    result = patch(user, op="replace", path=MANAGER, value=value)
    assert result[ENTERPRISE] == {"manager": {"value": "m2"}}


@pytest.mark.parametrize("value", ["", {"value": ""}, None])
def test_empty_manager_removes_it(user, value):
    user[ENTERPRISE] = {"manager": {"value": "m1"}, "department": "Ops"}
    assert patch(user, op="replace", path=MANAGER, value=value)[ENTERPRISE] == {"department": "Ops"}


# --- extensions and schemas -----------------------------------------------------------------


def test_writing_an_extension_lists_it_in_schemas(user):
    result = patch(user, op="add", path=f"{ENTERPRISE.upper()}:EMPLOYEENUMBER", value="7")
    assert result[ENTERPRISE] == {"employeeNumber": "7"}
    assert result["schemas"] == [CORE, ENTERPRISE]


def test_emptying_an_extension_drops_it_and_its_urn(user):
    user = {**user, "schemas": [CORE, ENTERPRISE], ENTERPRISE: {"department": "Ops"}}
    result = patch(user, op="remove", path=f"{ENTERPRISE}:department")
    assert ENTERPRISE not in result and result["schemas"] == [CORE]
    assert patch(user, op="remove", path=ENTERPRISE) == result


def test_bare_extension_path_takes_an_object(user):
    result = patch(user, op="add", path=ENTERPRISE, value={"department": "Ops", "junk": 1})
    assert result[ENTERPRISE] == {"department": "Ops"}


# --- atomicity and copies (§3.5.2) -----------------------------------------------------------


def test_failing_operation_leaves_input_unchanged(user):
    before = copy.deepcopy(user)
    ops = [
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "add", "path": "emails", "value": {"value": "n@e", "primary": True}},
        {"op": "replace", "path": "id", "value": "hijack"},
    ]
    with pytest.raises(Mutability):
        apply_patch(user, ops, USER)
    assert user == before


def test_input_and_operations_are_never_mutated(user):
    before = copy.deepcopy(user)
    ops = [
        {"op": "add", "path": "emails", "value": [{"value": "n@e", "primary": True}]},
        {"op": "replace", "value": {"name": {"givenName": "B"}}},
    ]
    ops_before = copy.deepcopy(ops)
    result = apply_patch(user, ops, USER)
    assert user == before and ops == ops_before
    result["emails"][-1]["value"] = "changed"
    assert ops[0]["value"][0]["value"] == "n@e"


def test_operations_apply_in_order(user):
    ops = [
        {"op": "add", "path": "title", "value": "A"},
        {"op": "replace", "path": "title", "value": "B"},
        {"op": "remove", "path": "title"},
        {"op": "add", "path": "title", "value": "C"},
    ]
    assert apply_patch(user, ops, USER)["title"] == "C"


# --- what the identity providers send (tests/samples) ------------------------------------------


class TestEntra:
    def test_disable(self, user):
        # The caller coerces "False" when it re-validates; the engine writes what it is given.
        assert apply_patch(user, sample("entra-patch-user-disable.json"), USER)["active"] == "False"

    @pytest.mark.parametrize("has_work_email", [True, False])
    def test_multi(self, user, has_work_email):
        if not has_work_email:
            user["emails"] = user["emails"][1:]
        result = apply_patch(user, sample("entra-patch-user-multi.json"), USER)
        assert result["displayName"] == "Pvlo"
        assert result["name"] == {**NAME, "givenName": "Gtfd"}
        assert result[ENTERPRISE] == {"employeeNumber": "Eqpj"}
        work = [e for e in result["emails"] if e.get("type") == "work"]
        assert [e["value"] for e in work] == ["TestBcwqnm@test.microsoft.com"]
        assert len(result["emails"]) == 2

    def test_no_path(self, user):
        result = apply_patch(user, sample("entra-patch-user-nopath.json"), USER)
        assert result["emails"][0]["value"] == "TestMhvaes@test.microsoft.com"
        assert result["displayName"] == "Bjfe"
        assert result["name"] == {"givenName": "Kkom", "familyName": "Unua"}
        assert result[ENTERPRISE] == {"employeeNumber": "Aklq"}

    def test_remove_member(self, group):
        group["members"].append({"value": "u1091"})
        ops = sample("entra-patch-group-remove-member.json")
        result = apply_patch(group, ops, GROUP)
        assert result["members"] == group["members"][:2]
        assert apply_patch(result, ops, GROUP) == result


class TestOkta:
    def test_deactivate(self, user):
        result = apply_patch(user, sample("okta-patch-deactivate.json"), USER)
        assert result == {**user, "active": False}

    def test_rename(self, group):
        group["id"] = "abf4dd94-a4c0-4f67-89c9-76b03340cb9b"
        result = apply_patch(group, sample("okta-patch-group-rename.json"), GROUP)
        assert result == {**group, "displayName": "Test SCIMv2"}

    def test_membership(self, group):
        group["members"] = [{"value": "89bb1940-b905-4575-9e7f-6f887cfb368e"}, {"value": "u2"}]
        ops = sample("okta-patch-group-membership.json")
        result = apply_patch(group, ops, GROUP)
        assert result["members"] == [
            {"value": "u2"},
            {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"},
        ]
        assert apply_patch(result, ops, GROUP) == result  # Okta repeats it


class TestJumpCloud:
    def test_remove_member(self, group):
        member = "5107a4e4-0b11-4e77-8dcf-c8c6978d40ac"
        group["members"].append({"value": member})
        ops = sample("jumpcloud-patch-group-remove-member.json")
        result = apply_patch(group, ops, GROUP)
        assert result["members"] == group["members"][:2]
        assert apply_patch(result, ops, GROUP) == result
