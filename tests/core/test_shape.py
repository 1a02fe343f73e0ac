"""The application shape (scim/core/shape.py): plain functions over stored SCIM resources."""

from scim.core import shape

USER = {
    "id": "u1",
    "externalId": "x-1",
    "userName": "ada@example.com",
    "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
    "displayName": "Ada",
    "emails": [
        {"value": "ada@work.example", "type": "work"},
        {"value": "ada@example.com", "type": "home", "primary": True},
    ],
    "meta": {"created": "2026-01-01T00:00:00Z", "lastModified": "2026-01-02T00:00:00Z"},
}


def test_user_shape_flattens_names_and_picks_the_primary_email():
    out = shape.user(USER, "idp1", [{"id": "g1", "displayName": "Staff"}])
    assert out["username"] == "ada@example.com"
    assert out["name"] == {"given": "Ada", "family": "Lovelace", "formatted": "Ada Lovelace"}
    assert out["primary_email"] == "ada@example.com"
    assert out["emails"][0] == {"value": "ada@work.example", "type": "work", "primary": False}
    assert out["groups"] == [{"id": "g1", "name": "Staff"}]
    assert (out["created"], out["updated"]) == ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    assert out["scim"] is USER


def test_internal_fields_never_leave_in_the_scim_member():
    stored = {**USER, "_password": "scrypt$hash"}
    out = shape.user(stored, "i", [])
    assert "_password" not in out["scim"] and out["scim"] == USER
    assert "_password" not in shape.group({**stored, "members": []}, "i")["scim"]


def test_user_shape_active_unless_set_false():
    assert shape.user(USER, "i", [])["active"] is True
    assert shape.user({**USER, "active": False}, "i", [])["active"] is False


def test_primary_email_falls_back_to_the_first_then_none():
    assert shape.primary_email([{"value": "a@x"}, {"value": "b@x"}]) == "a@x"
    assert shape.primary_email([]) is None
    assert shape.primary_email([{"type": "work"}]) is None


def test_group_shape_leaves_members_out():
    group = {"id": "g1", "displayName": "Staff", "members": [{"value": "u1"}, {"value": "u2"}]}
    out = shape.group(group, "idp1")
    assert out["name"] == "Staff" and out["member_count"] == 2
    assert "members" not in out["scim"] and out["scim"]["displayName"] == "Staff"
