"""The HTTP fuzz suite: every class of bad input against every endpoint of the running app.

Each test sends hostile requests through the whole WSGI app (auth, routing, edge, engines,
store) and asserts that every answer is a 4xx RFC 7644 §3.12 error body, that nothing
answers 5xx, and that a snapshot of the whole store taken before equals the one after.
``test_fuzz_live.py`` sends what only a real socket can (framing, sizes) to waitress.
"""

from __future__ import annotations

import io
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scim.core.schemas import ENTERPRISE_USER, GROUP, USER
from storage import get_request_log
from tests.security import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE,
    PATCH_OP,
    SEARCH,
    assert_scim_error,
    http_examples,
    snapshot,
)
from tests.security.strategies import json_values, patch_bodies, user_bodies

# (method, path) of every SCIM endpoint; {user} and {group} are ids of tenant A.
ENDPOINTS = [
    ("GET", "/Users"),
    ("POST", "/Users"),
    ("POST", "/Users/.search"),
    ("GET", "/Users/{user}"),
    ("PUT", "/Users/{user}"),
    ("PATCH", "/Users/{user}"),
    ("DELETE", "/Users/{user}"),
    ("GET", "/Groups"),
    ("POST", "/Groups"),
    ("POST", "/Groups/.search"),
    ("GET", "/Groups/{group}"),
    ("PUT", "/Groups/{group}"),
    ("PATCH", "/Groups/{group}"),
    ("DELETE", "/Groups/{group}"),
    ("GET", ""),
    ("POST", "/.search"),
    ("GET", "/ServiceProviderConfig"),
    ("GET", "/ResourceTypes"),
    ("GET", "/ResourceTypes/User"),
    ("GET", "/Schemas"),
    ("GET", f"/Schemas/{CORE_USER}"),
    ("POST", "/Bulk"),
    ("GET", "/Me"),
]
BODY_ENDPOINTS = [(m, p) for m, p in ENDPOINTS if m in ("POST", "PUT", "PATCH")]
PATHS = sorted({p for _, p in ENDPOINTS})


def _path(world, path: str) -> str:
    return path.format(user=world.a.ann["id"], group=world.a.team["id"])


def send(world, method: str, path: str, data=None, content_type="application/scim+json", **kw):
    """Send a raw request as tenant A."""
    headers = {**world.a.headers, **kw.pop("headers", {})}
    if data is not None and content_type is not None:
        headers["Content-Type"] = content_type
    return world.a.client.open(
        world.a.base + _path(world, path), method=method, data=data, headers=headers, **kw
    )


def _refused(world, store, requests, status=None, scim_type=None):
    """Send each (method, path, data) and check it is refused with nothing changed."""
    before = snapshot(store)
    for method, path, data in requests:
        response = send(world, method, path, data)
        try:
            assert_scim_error(response, status, scim_type)
        except AssertionError as exc:
            raise AssertionError(f"{method} {path} {data!r:.200}: {exc}") from None
    assert snapshot(store) == before
    return len(requests)


# --- bodies that are not JSON objects --------------------------------------------------------

MALFORMED = [
    b"{",
    b"{not json",
    b'{"a":}',
    b"nul",
    b"{} trailing",
    b"{'single': 'quotes'}",
    b'{"a": 1,}',
    b"{/* comment */}",
    b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 byte-order mark
    b'\xff\xfe{\x00"\x00a\x00"\x00}\x00',  # UTF-16
    b'{"a": "\xff"}',  # invalid UTF-8
    b'{"a": "\xc3"}',  # truncated UTF-8
    b'{"a": "\xed\xa0\x80"}',  # an encoded surrogate: invalid UTF-8
    b'{"a": "\x00"}',  # a raw NUL inside a string
    b"{\x00}",
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": -Infinity}',
    b'{"a": 1, "a": 2}',
    b'{"userName": "x", "USERNAME": "y"}',  # RFC 7643 §2.1: the same attribute twice
    b'{"schemas": ["x"], "SCHEMAS": ["y"]}',
    b'{"a": "\\ud800"}',  # an unpaired surrogate escape
    b'{"a": "\\u0000"}',  # an escaped NUL: PostgreSQL cannot store one
    b'{"schemas": [], "userName": "adm\\u0000in"}',
    b'{"Operations": [{"op": "add", "path": "title", "value": "\\u0000"}]}',
    b'{"a": ["ok", {"b": "\\udfff x"}]}',
    b'{"a": ' + b"9" * 5000 + b"}",  # more digits than Python converts
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b"",
    b"   \r\n\t",
    b"\x00",
    b'"a string"',
    b"42",
    b"-1.5e300",
    b"null",
    b"true",
    b"[]",
    b"[{}]",
]


def test_bodies_that_are_not_json_objects_are_invalid_syntax(world, store):
    requests = [(method, path, b) for method, path in BODY_ENDPOINTS for b in MALFORMED]
    _refused(world, store, requests, 400, "invalidSyntax")


# --- wrong types in every attribute ----------------------------------------------------------

WRONG = {
    "string": [42, True, 1.5, {"x": "y"}, ["a", "b"]],
    "reference": [42, False, {"x": "y"}, ["a", "b"]],
    "binary": [42, {"x": "y"}],
    "boolean": ["maybe", 1, 0, {"x": 1}, [True, False]],
    "complex": [42, True, [1, 2]],
}
MULTI_WRONG = [42, True, [42], [[1]], [True]]


def _wrong_values(attribute) -> list:
    if attribute.multi_valued:
        values = list(MULTI_WRONG)
        key = "value" if attribute.sub("value") else attribute.sub_attributes[0].name
        for sub in attribute.sub_attributes:
            if sub.mutability != "readOnly" and sub.name != "$ref":
                values += [[{key: "v", sub.name: w}] for w in WRONG[sub.type][:2]]
        return values
    values = list(WRONG[attribute.type])
    if attribute.type == "complex":
        if attribute.sub("value") is None:
            values.append("a bare string")  # manager takes a bare id (Entra); name does not
        for sub in attribute.sub_attributes:
            if sub.mutability != "readOnly" and sub.name != "$ref":
                values += [{sub.name: w} for w in WRONG[sub.type][:2]]
    return values


def _writable(schema):
    return [a for a in schema.attributes if a.mutability != "readOnly"]


WRONG_USER = [(a.name, None, w) for a in _writable(USER) for w in _wrong_values(a)] + [
    (a.name, ENTERPRISE, w) for a in _writable(ENTERPRISE_USER) for w in _wrong_values(a)
]
WRONG_GROUP = [(a.name, None, w) for a in _writable(GROUP) for w in _wrong_values(a)]


def _typed_requests(world, name, urn, wrong, kind):
    core, unique = (CORE_USER, "userName") if kind == "Users" else (CORE_GROUP, "displayName")
    target = f"/{kind}/{{user}}" if kind == "Users" else f"/{kind}/{{group}}"
    current = world.a.ann["userName"] if kind == "Users" else world.a.team["displayName"]
    body = {"schemas": [core], unique: current}
    body = {**body, urn: {name: wrong}} if urn else {**body, name: wrong}
    path = f"{urn}:{name}" if urn else name
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": path, "value": wrong}]}
    fresh = {**body, unique: "fresh-name"} if name != unique else body
    return [
        ("POST", f"/{kind}", json.dumps(fresh)),
        ("PUT", target, json.dumps(body)),
        ("PATCH", target, json.dumps(patch)),
    ]


@pytest.mark.parametrize("kind, cases", [("Users", WRONG_USER), ("Groups", WRONG_GROUP)])
def test_wrong_types_in_every_attribute_are_invalid_value(world, store, kind, cases):
    requests = [r for name, urn, w in cases for r in _typed_requests(world, name, urn, w, kind)]
    assert len(requests) >= 3 * len(cases)
    _refused(world, store, requests, 400, "invalidValue")


def test_read_only_attributes_of_any_type_are_ignored(world, store):
    # IdPs send id, meta and groups (docs/idp/behaviour.md#every-client); RFC 7643 §2.2:
    # readOnly values are the server's.
    body = {"schemas": [CORE_USER], "userName": "ro", "id": 42, "meta": "x", "groups": [5]}
    created = world.a.post("/Users", body)
    assert created.status_code == 201
    user = created.get_json()
    assert isinstance(user["id"], str) and user["meta"]["resourceType"] == "User"
    assert "groups" not in user


# --- schemas missing or wrong ----------------------------------------------------------------

WRONG_SCHEMAS = [None, [], "x", CORE_USER, [42], [None], ["urn:wrong"], {"a": 1}, [SEARCH]]


def _with_schemas(body: dict, schemas) -> str:
    return json.dumps(body if schemas is None else {**body, "schemas": schemas})


def test_missing_or_wrong_schemas_are_invalid_value(world, store):
    user, group = {"userName": "s"}, {"displayName": "s"}
    requests = []
    for schemas in WRONG_SCHEMAS:
        requests += [
            ("POST", "/Users", _with_schemas(user, schemas)),
            ("PUT", "/Users/{user}", _with_schemas(user, schemas)),
            ("POST", "/Groups", _with_schemas(group, schemas if schemas != [] else [CORE_USER])),
            ("PUT", "/Groups/{group}", _with_schemas(group, schemas)),
        ]
        if schemas is not None:  # PatchOp and SearchRequest may leave schemas out
            ops = {"Operations": [{"op": "add", "path": "title", "value": "x"}]}
            requests += [
                ("PATCH", "/Users/{user}", _with_schemas(ops, schemas)),
                ("POST", "/Users/.search", _with_schemas({}, schemas)),
            ]
    requests = [r for r in requests if not (r[1].endswith(".search") and SEARCH in r[2])]
    _refused(world, store, requests, 400)
    for method, path, data in requests:
        body = assert_scim_error(send(world, method, path, data), 400)
        assert body.get("scimType") in ("invalidValue", "invalidSyntax"), (method, data, body)


def test_unknown_keys_and_schemas_are_ignored(world):
    # Bodies carry attributes to ignore, and unknown extension schema URIs
    # (docs/idp/behaviour.md#every-client).
    body = {
        "schemas": [CORE_USER, "urn:example:params:scim:schemas:extension:custom:2.0:User"],
        "userName": "unknown-keys",
        "favouriteColour": "blue",
        "urn:example:params:scim:schemas:extension:custom:2.0:User": {"badge": 7},
        "urn:example:params:scim:schemas:extension:custom:2.0:User:level": 3,
        "name": {"givenName": "U", "nickname": "not a sub-attribute"},
    }
    created = world.a.post("/Users", body)
    assert created.status_code == 201, created.get_json()
    stored = world.a.get(f"/Users/{created.get_json()['id']}").get_json()
    text = json.dumps(stored)
    assert "favouriteColour" not in text and "badge" not in text and "level" not in text
    assert stored["name"] == {"givenName": "U"}


# --- huge and deep ---------------------------------------------------------------------------


def _deep(depth: int, leaf="1") -> str:
    return "[" * depth + leaf + "]" * depth


def test_huge_strings_and_arrays_are_invalid_value(world, store):
    long = "x" * 70_000  # over the 65,536 characters a string attribute may hold
    many = ["a"] * 100_001  # over the 100,000 values an attribute may hold
    ops = [{"op": "replace", "path": "userName", "value": long}]
    requests = [
        ("POST", "/Users", json.dumps({"schemas": [CORE_USER], "userName": long})),
        ("PUT", "/Users/{user}", json.dumps({"schemas": [CORE_USER], "userName": long})),
        ("PATCH", "/Users/{user}", json.dumps({"schemas": [PATCH_OP], "Operations": ops})),
        ("POST", "/Users", json.dumps({"schemas": [CORE_USER], "userName": "m", "emails": many})),
        ("POST", "/Groups", json.dumps({"schemas": [CORE_GROUP], "displayName": long})),
        ("POST", "/Users/.search", json.dumps({"filter": "userName eq " + json.dumps(long)})),
    ]
    _refused(world, store, requests, 400)


def _nested_requests(depth: int) -> list:
    user = f'{{"schemas": ["{CORE_USER}"], "userName": "deep", "name": {_deep(depth)}}}'
    patch = f'{{"Operations": [{{"op": "add", "path": "emails", "value": {_deep(depth)}}}]}}'
    nopath = f'{{"Operations": [{{"op": "add", "value": {{"name": {_deep(depth, "{}")}}}}}]}}'
    search = f'{{"attributes": {_deep(depth, chr(34) + "id" + chr(34))}}}'
    return [
        ("POST", "/Users", user),
        ("PUT", "/Users/{user}", user),
        ("PATCH", "/Users/{user}", patch),
        ("PATCH", "/Users/{user}", nopath),
        ("PATCH", "/Groups/{group}", patch.replace("emails", "members")),
        ("POST", "/.search", search),
    ]


def test_deeply_nested_values_are_refused(world, store):
    depths = [64, 500, 950, 5_000, 100_000]
    _refused(world, store, [r for d in depths for r in _nested_requests(d)], 400)


class ExplodingStream(io.BytesIO):
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body of an oversized request was read")

    read1 = readline = readlines = readinto = read


def test_bodies_over_the_limit_are_413_and_never_read(world, store, app):
    before = snapshot(store)
    limit = app.config["ROSTER"]["max_payload_bytes"]
    for method, path in BODY_ENDPOINTS:
        response = world.a.client.open(
            world.a.base + _path(world, path),
            method=method,
            headers={**world.a.headers, "Content-Type": "application/scim+json"},
            environ_overrides={"CONTENT_LENGTH": str(limit + 1), "wsgi.input": ExplodingStream()},
        )
        assert_scim_error(response, 413)
    assert snapshot(store) == before


# --- absurd query parameters -----------------------------------------------------------------

ABSURD = [
    {"startIndex": "0"},
    {"startIndex": "-1"},
    {"startIndex": "9" * 100},
    {"startIndex": "-" + "9" * 100},
    {"startIndex": "9" * 5000},
    {"startIndex": "1.5"},
    {"startIndex": "1e3"},
    {"startIndex": ""},
    {"startIndex": "x"},
    {"startIndex": "\x00"},
    {"count": "-5"},
    {"count": "0"},
    {"count": "9" * 100},
    {"count": "NaN"},
    {"count": " 1 "},
    {"sortBy": ""},
    {"sortBy": "a" * 5000},
    {"sortBy": 'emails[type eq "work"]'},
    {"sortBy": "meta"},
    {"sortBy": "name"},
    {"sortBy": "password"},
    {"sortBy": CORE_USER},
    {"sortBy": f"{ENTERPRISE}:manager"},
    {"sortBy": "urn:x:y:z"},
    {"sortBy": "\x00"},
    {"sortOrder": "sideways"},
    {"sortOrder": ""},
    {"attributes": "a" * 5000},
    {"attributes": ",,,,"},
    {"attributes": "urn:" + "a:" * 2000},
    {"attributes": ",".join(["userName"] * 10_000)},
    {"attributes": "\x00"},
    {"excludedAttributes": "id,schemas,meta"},
    {"excludedAttributes": "a" * 5000},
    {"filter": ""},
    {"filter": "\x00"},
    {"filter": "(" * 5000},
    {"filter": "userName eq " + "9" * 5000},
    {"filter": 'meta.created gt "not a date"'},
    {"filter": "active gt true"},
    {"filter": 'name co "x"'},
    {"filter": "emails[value eq 1]"},
    {"filter": "x" * 100_000},
    {"\x00": "1", "Count": "2", "COUNT": "3", "unknown": "x"},
]


@pytest.mark.parametrize("path", ["/Users", "/Groups", ""])
def test_absurd_query_parameters_get_a_page_or_a_400(world, store, path):
    before = snapshot(store)
    for params in ABSURD:
        response = send(world, "GET", path, query_string=params)
        if response.status_code != 200:
            body = assert_scim_error(response, 400)
            assert body.get("scimType") in ("invalidValue", "invalidFilter"), (params, body)
        search = send(world, "POST", f"{path}/.search", json.dumps(params))
        assert search.status_code in (200, 400), (params, search.get_json())
        if search.status_code == 400:
            assert_scim_error(search, 400)
    assert snapshot(store) == before


def test_a_huge_start_index_is_an_empty_page(world):
    page = send(world, "GET", "/Users", query_string={"startIndex": "9" * 100}).get_json()
    assert page["Resources"] == [] and page["totalResults"] == 2


# --- methods, content types, slashes ---------------------------------------------------------

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT", "PROPFIND", "FOO"]


def _allowed(path: str) -> set[str]:
    """The methods routed for ``path``; GET, PUT… on /Users/.search read a User called .search."""
    if path in ("/Me", "/Users/.search", "/Groups/.search"):
        return {"GET", "POST", "PUT", "PATCH", "DELETE"}
    return {m for m, p in ENDPOINTS if p == path}


def test_unsupported_methods_are_405_with_allow(world, store, client):
    before = snapshot(store)
    for path in PATHS:
        allowed = _allowed(path)
        for method in (m for m in METHODS if m not in allowed):
            for headers in (world.a.headers, {}):  # routing answers before authentication
                response = client.open(
                    world.a.base + _path(world, path), method=method, headers=headers
                )
                assert_scim_error(response, 405)
                assert set(response.headers["Allow"].split(", ")) >= allowed, (path, method)
    assert snapshot(store) == before


WRONG_CONTENT_TYPES = [
    "text/plain",
    "text/html",
    "application/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "application/jsonx",
    "json",
    "*/*",
]


def test_wrong_content_types_are_415(world, store):
    before = snapshot(store)
    body = json.dumps({"schemas": [CORE_USER], "userName": "ct"})
    for (method, path), content_type in itertools.product(BODY_ENDPOINTS, WRONG_CONTENT_TYPES):
        assert_scim_error(send(world, method, path, body, content_type=content_type), 415)
    assert snapshot(store) == before


def test_every_endpoint_answers_the_same_with_a_trailing_slash(world, store):
    before = snapshot(store)
    for method, path in ENDPOINTS:
        # Bodies that cannot change anything, so that each variant meets the same state.
        data = b"{" if method in ("POST", "PUT", "PATCH") else None
        if method == "DELETE":
            path = path.replace("{user}", "no-such-id").replace("{group}", "no-such-id")
        answers = [
            send(world, method, variant, data)
            for variant in (path, path + "/", "/" + path + "//", path.replace("/", "//"))
        ]
        statuses = {r.status_code for r in answers}
        assert len(statuses) == 1, (method, path, statuses)
        if method == "GET":
            assert all(r.get_json() == answers[0].get_json() for r in answers), path
    assert snapshot(store) == before


# --- URLs ------------------------------------------------------------------------------------

ODD_IDS = ["%00", "%ff", "%ed%a0%80", "..", "..%2f..%2fetc%2fpasswd", "a" * 10_000, "%20", "*"]


def test_odd_ids_are_404(world, store, client):
    before = snapshot(store)
    for kind, odd, method in itertools.product(["Users", "Groups"], ODD_IDS, ["GET", "DELETE"]):
        assert_scim_error(send(world, method, f"/{kind}/{odd}"), 404)
    for odd in ("%00", world.a.id + "%00", "%ff", "a" * 10_000):  # as the IdP: unknown, 401
        response = client.get(f"/scim/v2/{odd}/Users", headers=world.a.headers)
        assert_scim_error(response, 401)
    assert snapshot(store) == before


# --- generated input -------------------------------------------------------------------------

raw_bodies = (
    st.binary(max_size=300)
    | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))
    | json_values.map(lambda v: json.dumps(v).encode())
    | patch_bodies.map(lambda v: json.dumps(v).encode())
    | user_bodies.map(lambda v: json.dumps(v).encode())
)


@settings(max_examples=http_examples())
@given(endpoint=st.sampled_from(BODY_ENDPOINTS), data=raw_bodies)
def test_generated_bodies_never_fail_the_server(world, store, endpoint, data):
    before = snapshot(store)
    response = send(world, *endpoint, data)
    if response.status_code >= 300:
        assert_scim_error(response)
        assert snapshot(store) == before


@settings(max_examples=http_examples())
@given(target=st.sampled_from(["user", "group"]), body=patch_bodies)
def test_generated_patches_apply_fully_or_not_at_all(world, store, target, body):
    path = f"/Users/{world.a.ann['id']}" if target == "user" else f"/Groups/{world.a.team['id']}"
    before = snapshot(store)
    response = world.a.patch(path, body)
    if response.status_code == 200:
        assert world.a.get(path).get_json() == response.get_json()
    else:
        assert_scim_error(response)
        assert snapshot(store) == before


@settings(max_examples=http_examples())
@given(body=user_bodies)
def test_generated_puts_replace_fully_or_not_at_all(world, store, body):
    path = f"/Users/{world.a.bob['id']}"
    before = snapshot(store)
    response = world.a.put(path, body)
    if response.status_code == 200:
        assert world.a.get(path).get_json() == response.get_json()
        assert response.get_json()["id"] == world.a.bob["id"]
    else:
        assert_scim_error(response)
        assert snapshot(store) == before


query_values = st.text(max_size=40) | st.sampled_from(["1", "-1", "0", "9" * 30, "userName pr"])
queries = st.dictionaries(
    st.sampled_from(
        ["filter", "sortBy", "sortOrder", "startIndex", "count", "attributes",
         "excludedAttributes", "Filter", "x"]
    ),
    query_values,
    max_size=5,
)  # fmt: skip


@settings(max_examples=http_examples())
@given(path=st.sampled_from(["/Users", "/Groups", ""]), params=queries)
def test_generated_queries_get_a_page_or_a_400(world, store, path, params):
    response = send(world, "GET", path, query_string=params)
    if response.status_code != 200:
        assert_scim_error(response, 400)


@settings(max_examples=http_examples())
@given(
    method=st.sampled_from(METHODS + ["HEAD", "OPTIONS"]),
    suffix=st.text(max_size=30) | st.sampled_from(PATHS).map(lambda p: p + "/x"),
)
def test_generated_paths_never_fail_the_server(world, store, client, method, suffix):
    before = snapshot(store)
    response = client.open(
        world.a.base + "/" + suffix.lstrip("/"), method=method, headers=world.a.headers
    )
    assert response.status_code < 500, (method, suffix, response.get_data()[:200])
    if response.status_code >= 400:
        if method != "HEAD":  # HEAD answers carry no body (RFC 9110 §9.3.2)
            assert_scim_error(response)
        assert snapshot(store) == before


# --- regressions: what this suite found ------------------------------------------------------


def test_unstorable_strings_never_reach_the_store(world, store):
    # A lone surrogate used to be stored (POST, PATCH, a PATCH filter's seeded value) and made
    # every later read of the resource a 500; PostgreSQL refused NUL with a 500.
    user = f"/Users/{world.a.ann['id']}"
    before = snapshot(store)
    for value in ("\\ud800", "a\\udfff", "\\u0000", "adm\\u0000in"):
        body = f'{{"schemas": ["{CORE_USER}"], "userName": "{value}"}}'
        assert_scim_error(send(world, "POST", "/Users", body), 400, "invalidSyntax")
        assert_scim_error(send(world, "PUT", user, body), 400, "invalidSyntax")
        path = json.dumps(f'emails[type eq "{value}"].value')
        seeded = f'{{"Operations": [{{"op": "add", "path": {path}, "value": "x"}}]}}'
        assert_scim_error(send(world, "PATCH", user, seeded), 400, "invalidPath")
        query = {"filter": f'userName eq "{value}"'}
        assert_scim_error(send(world, "GET", "/Users", query_string=query), 400, "invalidFilter")
    assert send(world, "GET", user).status_code == 200
    assert snapshot(store) == before


def test_logging_bodies_survives_hostile_bodies(world, store, app):
    # With log_bodies, a deeply nested or unencodable body used to fail in the request log.
    app.config["ROSTER"]["log_bodies"] = True
    before = snapshot(store)
    bodies = [_deep(d) for d in (900, 100_000)] + ['{"a": "\\ud800"}', '{"a": "\\u0000"}']
    _refused(world, store, [("POST", "/Users", b) for b in bodies], 400)
    with app.app_context():
        logged = get_request_log().entries(world.a.id, errors_only=True)
    assert len(logged) >= len(bodies)
    assert snapshot(store) == before
