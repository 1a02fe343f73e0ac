"""Unit tests for scim.core.filter: parsing, printing and evaluating filters and paths."""

import re
from functools import reduce

import pytest

from scim.core.attributes import CORE_USER, ENTERPRISE_USER
from scim.core.errors import InvalidFilter, InvalidPath
from scim.core.evaluate import element_matches, matches
from scim.core.filter import (
    And,
    AttrPath,
    Compare,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    parse_attr_path,
    parse_filter,
    parse_path,
    to_string,
)
from tests.core.user_type import EMAILS, USER

BJENSEN = {
    "schemas": [CORE_USER, ENTERPRISE_USER],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "BJensen",
    "userName": "bjensen@example.com",
    "name": {"givenName": "Barbara", "familyName": "O'Malley"},
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "active": True,
    "title": "Tour Guide",
    "userType": "Employee",
    "loginCount": 42,
    "password": "t1meMa$heen",
    "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJ"}],
    "meta": {
        "resourceType": "User",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": 'W/"3694e05e9dff591"',
    },
    ENTERPRISE_USER: {
        "employeeNumber": "701984",
        "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"},
    },
}


def p(text):
    """``"name.givenName"`` → ``AttrPath(None, "name", "givenName")``."""
    attr, _, sub = text.partition(".")
    return AttrPath(None, attr, sub or None)


def cmp(text, op, value):
    return Compare(p(text), op, value)


def pr(text):
    return Present(p(text))


# --- parsing ---------------------------------------------------------------------------------

# RFC 7644 §3.4.2.2, the example filters listed after Table 3.
RFC_7644_3_4_2_2_EXAMPLES = [
    ('userName eq "bjensen"', cmp("userName", "eq", "bjensen")),
    ('name.familyName co "O\'Malley"', cmp("name.familyName", "co", "O'Malley")),
    ('userName sw "J"', cmp("userName", "sw", "J")),
    (
        'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"',
        Compare(AttrPath(CORE_USER, "userName"), "sw", "J"),
    ),
    ("title pr", pr("title")),
    (
        'meta.lastModified gt "2011-05-13T04:42:34Z"',
        cmp("meta.lastModified", "gt", "2011-05-13T04:42:34Z"),
    ),
    (
        'meta.lastModified ge "2011-05-13T04:42:34Z"',
        cmp("meta.lastModified", "ge", "2011-05-13T04:42:34Z"),
    ),
    (
        'meta.lastModified lt "2011-05-13T04:42:34Z"',
        cmp("meta.lastModified", "lt", "2011-05-13T04:42:34Z"),
    ),
    (
        'meta.lastModified le "2011-05-13T04:42:34Z"',
        cmp("meta.lastModified", "le", "2011-05-13T04:42:34Z"),
    ),
    (
        'title pr and userType eq "Employee"',
        And(pr("title"), cmp("userType", "eq", "Employee")),
    ),
    (
        'title pr or userType eq "Intern"',
        Or(pr("title"), cmp("userType", "eq", "Intern")),
    ),
    (
        'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"',
        cmp("schemas", "eq", ENTERPRISE_USER),
    ),
    (
        'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
        And(
            cmp("userType", "eq", "Employee"),
            Or(cmp("emails", "co", "example.com"), cmp("emails.value", "co", "example.org")),
        ),
    ),
    (
        'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
        And(
            cmp("userType", "ne", "Employee"),
            Not(Or(cmp("emails", "co", "example.com"), cmp("emails.value", "co", "example.org"))),
        ),
    ),
    (
        'userType eq "Employee" and (emails.type eq "work")',
        And(cmp("userType", "eq", "Employee"), cmp("emails.type", "eq", "work")),
    ),
    (
        'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
        And(
            cmp("userType", "eq", "Employee"),
            ValuePath(
                p("emails"), And(cmp("type", "eq", "work"), cmp("value", "co", "@example.com"))
            ),
        ),
    ),
    (
        'emails[type eq "work" and value co "@example.com"] or '
        'ims[type eq "xmpp" and value co "@foo.com"]',
        Or(
            ValuePath(
                p("emails"), And(cmp("type", "eq", "work"), cmp("value", "co", "@example.com"))
            ),
            ValuePath(p("ims"), And(cmp("type", "eq", "xmpp"), cmp("value", "co", "@foo.com"))),
        ),
    ),
]

MORE_FILTERS = [
    # Keywords, operators and literals are case-insensitive; values keep their case.
    ('userName EQ "Bjensen"', cmp("userName", "eq", "Bjensen")),
    ("title PR", pr("title")),
    ("active eq TRUE", cmp("active", "eq", True)),
    ("active eq False", cmp("active", "eq", False)),
    ("title eq Null", cmp("title", "eq", None)),
    ("loginCount gt 10", cmp("loginCount", "gt", 10)),
    ("loginCount le -2.5e1", cmp("loginCount", "le", -25.0)),
    ('title eq "say \\"hi\\" \\u00e9"', cmp("title", "eq", 'say "hi" é')),
    # Unquoted values, as IdPs send them, are strings.
    ("userName eq john@example.com", cmp("userName", "eq", "john@example.com")),
    (
        "id eq 2819c223-7f76-453a-919d-413861904646",
        cmp("id", "eq", "2819c223-7f76-453a-919d-413861904646"),
    ),
    ("externalId eq 0123", cmp("externalId", "eq", "0123")),
    # Paths: URN-qualified, extension sub-attributes, $ref.
    (
        f'{ENTERPRISE_USER}:manager.value eq "26118915"',
        Compare(AttrPath(ENTERPRISE_USER, "manager", "value"), "eq", "26118915"),
    ),
    (
        f"{ENTERPRISE_USER}:employeeNumber pr",
        Present(AttrPath(ENTERPRISE_USER, "employeeNumber")),
    ),
    (
        f"{CORE_USER}:name.givenName pr",
        Present(AttrPath(CORE_USER, "name", "givenName")),
    ),
    ('members.$ref eq "https://x/Users/1"', cmp("members.$ref", "eq", "https://x/Users/1")),
    ('$ref eq "x"', cmp("$ref", "eq", "x")),
    # Precedence: not > and > or; and/or chain to the left.
    ("a pr or b pr and c pr", Or(pr("a"), And(pr("b"), pr("c")))),
    ("a pr and b pr or c pr", Or(And(pr("a"), pr("b")), pr("c"))),
    ("(a pr or b pr) and c pr", And(Or(pr("a"), pr("b")), pr("c"))),
    ("a pr and b pr and c pr", And(And(pr("a"), pr("b")), pr("c"))),
    ("not(a pr)", Not(pr("a"))),
    ("not (not (a pr))", Not(Not(pr("a")))),
    ('emails[not (type eq "work")]', ValuePath(p("emails"), Not(cmp("type", "eq", "work")))),
    # Whitespace is liberal.
    ('  userName   eq\t"x"  ', cmp("userName", "eq", "x")),
    ('emails [type eq "work"]', ValuePath(p("emails"), cmp("type", "eq", "work"))),
]


@pytest.mark.parametrize(("text", "expected"), RFC_7644_3_4_2_2_EXAMPLES + MORE_FILTERS)
def test_parses(text, expected):
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("userName", "operator"),
        ('userName xx "a"', "operator"),
        ("userName eq", "value"),
        ('userName eq "open', "Unterminated"),
        ('userName eq "bad \\q escape"', "Invalid string"),
        ("userName eq and", "value"),
        ('userName eq "a" "b"', "'and', 'or'"),
        ('userName eq "a" and', "attribute path"),
        ('and userName eq "a"', "attribute path"),
        ('(userName eq "a"', "')'"),
        ('userName eq "a")', "'and', 'or'"),
        ('emails[type eq "work"', "']'"),
        ('emails[type eq "work")', "']'"),
        ('emails[type eq "work"].value eq "x"', "'and', 'or'"),
        ("emails[x[y eq 1]]", "cannot nest"),
        ('name.givenName[type eq "x"]', "attribute name"),
        ("not userName pr", "'(' after 'not'"),
        ('1userName eq "a"', "attribute path"),
        ('user!name eq "a"', "attribute path"),
        ('name.givenName.x eq "a"', "attribute path"),
        ('urn:ietf:params:scim:schemas:core:2.0:User: eq "a"', "attribute path"),
        ('foo:bar eq "a"', "attribute path"),
        ("()", "attribute path"),
        ("[type eq 1]", "attribute path"),
    ],
)
def test_rejects(text, detail):
    with pytest.raises(InvalidFilter, match=re.escape(detail)):
        parse_filter(text)


def test_error_names_the_position():
    with pytest.raises(InvalidFilter, match="position 17, found 'oops'"):
        parse_filter('userName eq "a" oops title pr')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(" * 50 + "a pr" + ")" * 50, pr("a")),
        ("not (" * 50 + "a pr" + ")" * 50, reduce(lambda e, _: Not(e), range(50), pr("a"))),
        ("emails[" + "(" * 49 + "a pr" + ")" * 49 + "]", ValuePath(p("emails"), pr("a"))),
        (" or ".join(["a pr"] * 101), reduce(Or, [pr("a")] * 101)),
        ('userName eq "' + "x" * 4082 + '"', cmp("userName", "eq", "x" * 4082)),  # 4096 chars
    ],
)
def test_accepts_up_to_the_limits(text, expected):
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("(" * 51 + "a pr" + ")" * 51, "deeper than 50"),
        ("not (" * 51 + "a pr" + ")" * 51, "deeper than 50"),
        ("(" * 1000 + "a pr" + ")" * 1000, "deeper than 50"),
        ("not (" * 500 + "a pr" + ")" * 500, "deeper than 50"),
        ("(" * 4096, "deeper than 50"),
        ("emails[" + "(" * 50 + "a pr" + ")" * 50 + "]", "deeper than 50"),
        (" or ".join(["a pr"] * 102), "more than 100"),
        (" and ".join(["a pr"] * 102), "more than 100"),
        ('userName eq "' + "x" * 4083 + '"', "longer than 4096"),
        ("(" * 5000, "longer than 4096"),
    ],
)
def test_rejects_abuse(text, detail):
    # Abuse ends in InvalidFilter, never RecursionError.
    with pytest.raises(InvalidFilter, match=detail):
        parse_filter(text)


# --- printing --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), RFC_7644_3_4_2_2_EXAMPLES + MORE_FILTERS)
def test_round_trips(text, expected):
    assert parse_filter(to_string(expected)) == expected


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (cmp("title", "eq", 'a "b"'), 'title eq "a \\"b\\""'),
        (cmp("loginCount", "ge", 3), "loginCount ge 3"),
        (cmp("active", "eq", False), "active eq false"),
        (cmp("title", "eq", None), "title eq null"),
        # Right-nested chains and "or" under "and" need parentheses to come back the same.
        (
            And(pr("a"), And(pr("b"), pr("c"))),
            "a pr and (b pr and c pr)",
        ),
        (
            Or(pr("a"), Or(pr("b"), pr("c"))),
            "a pr or (b pr or c pr)",
        ),
        (
            And(Or(pr("a"), pr("b")), pr("c")),
            "(a pr or b pr) and c pr",
        ),
        (
            Or(And(pr("a"), pr("b")), pr("c")),
            "a pr and b pr or c pr",
        ),
        (Not(pr("a")), "not (a pr)"),
        (
            ValuePath(p("emails"), cmp("type", "eq", "work")),
            'emails[type eq "work"]',
        ),
        (
            Present(AttrPath(ENTERPRISE_USER, "manager", "value")),
            f"{ENTERPRISE_USER}:manager.value pr",
        ),
    ],
)
def test_to_string(expr, text):
    assert to_string(expr) == text
    assert parse_filter(text) == expr


def test_long_chain_round_trips():
    text = " and ".join(f'userName eq "u{i}"' for i in range(101))
    expr = parse_filter(text)
    assert to_string(expr) == text
    assert parse_filter(to_string(expr)) == expr


# --- attribute paths (attributes=, excludedAttributes=, sortBy=) -----------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("userName", p("userName")),
        ("name.givenName", p("name.givenName")),
        (" name.givenName ", p("name.givenName")),
        ("meta.lastModified", p("meta.lastModified")),
        (f"{ENTERPRISE_USER}:manager", AttrPath(ENTERPRISE_USER, "manager")),
        (f"{ENTERPRISE_USER}:manager.value", AttrPath(ENTERPRISE_USER, "manager", "value")),
        (f"{CORE_USER}:userName", AttrPath(CORE_USER, "userName")),
        (ENTERPRISE_USER, AttrPath(ENTERPRISE_USER, "")),
        (ENTERPRISE_USER.upper(), AttrPath(ENTERPRISE_USER.upper(), "")),
        ("members.$ref", p("members.$ref")),
    ],
)
def test_parse_attr_path(text, expected):
    assert parse_attr_path(text) == expected


def test_parse_attr_path_knows_other_urns():
    urn = "urn:example:params:scim:schemas:extension:acme:2.0:User"
    assert parse_attr_path(urn, (urn,)) == AttrPath(urn, "")
    assert parse_attr_path(f"{urn}:badge") == AttrPath(urn, "badge")


@pytest.mark.parametrize(
    "text", ["", "1abc", "name.", "name.a.b", "a b", "emails[type eq 1]", "urn:", "x:y"]
)
def test_parse_attr_path_rejects(text):
    with pytest.raises(InvalidFilter):
        parse_attr_path(text)


# --- PATCH paths (RFC 7644 §3.5.2) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("members", PatchPath(p("members"))),
        ("name.givenName", PatchPath(p("name.givenName"))),
        ('emails[type eq "work"]', PatchPath(p("emails"), cmp("type", "eq", "work"))),
        (
            'emails[type eq "work"].value',
            PatchPath(p("emails"), cmp("type", "eq", "work"), "value"),
        ),
        (
            'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
            PatchPath(p("members"), cmp("value", "eq", "2819c223-7f76-453a-919d-413861904646")),
        ),
        (
            'addresses[type eq "work"].streetAddress',
            PatchPath(p("addresses"), cmp("type", "eq", "work"), "streetAddress"),
        ),
        (
            'members[value eq "a]b"]',
            PatchPath(p("members"), cmp("value", "eq", "a]b")),
        ),
        (
            f"{ENTERPRISE_USER}:employeeNumber",
            PatchPath(AttrPath(ENTERPRISE_USER, "employeeNumber")),
        ),
        (
            f"{ENTERPRISE_USER}:manager.value",
            PatchPath(AttrPath(ENTERPRISE_USER, "manager", "value")),
        ),
        (ENTERPRISE_USER, PatchPath(AttrPath(ENTERPRISE_USER, ""))),
        (
            'emails[type eq "work" and primary eq true].value',
            PatchPath(
                p("emails"), And(cmp("type", "eq", "work"), cmp("primary", "eq", True)), "value"
            ),
        ),
    ],
)
def test_parse_path(text, expected):
    assert parse_path(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1members",
        "name.givenName.x",
        "emails[",
        'emails[type eq "work"',
        'emails[type eq "work"]value',
        'emails[type eq "work"].value.x',
        'emails[type eq "work"].',
        'emails[type eq "work"][value pr]',
        'name.givenName[type eq "work"]',
        "emails[type[value pr]]",
        "members value",
        'userName eq "x"',
    ],
)
def test_parse_path_rejects(text):
    with pytest.raises(InvalidPath):
        parse_path(text)


# --- evaluation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Case: userName is case-insensitive, id and externalId are caseExact.
        ('userName eq "BJENSEN@example.com"', True),
        ('userName eq "bjensen"', False),
        ('userName sw "BJ"', True),
        ('userName ew "@EXAMPLE.COM"', True),
        ('userName co "jensen@"', True),
        ('id eq "2819C223-7F76-453A-919D-413861904646"', False),
        ('id eq "2819c223-7f76-453a-919d-413861904646"', True),
        ('externalId eq "bjensen"', False),
        ('externalId eq "BJensen"', True),
        ('name.familyName co "o\'mal"', True),
        ('NAME.FAMILYNAME eq "O\'Malley"', True),
        # Ordering on strings is lexicographic.
        ('title gt "Tour"', True),
        ('title lt "Tour"', False),
        # Multi-valued: any value; complex without a sub-attribute compares "value".
        ('emails co "@example.com"', True),
        ('emails eq "babs@jensen.org"', True),
        ('emails.value ew ".org"', True),
        ('emails.type eq "other"', False),
        ('emails ne "babs@jensen.org"', True),
        # Value paths: one element must satisfy the whole inner filter.
        ('emails[type eq "work" and value co "@example.com"]', True),
        ('emails[type eq "home" and value co "@example.com"]', False),
        ('emails[type eq "work" and primary eq true]', True),
        ('emails[type eq "home" and primary eq true]', False),
        ("emails[primary pr]", True),
        ('emails[TYPE eq "WORK"]', True),
        ('emails[nope eq "work"]', False),
        ('name[givenName eq "barbara"]', True),
        # dateTime compares chronologically, whatever the offset spelling.
        ('meta.lastModified gt "2011-05-13T04:42:33Z"', True),
        ('meta.lastModified gt "2011-05-13T04:42:34Z"', False),
        ('meta.lastModified ge "2011-05-13T04:42:34Z"', True),
        ('meta.lastModified eq "2011-05-13T06:42:34+02:00"', True),
        ('meta.lastModified lt "2011-05-13T04:42:34.001Z"', True),
        ('meta.created le "2010-01-23T04:56:22"', True),
        ('meta.lastModified sw "2011-05"', True),
        # Booleans and numbers by value; Entra sends booleans as strings.
        ("active eq true", True),
        ("active eq false", False),
        ('active eq "True"', True),
        ('active ne "False"', True),
        ("active eq 1", False),
        ("loginCount eq 42", True),
        ("loginCount eq 42.0", True),
        ("loginCount gt 41.5", True),
        ('loginCount lt "50"', True),
        # A bare number against a string attribute is its text.
        ("employeeNumber eq 701984", True),
        # Extensions: qualified or not, case-insensitive URN.
        (f'{ENTERPRISE_USER}:employeeNumber eq "701984"', True),
        (f'{ENTERPRISE_USER.lower()}:EMPLOYEENUMBER eq "701984"', True),
        (f'{ENTERPRISE_USER}:manager.value sw "26118915"', True),
        (f'{ENTERPRISE_USER}:manager eq "26118915-6090-4610-87e4-49d8ca9f808d"', True),
        ('manager.displayName eq "john smith"', True),
        (f'{CORE_USER}:userName sw "bj"', True),
        (f"{CORE_USER}:employeeNumber pr", False),
        # Presence.
        ("title pr", True),
        ("nickName pr", False),
        ("name pr", True),
        ("password pr", True),
        # Unknown attributes behave as absent: nothing matches except ne (and eq null).
        ('nickName eq "x"', False),
        ('nickName ne "x"', True),
        ('urn:example:unknown:Ext:title eq "Tour Guide"', False),
        ("nickName eq null", True),
        ("nickName ne null", False),
        ("title eq null", False),
        ("title ne null", True),
        ('schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"', True),
        # Logic and precedence: "a or b and c" is "a or (b and c)".
        ('userName eq "x" or title pr and active eq true', True),
        ('title pr or userName eq "x" and active eq false', True),
        ('(title pr or userName eq "x") and active eq false', False),
        ('userName eq "x" or title pr and active eq false', False),
        ("not (title pr)", False),
        ("not (nickName pr)", True),
        ('not (not (userName sw "b"))', True),
        (
            'userType eq "Employee" and not (emails co "example.com" or emails co "example.org")',
            False,
        ),
        ('userType eq "Employee" and (emails.type eq "work")', True),
    ],
)
def test_matches(text, expected):
    assert matches(parse_filter(text), BJENSEN, USER) is expected


def test_matches_missing_extension_and_sparse_resource():
    sparse = {"schemas": [CORE_USER], "id": "1", "userName": "sparse", "emails": []}
    assert matches(parse_filter("emails pr"), sparse, USER) is False
    assert matches(parse_filter('emails ne "a@b"'), sparse, USER) is True
    assert matches(parse_filter("employeeNumber pr"), sparse, USER) is False
    assert matches(parse_filter('manager.value eq "x"'), sparse, USER) is False
    assert matches(parse_filter('emails[type eq "work"]'), sparse, USER) is False


def test_matches_empty_values_are_not_present():
    resource = {"title": "", "name": {"givenName": None}, "emails": [{}]}
    assert matches(parse_filter("title pr"), resource, USER) is False
    assert matches(parse_filter("name pr"), resource, USER) is False
    assert matches(parse_filter("emails pr"), resource, USER) is False


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("active gt true", "boolean"),
        ('x509Certificates.value lt "M"', "binary"),
        ('x509Certificates ge "M"', "binary"),
        ('active co "t"', "string"),
        ('loginCount sw "4"', "string"),
        ('meta.lastModified gt "yesterday"', "dateTime"),
        ('name eq "Barbara"', "complex"),
    ],
)
def test_matches_rejects_unsupported_comparisons(text, detail):
    with pytest.raises(InvalidFilter, match=detail):
        matches(parse_filter(text), BJENSEN, USER)


def test_binary_compares_case_exactly():
    certificate = BJENSEN["x509Certificates"][0]["value"]
    assert matches(parse_filter(f'x509Certificates eq "{certificate}"'), BJENSEN, USER)
    assert not matches(parse_filter(f'x509Certificates eq "{certificate.lower()}"'), BJENSEN, USER)


@pytest.mark.parametrize(
    ("text", "element", "expected"),
    [
        ('type eq "work"', {"value": "a@x", "type": "work"}, True),
        ('type eq "WORK"', {"value": "a@x", "type": "work"}, True),
        ('type eq "home"', {"value": "a@x", "type": "work"}, False),
        ('type eq "work" and value ew "@x"', {"value": "a@x", "type": "work"}, True),
        ("primary eq true", {"value": "a@x", "primary": True}, True),
        ('primary eq "true"', {"value": "a@x", "primary": True}, True),
        ("primary eq true", {"value": "a@x"}, False),
        ("not (primary pr)", {"value": "a@x"}, True),
        ('display eq "x"', {"value": "a@x", "display": "x"}, False),
        ('emails.type eq "work"', {"value": "a@x", "type": "work"}, False),
    ],
)
def test_element_matches(text, element, expected):
    assert element_matches(parse_filter(text), element, EMAILS) is expected


def test_element_matches_rejects_a_nested_value_path():
    nested = ValuePath(p("type"), pr("value"))
    with pytest.raises(InvalidFilter, match="nest"):
        element_matches(nested, {"type": "work"}, EMAILS)


def test_matching_does_not_change_the_resource():
    before = repr(BJENSEN)
    matches(
        parse_filter('emails[type eq "work"] and meta.created lt "2020-01-01T00:00:00Z"'),
        BJENSEN,
        USER,
    )
    assert repr(BJENSEN) == before
