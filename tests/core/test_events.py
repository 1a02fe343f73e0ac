"""Change events derived from (before, after): scim/core/events.py, plain functions over dicts."""

from __future__ import annotations

import pytest

from scim.core import events

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def user(**attributes) -> dict:
    meta = {"created": "2026-01-01T00:00:00.000Z", "lastModified": "2026-01-01T00:00:00.000Z"}
    base = {"id": "u1", "userName": "ada", "active": True, "meta": {**meta, "version": 'W/"1"'}}
    return {**base, **attributes}


def group(*members: str, **attributes) -> dict:
    base = {"id": "g1", "displayName": "Staff", "meta": {"version": 'W/"g"'}}
    if members:
        base["members"] = [{"value": m, "type": "User"} for m in members]
    return {**base, **attributes}


def types(drafts: list[dict]) -> list[str]:
    return [d["type"] for d in drafts]


def test_a_new_user_is_created_with_its_shape_and_version():
    (created,) = events.drafts("User", None, user(), "idp1")
    assert created["type"] == "user.created"
    assert created["resource"] == {
        "type": "user",
        "id": "u1",
        "version": 'W/"1"',
        "external_id": None,
        "username": "ada",
    }
    assert created["data"]["username"] == "ada" and created["data"]["idp"] == "idp1"
    assert "changed" not in created


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (True, False, "user.deactivated"),
        (None, False, "user.deactivated"),  # absent means active (RFC 7643 §4.1.1)
        (False, True, "user.reactivated"),
        (False, None, "user.reactivated"),
    ],
)
def test_active_flips_are_deactivations_and_reactivations(before, after, expected):
    old = {k: v for k, v in user(active=before).items() if v is not None}
    new = {k: v for k, v in user(active=after, meta={"version": 'W/"2"'}).items() if v is not None}
    (draft,) = events.drafts("User", old, new, "idp1")
    assert draft["type"] == expected
    assert draft["changed"] == ["active"]
    assert draft["resource"]["version"] == 'W/"2"'
    assert draft["data"]["active"] is (expected == "user.reactivated")


def test_changed_names_fields_of_the_application_shape_and_scim_paths():
    old = user(emails=[{"value": "a@x", "primary": True}], title="Eng", _password="h1")
    new = user(
        userName="ada.l",
        emails=[{"value": "b@x", "primary": True}],
        title="CTO",
        _password="h2",
        **{ENTERPRISE: {"department": "R&D"}},
    )
    (draft,) = events.drafts("User", old, new, "idp1")
    assert draft["type"] == "user.updated"
    assert draft["changed"] == [
        "emails",
        "password",
        "primary_email",
        "scim.title",
        f"scim.{ENTERPRISE}:department",
        "username",
    ]
    assert "_password" not in draft["data"]["scim"]  # a hash never leaves the server


def test_a_write_that_changes_nothing_records_nothing():
    assert events.drafts("User", user(), user(meta={"version": 'W/"new"'}), "idp1") == []
    assert events.unchanged(user(), user(meta={}))
    assert not events.unchanged(user(), user(title="x"))
    assert not events.unchanged(user(title="x"), user())
    assert events.drafts("Group", group("a", "b"), group("a", "b"), "idp1") == []
    # Members have no order (RFC 7643 §2.4): a PUT listing them otherwise changes nothing.
    assert events.unchanged(group("a", "b"), group("b", "a"))
    assert not events.unchanged(group("a", "b"), group("b", "c"))


def test_members_told_apart_otherwise_are_an_update():
    old, new = group("a"), group("a")
    new["members"][0]["display"] = "Ann"
    (draft,) = events.drafts("Group", old, new, "idp1")
    assert draft["type"] == "group.updated" and draft["changed"] == ["members"]


def test_deleting_an_active_user_deactivates_it_first():
    deactivated, deleted = events.drafts(
        "User", user(), None, "idp1", groups=[{"id": "g1", "displayName": "Staff"}], version="v9"
    )
    assert types([deactivated, deleted]) == ["user.deactivated", "user.deleted"]
    # The deletion carries a new version (an app that has seen the last one must not drop
    # it) and the user's last state, inactive, with its groups.
    assert deactivated["resource"]["version"] == deleted["resource"]["version"] == "v9"
    assert deleted["data"]["active"] is False
    assert deleted["data"]["groups"] == [{"id": "g1", "name": "Staff"}]


def test_deleting_an_inactive_user_records_the_deletion_only():
    assert types(events.drafts("User", user(active=False), None, "i", version="v")) == [
        "user.deleted"
    ]


def test_a_group_created_with_members_lists_them_after_the_creation():
    drafts = events.drafts("Group", None, group("a", "b"), "idp1")
    assert types(drafts) == ["group.created", "group.members_added"]
    assert drafts[1]["member_ids"] == ["a", "b"]
    assert drafts[0]["data"]["member_count"] == 2 and "members" not in drafts[0]["data"]["scim"]


def test_membership_changes_come_in_chunks_of_at_most_1000_ids():
    old = group(*(f"old{i}" for i in range(1500)))
    new = group(*(f"new{i}" for i in range(2001)), displayName="Everyone")
    drafts = events.drafts("Group", old, new, "idp1")
    assert (
        types(drafts)
        == ["group.updated"] + ["group.members_removed"] * 2 + ["group.members_added"] * 3
    )
    assert drafts[0]["changed"] == ["name"]
    removed = [i for d in drafts if d["type"] == "group.members_removed" for i in d["member_ids"]]
    added = [i for d in drafts if d["type"] == "group.members_added" for i in d["member_ids"]]
    assert removed == [f"old{i}" for i in range(1500)]
    assert added == [f"new{i}" for i in range(2001)]
    assert max(len(d.get("member_ids", ())) for d in drafts) == events.CHUNK


def test_a_store_that_knows_the_member_delta_passes_it():
    drafts = events.drafts("Group", group("a"), group("a", "b"), "i", added=["b"], removed=[])
    assert [(d["type"], d["member_ids"]) for d in drafts] == [("group.members_added", ["b"])]


def test_member_change_ignores_order_and_duplicates():
    assert events.member_change(group("a", "b", "c"), group("c", "b", "d", "d")) == (["d"], ["a"])
    assert events.member_change(None, group("a")) == (["a"], [])


def test_a_deleted_group_records_only_its_deletion():
    (deleted,) = events.drafts("Group", group("a"), None, "i", version="v2")
    assert deleted["type"] == "group.deleted" and deleted["resource"]["version"] == "v2"


def test_stamp_orders_the_fields_as_documented():
    (draft,) = events.drafts("User", user(), user(active=False), "i")
    idp = events.idp_ref("i", {"name": "Okta", "kind": "okta"})
    source = {"method": "PATCH", "path": "/scim/v2/i/Users/u1", "request_id": "r1"}
    event = events.stamp(draft, id="e1", seq=7, occurred_at="t", idp=idp, source=source)
    assert list(event) == [
        "id", "seq", "type", "occurred_at", "idp", "resource", "data", "changed", "source",
    ]  # fmt: skip
    assert event["idp"] == {"id": "i", "name": "Okta", "kind": "okta"}
    assert "seq" not in events.stamp(draft, id="e", seq=None, occurred_at="t", idp=idp, source=None)
