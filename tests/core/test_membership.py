"""The membership fast path (scim/core/membership.py) against the general PATCH engine: for every
PATCH it accepts, it must give exactly what ``apply_patch`` then ``load_resource`` give."""

from __future__ import annotations

import json
import random

import pytest

from scim.core import membership
from scim.core.errors import ScimError
from scim.core.messages import load_patch
from scim.core.models import load_resource
from scim.core.patch import apply_patch
from scim.core.schemas import GROUP_TYPE, USER_TYPE
from tests.conftest import patch_op, sample

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
IDS = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(12)]


def stored_group(members: list[str]) -> dict:
    """A Group as the store holds it: loaded, with types, id and meta."""
    body = {"schemas": [GROUP], "displayName": "Team", "externalId": "ext-1"}
    if members:
        body["members"] = [{"value": m, "display": f"user {m[:4]}"} for m in members]
    group = load_resource(GROUP_TYPE, body)
    for member in group.get("members", []):
        member["type"] = "User"
    return {**group, "id": "g-1", "meta": {"resourceType": "Group", "version": 'W/"1"'}}


def general(resource: dict, operations: list[dict]) -> dict | ScimError:
    try:
        return load_resource(GROUP_TYPE, apply_patch(resource, operations, GROUP_TYPE))
    except ScimError as error:
        return error


def check(resource: dict, body: dict) -> bool:
    """Assert the fast path agrees with the general one; return whether it was taken."""
    operations = load_patch(body)
    before = json.dumps(resource)
    expected = general(resource, operations)
    steps = membership.plan(operations, GROUP_TYPE)
    applied = membership.apply(resource, steps, GROUP_TYPE) if steps else None
    assert json.dumps(resource) == before, "the fast path modified its input"
    if applied is None:
        return False
    fast, added = applied
    # The members it reports added are exactly the new objects in its result.
    kept = {id(m) for m in resource.get("members", [])}
    assert [m for m in fast.get("members", []) if id(m) not in kept] == added
    assert not isinstance(expected, ScimError), f"fast path accepted what fails: {expected}"
    # Same content and attribute order. (Inside a member, the general path lists keys in the
    # schema's order, the fast path keeps the stored order: JSON objects are unordered.)
    assert fast == expected
    assert list(fast) == list(expected)
    return True


@pytest.mark.parametrize(
    "name",
    [
        "okta-patch-group-membership.json",
        "entra-patch-group-remove-member.json",
        "jumpcloud-patch-group-remove-member.json",
        "rfc7644-3.5.2.1-patch-add-members.json",
    ],
)
def test_idp_membership_patches_take_the_fast_path(name):
    body = sample(name)
    present = [
        "89bb1940-b905-4575-9e7f-6f887cfb368e",
        "u1091",
        "5107a4e4-0b11-4e77-8dcf-c8c6978d40ac",
        *IDS[:3],
    ]
    assert check(stored_group(present), body)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "members", "value": [{"value": IDS[0]}]},
        {"op": "remove", "path": "members"},
        {"op": "add", "path": "members", "value": None},
        {"op": "add", "path": "members", "value": [None]},
        {"op": "remove", "path": "members", "value": [{"display": "user"}]},
        {"op": "remove", "path": 'members[display eq "x"]'},
        {"op": "remove", "path": 'members[value ne "x"]'},
        {"op": "replace", "path": "displayName", "value": "Renamed"},
        {"op": "add", "path": "members.value", "value": IDS[5]},
        {"op": "add", "value": {"members": [{"value": IDS[5]}]}},
    ],
)
def test_other_operations_take_the_general_path(operation):
    assert membership.plan(load_patch(patch_op(operation)), GROUP_TYPE) is None


def test_users_have_no_fast_path():
    operation = {"op": "add", "path": "members", "value": [{"value": IDS[0]}]}
    assert membership.plan(load_patch(patch_op(operation)), USER_TYPE) is None


def test_removing_the_last_member_unassigns_members():
    group = stored_group([IDS[0]])
    assert check(group, patch_op({"op": "remove", "path": f'members[value eq "{IDS[0]}"]'}))


def test_invalid_added_values_fall_back_to_the_general_errors():
    group = stored_group(IDS[:2])
    body = patch_op({"op": "add", "path": "members", "value": [{"value": 42}]})
    assert not check(group, body)
    assert isinstance(general(group, load_patch(body)), ScimError)


def _random_item(rng: random.Random) -> object:
    value = rng.choice(IDS)
    value = value.upper() if rng.random() < 0.15 else value
    item: dict = {rng.choice(["value", "value", "Value", "VALUE"]): value}
    extra = rng.random()
    if extra < 0.2:
        item["display"] = "Someone"
    elif extra < 0.3:
        item["$ref"] = f"https://example.com/Users/{value}"
    elif extra < 0.35:
        item["type"] = rng.choice(["User", "Group"])
    elif extra < 0.4:
        item["unknown"] = 1
    elif extra < 0.43:
        item = {"display": "no value"}
    elif extra < 0.45:
        return rng.choice([None, "bare-string", 7])
    return item


def _random_operation(rng: random.Random) -> dict:
    shape = rng.random()
    items = [_random_item(rng) for _ in range(rng.randint(0, 3))]
    if shape < 0.45:
        value = items if rng.random() < 0.9 else (items[0] if items else {})
        return {"op": rng.choice(["add", "Add"]), "path": "members", "value": value}
    if shape < 0.75:
        value = rng.choice(IDS)
        value = value.upper() if rng.random() < 0.3 else value
        path = rng.choice(["members", "Members", f"{GROUP}:members"])
        return {"op": "remove", "path": f'{path}[value eq "{value}"]'}
    if shape < 0.95:
        return {"op": rng.choice(["remove", "Remove"]), "path": "members", "value": items}
    return {"op": "replace", "path": "displayName", "value": "Renamed"}


@pytest.mark.parametrize("seed", range(400))
def test_random_membership_patches_agree_with_the_general_engine(seed):
    rng = random.Random(seed)
    group = stored_group(rng.sample(IDS, rng.randint(0, 8)))
    operations = [_random_operation(rng) for _ in range(rng.randint(1, 4))]
    check(group, patch_op(*operations))


def test_random_patches_mostly_take_the_fast_path():
    rng = random.Random(1)
    taken = 0
    for _ in range(200):
        group = stored_group(rng.sample(IDS, rng.randint(0, 8)))
        taken += check(group, patch_op(_random_operation(rng)))
    assert taken > 100
