"""Properties of the protocol code, checked on generated input (no Flask, no store).

- The filter parser: any text parses or raises invalidFilter; a printed tree parses back to
  itself; nesting and length past the limits are refused cleanly, never with RecursionError.
- The PATCH engine: any operation list applies fully or raises a SCIM error, and never touches
  the resource it was given; applying the list at once equals applying it one by one.
- Projection: only ever narrows a resource; ``id`` and ``schemas`` always stay, ``password``
  never leaves; projecting twice changes nothing.
- The PUT/POST edge: any body loads or raises a SCIM error; loading is idempotent and never
  mutates its input.
"""

from __future__ import annotations

import contextlib
import copy
import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scim.core.errors import InvalidFilter, InvalidPath, ScimError
from scim.core.evaluate import matches
from scim.core.filter import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_OPERATORS,
    attribute_paths,
    parse_attr_path,
    parse_filter,
    parse_path,
    to_string,
)
from scim.core.messages import load_patch
from scim.core.models import load_resource
from scim.core.patch import apply_patch
from scim.core.projection import project
from scim.core.schemas import GROUP_TYPE, USER_TYPE
from storage.query import run_query
from tests.security import CORE_USER
from tests.security.strategies import (
    SAMPLE_GROUP,
    SAMPLE_USER,
    filter_text,
    filters,
    json_values,
    patch_bodies,
    projection_names,
    token_soup,
    user_bodies,
)

# --- the filter parser ---------------------------------------------------------------------------


def _check_evaluation(expr) -> None:
    """Evaluating a parsed filter gives a bool or invalidFilter, never anything else."""
    attribute_paths(expr)
    for resource, rtype in ((SAMPLE_USER, USER_TYPE), (SAMPLE_GROUP, GROUP_TYPE)):
        try:
            assert matches(expr, resource, rtype) in (True, False)
            run_query(rtype.name, [resource], expr, None, False, 1, None)
        except InvalidFilter:
            pass


@given(filter_text)
def test_any_text_parses_or_is_an_invalid_filter(text):
    try:
        expr = parse_filter(text)
    except InvalidFilter as exc:
        assert exc.status == 400 and exc.scim_type == "invalidFilter"
        return
    # What parses prints back to text that parses to the same tree.
    assert parse_filter(to_string(expr)) == expr
    _check_evaluation(expr)


@given(filters)
def test_printed_filters_parse_back_to_the_same_tree(expr):
    text = to_string(expr)
    assume(len(text) <= MAX_LENGTH and text.count("[") <= 1)
    assert parse_filter(text) == expr
    _check_evaluation(expr)


@given(st.text() | token_soup.map(" ".join) | token_soup.map("".join))
def test_any_text_is_a_patch_path_or_an_invalid_path(text):
    try:
        parse_path(text, USER_TYPE.schema_ids)
    except InvalidPath as exc:
        assert exc.scim_type == "invalidPath"
    with contextlib.suppress(InvalidFilter):
        parse_attr_path(text)


NASTY_FILTERS = [
    "(" * 100_000 + "userName pr" + ")" * 100_000,
    "(" * (MAX_DEPTH + 1) + "userName pr" + ")" * (MAX_DEPTH + 1),
    "not (" * 10_000 + "userName pr" + ")" * 10_000,
    "emails[" * 10_000 + 'type eq "x"' + "]" * 10_000,
    "emails[type eq " + '"x"' + " and emails[value pr]]",
    " or ".join(["userName pr"] * (MAX_OPERATORS + 1)),
    " and ".join(["userName pr"] * 600),
    "userName eq " + '"' + "x" * MAX_LENGTH + '"',
    "userName eq " + "9" * 5000,
    "userName eq " + "9" * (MAX_LENGTH - 12),
    "x" * 1_000_000,
    "(" * 1_000_000,
    '"' * 1_000_000,
    "userName eq " + '"\\' * 2000,
    'userName eq "\\ud800"',
    'userName eq "\x00"',
    "",
    "   ",
]


@pytest.mark.parametrize("text", NASTY_FILTERS, ids=lambda t: f"{t[:20]!r}..{len(t)}")
def test_deep_and_long_filters_are_refused_cleanly(text):
    # Refused with invalidFilter or parsed (the last few are legal): never RecursionError.
    try:
        expr = parse_filter(text)
    except InvalidFilter:
        pass
    else:
        _check_evaluation(expr)
    with contextlib.suppress(InvalidPath):
        parse_path(text)


def test_the_deepest_allowed_filter_still_evaluates():
    text = "not (" * (MAX_DEPTH - 1) + "userName pr" + ")" * (MAX_DEPTH - 1)
    expr = parse_filter(text)
    assert parse_filter(to_string(expr)) == expr
    assert matches(expr, SAMPLE_USER, USER_TYPE) is ((MAX_DEPTH - 1) % 2 == 0)
    chain = " or ".join(["userName pr"] * (MAX_OPERATORS + 1))
    assert matches(parse_filter(chain), SAMPLE_USER, USER_TYPE) is True


# --- the PATCH engine ----------------------------------------------------------------------------


def _patch(resource: dict, body: object, rtype) -> dict:
    """Run a PatchOp body as the PATCH view does: edge, engine, then the resource schema."""
    operations = load_patch(body, max_operations=1000)
    patched = apply_patch(resource, operations, rtype)
    return load_resource(rtype, patched)


@pytest.mark.parametrize("resource, rtype", [(SAMPLE_USER, USER_TYPE), (SAMPLE_GROUP, GROUP_TYPE)])
@given(body=patch_bodies | json_values)
def test_patch_applies_fully_or_raises_and_never_touches_its_input(resource, rtype, body):
    resource, before, sent = copy.deepcopy(resource), copy.deepcopy(resource), copy.deepcopy(body)
    try:
        result = _patch(resource, body, rtype)
    except ScimError as exc:
        assert 400 <= exc.status < 500, exc
        assert resource == before and body == sent
        return
    assert resource == before and body == sent
    assert load_resource(rtype, result) == result  # the stored form is a fixed point
    # RFC 7644 §3.5.2: operations apply in order, each to the result of the one before; the
    # request as a whole is atomic. So applying them one by one gives the same resource.
    step = resource
    for operation in load_patch(body):
        step = apply_patch(step, [operation], rtype)
    assert load_resource(rtype, step) == result


def test_a_failing_operation_after_good_ones_changes_nothing():
    resource, before = copy.deepcopy(SAMPLE_USER), copy.deepcopy(SAMPLE_USER)
    body = {
        "Operations": [
            {"op": "replace", "path": "displayName", "value": "changed"},
            {"op": "add", "path": "emails", "value": [{"value": "new@example.com"}]},
            {"op": "replace", "path": "id", "value": "stolen"},
        ]
    }
    with pytest.raises(ScimError):
        _patch(resource, body, USER_TYPE)
    assert resource == before


# --- projection ----------------------------------------------------------------------------------


def _subset(part: object, whole: object) -> bool:
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            k in whole and _subset(v, whole[k]) for k, v in part.items()
        )
    if isinstance(part, list):
        return isinstance(whole, list) and all(any(_subset(p, w) for w in whole) for p in part)
    return part == whole


@given(st.none() | projection_names, st.none() | projection_names)
def test_projection_only_narrows(attributes, excluded):
    resource = {**copy.deepcopy(SAMPLE_USER), "password": "never-returned"}
    out = project(resource, USER_TYPE, attributes, excluded)
    assert out["id"] == resource["id"] and out["schemas"] == resource["schemas"]
    assert "password" not in json.dumps(out)
    assert _subset(out, resource)
    assert project(out, USER_TYPE, attributes, excluded) == out
    for name in excluded or []:
        path = name.split(":")[-1].strip().lower()
        if path in ("emails", "name", "active", "username") and path not in str(attributes):
            assert path not in {k.lower() for k in out}


# --- the POST and PUT edge -----------------------------------------------------------------------


@given(user_bodies | json_values)
def test_any_body_loads_or_is_rejected_and_loading_is_idempotent(body):
    sent = copy.deepcopy(body)
    try:
        loaded = load_resource(USER_TYPE, body)
    except ScimError as exc:
        assert exc.status == 400 and exc.scim_type in ("invalidValue", "invalidSyntax"), exc
        assert body == sent
        return
    assert body == sent
    assert loaded["schemas"][0] == CORE_USER
    assert loaded["userName"].strip()
    assert load_resource(USER_TYPE, loaded) == loaded
