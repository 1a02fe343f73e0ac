"""The change feed folded from the start and the application API agree, through HTTP on both
backends, where they once did not: a held deletion of a group's member (the group's version,
time, member count and members) while held, after a later change of the group, after Apply,
and after Discard (when the group is as it was before the deletion), also for a held user who
joined the group after its first held change; a held or discarded deleted user's groups once
one of them is deleted; and a user kept under the "deactivate" policy (its version)."""

from __future__ import annotations

import pytest

from lifecycle import holds
from lifecycle.policy import Policy
from providers import set_policy
from tests.conftest import patch_op
from tests.feedtools import fold, user_groups

# Trips on the third deprovisioning of five users (more than 2, and more than 10 %).
GUARD = Policy(guard_users=2, guard_percent=10)


def feed(api) -> list[dict]:
    """The whole change feed, as a consumer reads it from the application API."""
    found, after = [], 0
    while True:
        page = api.ok("/events", after=after, limit=1000)
        found += page["data"]
        after = page["next_after"]
        if not page["has_more"]:
            return found


def shown(api, gid: str) -> tuple[dict, set[str]]:
    """The group and its member ids as the application API shows them."""
    group = api.ok(f"/groups/{gid}")["data"]
    return group, {m["id"] for m in api.walk(f"/groups/{gid}/members")}


def version(group: dict) -> str:
    return group["scim"]["meta"]["version"]


def agree(api, gid: str) -> tuple[dict, set[str]]:
    """Assert the folded feed shows the group as the application API does; return it."""
    folded = fold(feed(api))
    group, members = shown(api, gid)
    assert folded.groups[gid] == group
    assert folded.versions[gid] == version(group)
    assert folded.members[gid] == members
    assert group["member_count"] == len(members)
    return group, members


def hold_deletions(scim, store, fake_clock, *others: str) -> tuple[list[str], str, dict]:
    """Five users in one group (and the last three in each group of ``others``); the IdP
    deletes three, and the third deletion is held."""
    set_policy(store, scim.id, GUARD)
    ids = [scim.create_user(f"user{n}")["id"] for n in range(5)]
    gid = scim.create_group("Everyone", tuple(ids))["id"]
    for name in others:
        scim.create_group(name, tuple(ids[2:]))
    for uid in ids[:3]:
        assert scim.delete(f"/Users/{uid}").status_code == 204
        fake_clock.advance(seconds=2)
    (hold,) = holds.holds(store, open_only=True)
    return ids, gid, hold


@pytest.fixture
def held_member(scim, store, fake_clock):
    return hold_deletions(scim, store, fake_clock)


def test_a_held_deletion_leaves_the_group_as_the_feed_told_it(scim, api, held_member):
    ids, gid, _ = held_member
    assert {m["value"] for m in scim.get(f"/Groups/{gid}").get_json()["members"]} == set(ids[3:])
    group, members = agree(api, gid)
    assert members == set(ids[2:])  # the held deletion's member is still there
    # A later change of the group reaches the applications, counting the held member.
    new = scim.create_user("late")["id"]
    add = {"op": "add", "path": "members", "value": [{"value": new}]}
    assert scim.patch(f"/Groups/{gid}", patch_op(add)).status_code == 200
    later, members = agree(api, gid)
    assert members == {*ids[2:], new} and version(later) != version(group)


@pytest.mark.parametrize("change_after", [False, True])
def test_apply_tells_the_removal_and_feed_and_api_agree(
    scim, store, api, fake_clock, held_member, change_after
):
    ids, gid, hold = held_member
    if change_after:  # the group changed after the deletion, before Apply
        rename = {"op": "replace", "path": "displayName", "value": "All"}
        assert scim.patch(f"/Groups/{gid}", patch_op(rename)).status_code == 200
    holds.apply(store, hold["id"], fake_clock(), "ada")
    group, members = agree(api, gid)
    assert members == set(ids[3:])
    (removal,) = [e for e in feed(api) if e["type"] == "group.members_removed"][-1:]
    assert removal["member_ids"] == [ids[2]]
    assert removal["resource"]["display_name"] == group["name"]
    assert version(group) == scim.get(f"/Groups/{gid}").get_json()["meta"]["version"]


def test_discard_leaves_the_group_as_it_was(scim, store, api, fake_clock, held_member):
    ids, gid, hold = held_member
    before, _ = shown(api, gid)
    holds.discard(store, hold["id"], fake_clock(), "ada")
    group, members = agree(api, gid)
    assert members == set(ids[2:])
    assert group == before
    # The IdP gives the user back: the applications learn it left the group meanwhile.
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "user2"}
    assert scim.post("/Users", body).get_json()["id"] == ids[2]
    _, members = agree(api, gid)
    assert members == set(ids[3:])


def test_a_deleted_group_is_not_brought_back_by_apply(scim, store, api, fake_clock, held_member):
    ids, gid, hold = held_member
    assert scim.delete(f"/Groups/{gid}").status_code == 204
    holds.apply(store, hold["id"], fake_clock(), "ada")
    assert gid not in fold(feed(api)).groups
    api.problem(f"/groups/{gid}", 404)


@pytest.mark.parametrize("how", ["keep", "discard"])
def test_a_group_deleted_later_leaves_the_held_users_groups(scim, store, api, fake_clock, how):
    ids, gid, hold = hold_deletions(scim, store, fake_clock, "Others")
    if how == "discard":
        holds.discard(store, hold["id"], fake_clock(), "ada")
    (other,) = [g["value"] for g in scim.get(f"/Users/{ids[3]}").get_json()["groups"]
                if g["display"] == "Others"]  # fmt: skip
    rename = {"op": "replace", "path": "displayName", "value": "Rest"}
    assert scim.patch(f"/Groups/{other}", patch_op(rename)).status_code == 200
    assert scim.delete(f"/Groups/{gid}").status_code == 204  # the feed says group.deleted
    # The group is gone for the applications: the held user is in the other one alone, as
    # it is named now.
    folded = fold(feed(api))
    assert gid not in folded.groups
    groups = api.ok(f"/users/{ids[2]}")["data"]["groups"]
    assert groups == [{"id": other, "name": "Rest"}]
    assert user_groups(folded)[ids[2]] == {other: "Rest"}


def test_a_held_user_who_joined_a_group_then_was_deleted_is_still_in_it(scim, store, api):
    set_policy(store, scim.id, GUARD)
    ids = [scim.create_user(f"user{n}")["id"] for n in range(5)]
    deactivate = {"op": "replace", "path": "active", "value": False}
    for uid in ids[:3]:  # the third deactivation is held
        assert scim.patch(f"/Users/{uid}", patch_op(deactivate)).status_code == 200
    assert holds.holds(store, open_only=True)
    # Memberships are never held: the applications see the held user join a group.
    gid = scim.create_group("Late", (ids[2],))["id"]
    assert [g["id"] for g in api.ok(f"/users/{ids[2]}")["data"]["groups"]] == [gid]
    assert scim.delete(f"/Users/{ids[2]}").status_code == 204  # held, with it
    _, members = agree(api, gid)
    assert members == {ids[2]}
    assert [g["id"] for g in api.ok(f"/users/{ids[2]}")["data"]["groups"]] == [gid]


def test_a_kept_user_is_at_the_version_its_deactivation_told(scim, store, api):
    set_policy(store, scim.id, Policy(on_delete="deactivate"))
    uid = scim.create_user("kept")["id"]
    assert scim.delete(f"/Users/{uid}").status_code == 204
    folded = fold(feed(api))
    user = api.ok(f"/users/{uid}")["data"]
    assert user["active"] is False
    assert folded.versions[uid] == user["scim"]["meta"]["version"]
    assert folded.users[uid] == {k: v for k, v in user.items() if k != "groups"}
