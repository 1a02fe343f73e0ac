"""Request validation at the edge: resource bodies, PatchOp messages and search parameters."""

import copy
import json
from pathlib import Path

import pytest

from scim.core.attributes import Attribute, ResourceType, Schema
from scim.core.errors import InvalidSyntax, InvalidValue, NoTarget, ScimError
from scim.core.messages import load_patch, load_query, load_search
from scim.core.models import load_resource
from scim.core.schemas import GROUP_TYPE, USER_TYPE

SAMPLES = Path(__file__).parents[1] / "samples"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def sample(name):
    return json.loads((SAMPLES / name).read_text())


def user(**attrs):
    return {"schemas": [CORE], "userName": "bjensen", **attrs}


def group(**attrs):
    return {"schemas": [GROUP], "displayName": "Tour Guides", **attrs}


def invalid(body, rtype=USER_TYPE):
    """Load ``body`` expecting InvalidValue; return its detail."""
    with pytest.raises(InvalidValue) as caught:
        load_resource(rtype, body)
    return caught.value.detail


# --- samples --------------------------------------------------------------------------------


def test_rfc7643_full_user_loads():
    loaded = load_resource(USER_TYPE, sample("rfc7643-8.2-full-user.json"))
    assert loaded["schemas"] == [CORE]
    assert loaded["userName"] == "bjensen@example.com"
    assert loaded["name"]["honorificSuffix"] == "III"
    assert loaded["addresses"][0]["primary"] is True and len(loaded["addresses"]) == 2
    assert loaded["password"] == "t1meMa$heen"
    assert loaded["x509Certificates"][0]["value"].startswith("MIIDQzCCAqyg")
    # readOnly attributes are dropped, never an error (RFC 7643 §2.2).
    assert {"id", "meta", "groups"}.isdisjoint(loaded)


def test_rfc7643_enterprise_user_loads_with_its_manager_reduced_to_the_id():
    loaded = load_resource(USER_TYPE, sample("rfc7643-8.3-enterprise-user.json"))
    assert loaded["schemas"] == [CORE, ENTERPRISE]
    assert loaded[ENTERPRISE]["costCenter"] == "4130"
    assert loaded[ENTERPRISE]["manager"] == {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}


def test_rfc7643_group_loads_without_member_refs():
    loaded = load_resource(GROUP_TYPE, sample("rfc7643-8.4-group.json"))
    assert loaded["schemas"] == [GROUP]
    assert loaded["members"] == [
        {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
        {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"},
    ]


IDP_BODIES = sorted(
    p.name
    for p in SAMPLES.glob("*.json")
    if not p.name.startswith("rfc") and PATCH not in json.loads(p.read_text())["schemas"]
)
IDP_PATCHES = sorted(
    p.name
    for p in SAMPLES.glob("*.json")
    if not p.name.startswith("rfc") and PATCH in json.loads(p.read_text())["schemas"]
)


def test_samples_are_all_used():
    assert len(IDP_BODIES) == 5 and len(IDP_PATCHES) == 8


@pytest.mark.parametrize("name", IDP_BODIES)
def test_idp_resource_bodies_load(name):
    body = sample(name)
    loaded = load_resource(USER_TYPE, body)
    assert loaded["userName"] == body["userName"]
    assert loaded["schemas"][0] == CORE
    assert {"id", "meta", "groups", "roles"}.isdisjoint(loaded)  # sent, but dropped
    assert all(v not in (None, [], {}) for v in loaded.values())


@pytest.mark.parametrize("name", [*IDP_PATCHES, "rfc7644-3.5.2.1-patch-add-members.json"])
def test_idp_patch_messages_load(name):
    ops = load_patch(sample(name))
    assert ops and all(op["op"] in {"add", "remove", "replace"} for op in ops)


def test_jumpcloud_put_keeps_the_enterprise_extension_listed_first():
    loaded = load_resource(USER_TYPE, sample("jumpcloud-put-user-full.json"))
    assert loaded["schemas"] == [CORE, ENTERPRISE]
    assert loaded[ENTERPRISE] == {"department": "C-Suite"}
    assert "addresses" not in loaded and "phoneNumbers" not in loaded


# --- names, nulls and what is dropped -------------------------------------------------------


def test_attribute_names_are_case_insensitive_and_come_out_canonical():
    body = {
        "SCHEMAS": [CORE],
        "USERNAME": "bjensen",
        "Name": {"GIVENNAME": "Barbara"},
        "emails": [{"VALUE": "b@example.com", "Primary": True}],
        ENTERPRISE.upper(): {"DEPARTMENT": "Tours"},
    }
    assert load_resource(USER_TYPE, body) == {
        "schemas": [CORE, ENTERPRISE],
        "userName": "bjensen",
        "name": {"givenName": "Barbara"},
        "emails": [{"value": "b@example.com", "primary": True}],
        ENTERPRISE: {"department": "Tours"},
    }


def test_urn_qualified_attributes_are_nested_under_their_extension():
    body = user(
        **{
            f"{ENTERPRISE}:department": "Tours",
            f"{ENTERPRISE.lower()}:costCenter": "4130",
            ENTERPRISE: {"division": "Theme Park"},
            f"{CORE}:title": "Guide",
        }
    )
    loaded = load_resource(USER_TYPE, body)
    assert loaded[ENTERPRISE] == {
        "costCenter": "4130",
        "division": "Theme Park",
        "department": "Tours",
    }
    assert loaded["title"] == "Guide"
    assert loaded["schemas"] == [CORE, ENTERPRISE]


@pytest.mark.parametrize(
    "extra",
    [
        {"emails": None},
        {"name": {"givenName": None}},
        {"emails": [None]},
        {"addresses": []},
        {"name": {}},
        {"emails": [{}]},
        {ENTERPRISE: None},
        {ENTERPRISE: {}},
        {ENTERPRISE: {"department": None}},
    ],
)
def test_nulls_and_empty_values_are_dropped(extra):
    assert load_resource(USER_TYPE, user(**extra)) == {"schemas": [CORE], "userName": "bjensen"}


@pytest.mark.parametrize(
    "extra",
    [
        {"id": "x", "meta": {"resourceType": "User"}},
        {"groups": [{"value": "g1", "display": "G"}]},  # Okta
        {"roles": [], "meta": {}},  # Entra
        {"favouriteColour": "blue", "urn:example:custom:1.0:User": {"a": 1}},
        {"urn:ietf:params:scim:schemas:extension:microsoft:2.0:User:x": 1},
        {"emails": [{"value": "b@example.com", "$ref": "x", "colour": 1}]},
    ],
)
def test_read_only_and_unknown_attributes_are_dropped_silently(extra):
    loaded = load_resource(USER_TYPE, user(**extra))
    assert set(loaded) <= {"schemas", "userName", "emails"}
    assert loaded.get("emails", [{"value": "b@example.com"}]) == [{"value": "b@example.com"}]


def test_a_single_value_for_a_multi_valued_attribute_is_wrapped():
    loaded = load_resource(USER_TYPE, user(emails={"value": "b@example.com"}))
    assert loaded["emails"] == [{"value": "b@example.com"}]


def test_password_is_kept_as_given():
    assert load_resource(USER_TYPE, user(password=" s3cret "))["password"] == " s3cret "


def test_data_is_not_mutated_and_the_result_is_fresh():
    body = sample("rfc7643-8.3-enterprise-user.json") | {f"{ENTERPRISE}:division": "X"}
    before = copy.deepcopy(body)
    loaded = load_resource(USER_TYPE, body)
    assert body == before
    loaded["emails"][0]["value"] = "changed"
    loaded["name"]["givenName"] = "changed"
    assert body == before


# --- types ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, expected",
    [(True, True), (False, False), ("False", False), ("TRUE", True), ("true", True)],
)
def test_booleans_accept_true_and_false_strings(given, expected):
    # Entra sends "False".
    assert load_resource(USER_TYPE, user(active=given))["active"] is expected


@pytest.mark.parametrize(
    "extra, detail",
    [
        ({"userName": 5}, "userName: Not a valid string."),
        ({"active": 1}, "active: Not a valid boolean."),
        ({"active": "yes"}, "active: Not a valid boolean."),
        ({"emails": [{"primary": "maybe"}]}, "emails[0].primary: Not a valid boolean."),
        ({"emails": [{"value": "a"}, 7]}, "emails[1]: Not a valid object."),
        ({"name": "Barbara Jensen"}, "name: Not a valid object."),
        ({"name": {"givenName": ["Barbara"]}}, "name.givenName: Not a valid string."),
        ({"password": 1234}, "password: Not a valid string."),
        ({"externalId": 701984}, "externalId: Not a valid string."),
        ({"photos": [{"value": True}]}, "photos[0].value: Not a valid string."),
        ({"x509Certificates": [{"value": 5}]}, "x509Certificates[0].value: Not a valid string."),
        ({ENTERPRISE: {"department": 7}}, f"{ENTERPRISE}:department: Not a valid string."),
        ({ENTERPRISE: "Tours"}, f"{ENTERPRISE}: Not a valid object."),
        ({f"{ENTERPRISE}:manager": 5}, f"{ENTERPRISE}:manager: Not a valid object."),
    ],
)
def test_type_errors_name_the_attribute(extra, detail):
    assert invalid(user(**extra)) == detail


def test_several_errors_are_reported_together():
    detail = invalid(user(active=2, title=3))
    assert "active: Not a valid boolean." in detail and "title: Not a valid string." in detail


# A resource type with one attribute of each RFC 7643 §2.3 type that User and Group lack.
_TYPED = ResourceType(
    "Thing",
    "/Things",
    "Test only",
    Schema(
        "urn:example:thing",
        "Thing",
        "",
        (
            Attribute("when", "dateTime"),
            Attribute("size", "integer"),
            Attribute("weight", "decimal"),
            Attribute("tags", multi_valued=True),
        ),
    ),
)


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("when", "2011-05-13T04:42:34Z", "2011-05-13T04:42:34Z"),
        ("when", "2011-05-13T04:42:34.123+02:00", "2011-05-13T04:42:34.123+02:00"),
        ("size", 3, 3),
        ("weight", 2.5, 2.5),
        ("weight", 2, 2),
        ("tags", ["a", None, "b"], ["a", "b"]),
        ("tags", "a", ["a"]),
    ],
)
def test_generated_fields_follow_the_attribute_type(name, value, expected):
    loaded = load_resource(_TYPED, {"schemas": ["urn:example:thing"], name: value})
    assert loaded[name] == expected


@pytest.mark.parametrize(
    "name, value, detail",
    [
        ("when", "yesterday", "when: Not a valid ISO 8601 dateTime."),
        ("when", 20110513, "when: Not a valid string."),
        ("size", 2.5, "size: Not an integer."),
        ("size", "3", "size: Not a valid number."),
        ("size", True, "size: Not a valid number."),
        ("weight", float("nan"), "weight: Not a valid number."),
        ("tags", ["a", 1], "tags[1]: Not a valid string."),
    ],
)
def test_generated_fields_reject_other_types(name, value, detail):
    assert invalid({"schemas": ["urn:example:thing"], name: value}, _TYPED) == detail


# --- schemas --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schemas, detail",
    [
        (None, f"schemas: A list containing {CORE} is required."),
        (CORE, "schemas: Not a list of schema URIs."),
        ([CORE, 5], "schemas: Not a list of schema URIs."),
        ([], f"schemas: Must contain {CORE}."),
        ([ENTERPRISE], f"schemas: Must contain {CORE}."),
        ([GROUP], f"schemas: Must contain {CORE}."),
    ],
)
def test_schemas_must_list_the_core_urn(schemas, detail):
    body = {"userName": "bjensen"} if schemas is None else {"schemas": schemas, "userName": "b"}
    assert invalid(body) == detail


@pytest.mark.parametrize(
    "schemas",
    [
        [ENTERPRISE, CORE],  # JumpCloud
        [CORE, "urn:ietf:params:scim:schemas:extension:microsoft:2.0:User"],  # Entra
        [CORE.upper()],
    ],
)
def test_schemas_order_case_and_unknown_uris_do_not_matter(schemas):
    assert load_resource(USER_TYPE, {"schemas": schemas, "userName": "b"})["schemas"] == [CORE]


def test_output_schemas_list_only_extensions_with_values():
    loaded = load_resource(USER_TYPE, user(schemas=[CORE, ENTERPRISE]))
    assert loaded["schemas"] == [CORE]
    loaded = load_resource(USER_TYPE, user(**{ENTERPRISE: {"department": "Tours"}}))
    assert loaded["schemas"] == [CORE, ENTERPRISE]


@pytest.mark.parametrize("body", [None, [], "user", 5, [user()]])
def test_a_body_that_is_not_an_object_is_invalid_syntax(body):
    with pytest.raises(InvalidSyntax):
        load_resource(USER_TYPE, body)


# --- required, primary, manager, members ----------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   "])
def test_user_name_is_required(value):
    assert invalid({"schemas": [CORE], "userName": value}) == "userName: A value is required."
    assert invalid({"schemas": [CORE]}) == "userName: A value is required."


@pytest.mark.parametrize("value", [None, ""])
def test_group_display_name_is_required(value):
    body = {"schemas": [GROUP], "displayName": value}
    assert invalid(body, GROUP_TYPE) == "displayName: A value is required."


@pytest.mark.parametrize(
    "emails",
    [
        [{"value": "a", "primary": True}, {"value": "b", "primary": True}],
        [{"value": "a", "primary": "True"}, {"value": "b", "primary": True}],
    ],
)
def test_primary_may_be_true_once(emails):
    # RFC 7643 §2.4.
    assert invalid(user(emails=emails)) == "emails: At most one value may have primary set to true."


def test_one_primary_among_many_is_fine():
    emails = [{"value": "a", "primary": True}, {"value": "b", "primary": False}, {"value": "c"}]
    assert load_resource(USER_TYPE, user(emails=emails))["emails"] == emails


@pytest.mark.parametrize(
    "manager, expected",
    [
        ("m-1", {"value": "m-1"}),  # Entra: a bare id
        ({"value": "m-1"}, {"value": "m-1"}),
        ([{"value": "m-1"}], {"value": "m-1"}),  # Entra: an array of one
        ({"VALUE": "m-1", "displayName": "Boss", "$ref": "../Users/m-1"}, {"value": "m-1"}),
        ("", None),  # Entra: "" removes the manager
        ({"value": ""}, None),
        ([], None),
        ({"displayName": "Boss"}, None),
    ],
)
def test_manager_forms_normalise_to_its_id(manager, expected):
    for body in (
        user(**{ENTERPRISE: {"manager": manager}}),
        user(**{f"{ENTERPRISE}:manager": manager}),
    ):
        loaded = load_resource(USER_TYPE, body)
        assert loaded.get(ENTERPRISE, {}).get("manager") == expected


def test_manager_value_must_be_a_string():
    detail = invalid(user(**{ENTERPRISE: {"manager": {"value": 42}}}))
    assert detail == f"{ENTERPRISE}:manager.value: Not a valid string."


def test_members_keep_value_display_and_type_and_are_deduplicated():
    members = [
        {"value": "u1", "display": "Babs", "type": "User", "$ref": "https://x/Users/u1"},
        {"value": "u2"},
        {"Value": "u1", "display": "Babs again"},
    ]
    loaded = load_resource(GROUP_TYPE, group(members=members))
    assert loaded["members"] == [
        {"value": "u1", "type": "User", "display": "Babs"},
        {"value": "u2"},
    ]


@pytest.mark.parametrize(
    "member, detail",
    [
        ({"display": "Babs"}, "members[0].value: A value is required."),
        ({"value": ""}, "members[0].value: A value is required."),
        ({"value": 17}, "members[0].value: Not a valid string."),
        (17, "members[0]: Not a valid object."),
    ],
)
def test_each_member_needs_a_string_value(member, detail):
    assert invalid(group(members=[member]), GROUP_TYPE) == detail


def test_empty_members_and_okta_extras_are_accepted():
    body = group(members=[], id="g1", meta={"resourceType": "Group"})
    assert load_resource(GROUP_TYPE, body) == {"schemas": [GROUP], "displayName": "Tour Guides"}


# --- guard rails ----------------------------------------------------------------------------


def test_strings_over_64k_are_rejected():
    assert invalid(user(title="x" * 65_537)) == "title: Longer than maximum length 65536."
    assert load_resource(USER_TYPE, user(title="x" * 65_536))["title"] == "x" * 65_536


def test_lists_over_100k_items_are_rejected():
    assert invalid(user(emails=[None] * 100_001)) == "emails: More than 100000 values."


def test_many_errors_are_summarised():
    detail = invalid(user(emails=[{"value": 1}] * 50))
    assert detail.startswith("emails[0].value: Not a valid string.; emails[1].value")
    assert detail.endswith("(and 45 more)")


def _deep(levels):
    value = "bottom"
    for _ in range(levels):
        value = {"a": [value]}
    return value


ODD_VALUES = [0, -1.5, True, "", "x", [], [[]], [None], {}, {"value": {"value": []}}, _deep(50)]


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
@pytest.mark.parametrize("rtype", [USER_TYPE, GROUP_TYPE], ids=lambda t: t.name)
def test_only_scim_errors_escape(rtype, value):
    core = rtype.schema.id
    names = [a.name for a in (*rtype.schema.attributes, *rtype.common)]
    names += [f"{e.id}:{a.name}" for e in rtype.extensions for a in e.attributes]
    for name in [*names, *(e.id for e in rtype.extensions), "schemas"]:
        body = {"schemas": [core], "userName": "u", "displayName": "d", name: value}
        try:
            result = load_resource(rtype, body)
        except ScimError as err:
            assert err.detail and err.status == 400
        else:
            assert result["schemas"][0] == core


def test_deeply_nested_unknown_values_are_not_walked():
    assert load_resource(USER_TYPE, user(extra=_deep(100_000)))["userName"] == "bjensen"


# --- PATCH ----------------------------------------------------------------------------------


def patch(*operations, **extra):
    return {"schemas": [PATCH], "Operations": list(operations), **extra}


def test_patch_ops_are_normalised():
    body = {
        "schemas": [PATCH],
        "operations": [
            {"OP": "Replace", "Path": "active", "Value": "False"},  # Entra's capitals
            {"op": "ADD", "value": {"title": "Guide"}},
            {"op": "remove", "path": 'members[value eq "u1"]'},
        ],
    }
    assert load_patch(body) == [
        {"op": "replace", "path": "active", "value": "False"},
        {"op": "add", "path": None, "value": {"title": "Guide"}},
        {"op": "remove", "path": 'members[value eq "u1"]', "value": None},
    ]


def test_patch_schemas_may_be_absent_but_not_wrong():
    assert load_patch({"Operations": [{"op": "remove", "path": "title"}]})[0]["op"] == "remove"
    with pytest.raises(InvalidValue, match=f"schemas: Must contain {PATCH}"):
        load_patch(patch({"op": "remove", "path": "title"}, schemas=[CORE]))


@pytest.mark.parametrize("op", [{"op": "remove"}, {"op": "Remove", "path": ""}])
def test_remove_without_a_path_is_no_target(op):
    # RFC 7644 §3.5.2.2.
    with pytest.raises(NoTarget):
        load_patch(patch(op))


@pytest.mark.parametrize(
    "operations, detail",
    [
        ([{"op": "add", "path": "title"}], "Operations[0].value: Required for add."),
        (
            [{"op": "remove", "path": "a"}, {"op": "replace"}],
            "Operations[1].value: Required for replace.",
        ),
        ([{"op": "move", "path": "a"}], "Operations[0].op: Must be one of: add, remove, replace."),
        ([{"path": "a", "value": 1}], "Operations[0].op: Missing data for required field."),
        ([{"op": 1, "value": 1}], "Operations[0].op: Not a valid string."),
        ([{"op": "add", "path": 5, "value": 1}], "Operations[0].path: Not a valid string."),
        (["add"], "Operations[0]: Not a valid object."),
        ([], "Operations: A non-empty list of operations is required."),
        ({"op": "add"}, "Operations: A non-empty list of operations is required."),
    ],
)
def test_patch_operations_are_validated(operations, detail):
    with pytest.raises(InvalidValue) as caught:
        load_patch({"schemas": [PATCH], "Operations": operations})
    assert caught.value.detail == detail


def test_a_null_value_is_a_value():
    # RFC 7644 §3.5.1: null means "unassigned"; the PATCH engine decides what that does.
    ops = load_patch(patch({"op": "replace", "path": "title", "value": None}))
    assert ops == [{"op": "replace", "path": "title", "value": None}]


def test_patch_limits_the_number_of_operations():
    ops = [{"op": "remove", "path": "title"}] * 3
    assert len(load_patch(patch(*ops), max_operations=3)) == 3
    with pytest.raises(InvalidValue, match="At most 2 operations"):
        load_patch(patch(*ops), max_operations=2)


def test_patch_value_is_a_copy():
    body = patch({"op": "add", "path": "members", "value": [{"value": "u1"}]})
    ops = load_patch(body)
    ops[0]["value"][0]["value"] = "changed"
    assert body["Operations"][0]["value"] == [{"value": "u1"}]


@pytest.mark.parametrize("body", [None, [], "patch"])
def test_a_patch_body_that_is_not_an_object_is_invalid_syntax(body):
    with pytest.raises(InvalidSyntax):
        load_patch(body)


# --- searches -------------------------------------------------------------------------------

DEFAULTS = {
    "filter": None,
    "sort_by": None,
    "sort_order": "ascending",
    "start_index": 1,
    "count": 100,
    "attributes": None,
    "excluded_attributes": None,
}


@pytest.mark.parametrize(
    "args, expected",
    [
        ({}, {}),
        ({"filter": 'userName eq "b"'}, {"filter": 'userName eq "b"'}),
        ({"filter": ""}, {}),
        ({"startIndex": "0"}, {"start_index": 1}),  # RFC 7644 §3.4.2.4: < 1 means 1
        ({"startIndex": "-4"}, {"start_index": 1}),
        ({"startIndex": "51"}, {"start_index": 51}),
        ({"count": "-1"}, {"count": 0}),  # negative means 0
        ({"count": "0"}, {"count": 0}),
        ({"count": "2"}, {"count": 2}),
        ({"count": "101"}, {"count": 100}),  # capped to max_count
        ({"count": "9" * 40}, {"count": 100}),
        (
            {"sortBy": "userName", "sortOrder": "DESCENDING"},
            {"sort_by": "userName", "sort_order": "descending"},
        ),
        ({"attributes": "userName, emails.value,"}, {"attributes": ["userName", "emails.value"]}),
        ({"excludedAttributes": "members"}, {"excluded_attributes": ["members"]}),  # Entra
        (
            {"STARTINDEX": "3", "Count": "7", "FILTER": "x pr"},
            {"start_index": 3, "count": 7, "filter": "x pr"},
        ),
        ({"unknown": "1"}, {}),
    ],
)
def test_load_query(args, expected):
    assert load_query(args, max_count=100) == DEFAULTS | expected


@pytest.mark.parametrize(
    "args, detail",
    [
        ({"count": "ten"}, "count: Not a valid integer."),
        ({"count": "1.5"}, "count: Not a valid integer."),
        ({"startIndex": ""}, "startIndex: Not a valid integer."),
        ({"count": "9" * 5000}, "count: Not a valid integer."),
        ({"sortOrder": "up"}, "sortOrder: Must be ascending or descending."),
    ],
)
def test_load_query_rejects_bad_values(args, detail):
    with pytest.raises(InvalidValue) as caught:
        load_query(args, max_count=100)
    assert caught.value.detail == detail


def test_load_search_reads_the_rfc_example():
    query = load_search(sample("rfc7644-3.4.3-search-request.json"), max_count=50)
    assert query == DEFAULTS | {
        "filter": 'displayName sw "smith"',
        "attributes": ["displayName", "userName"],
        "count": 10,
    }


@pytest.mark.parametrize(
    "body, expected",
    [
        ({}, {"count": 100}),
        ({"count": 1000, "startIndex": 0}, {"count": 100, "start_index": 1}),
        ({"attributes": "userName,emails"}, {"attributes": ["userName", "emails"]}),
        (
            {"excludedAttributes": ["members", " meta "]},
            {"excluded_attributes": ["members", "meta"]},
        ),
        ({"sortorder": "Descending"}, {"sort_order": "descending"}),
    ],
)
def test_load_search(body, expected):
    assert load_search({"schemas": [SEARCH], **body}, max_count=100) == DEFAULTS | expected


@pytest.mark.parametrize(
    "body, error",
    [
        ({"schemas": [CORE]}, InvalidValue),
        ({"count": "many"}, InvalidValue),
        ({"count": True}, InvalidValue),
        ({"attributes": [1]}, InvalidValue),
        ({"filter": 5}, InvalidValue),
        ([], InvalidSyntax),
    ],
)
def test_load_search_rejects(body, error):
    with pytest.raises(error):
        load_search(body, max_count=100)
