"""RFC 7644 §3.5.2's own PATCH examples (tests/samples/rfc7644-3.5.2.*), validated at the edge
and applied by the PATCH engine to the RFC 7643 §8 resources they were written against."""

from __future__ import annotations

import copy

import pytest

from scim.core.messages import load_patch
from scim.core.models import load_resource
from scim.core.patch import apply_patch
from scim.core.schemas import GROUP_TYPE, USER_TYPE
from tests.conftest import sample

BABS = "2819c223-7f76-453a-919d-413861904646"
MANDY = "902c246b-6245-4190-8e05-00816be7344a"
JAMES = "08e1d05d-121c-4561-8b96-473d93df9210"
HOME = {"value": "babs@jensen.org", "type": "home"}
WORK = {"value": "bjensen@example.com", "type": "work", "primary": True}


def patched(name: str, resource: dict, rtype) -> dict:
    """Load the sample ``name`` as a PatchOp and apply it to a copy of ``resource``."""
    return apply_patch(copy.deepcopy(resource), load_patch(sample(name)), rtype)


@pytest.fixture
def babs() -> dict:
    """Barbara Jensen as RFC 7643 §8.2 stores her: a work and a home email, two addresses."""
    return load_resource(USER_TYPE, sample("rfc7643-8.2-full-user.json"))


@pytest.fixture
def tour_guides() -> dict:
    """RFC 7643 §8.4's group: Babs Jensen and Mandy Pepperidge."""
    group = load_resource(GROUP_TYPE, sample("rfc7643-8.4-group.json"))
    assert [m["value"] for m in group["members"]] == [BABS, MANDY]
    return group


def member_ids(group: dict) -> list[str]:
    return [member["value"] for member in group.get("members") or []]


# --- §3.5.2.1 add ---------------------------------------------------------------------------


def test_add_without_a_path_adds_an_email_and_sets_the_nickname(babs):
    # The §3.5.2.1 example adds Babs's home email and nickname: start from her without them.
    babs["emails"] = [WORK]
    del babs["nickName"]
    user = patched("rfc7644-3.5.2.1-patch-add-emails.json", babs, USER_TYPE)
    assert user["emails"] == [WORK, HOME]
    assert user["nickName"] == "Babs"  # sent as "nickname": names are case-insensitive


def test_adding_an_email_that_is_there_already_changes_nothing(babs):
    # RFC 7644 §3.5.2.1: a value already present is not added again.
    user = patched("rfc7644-3.5.2.1-patch-add-emails.json", babs, USER_TYPE)
    assert user["emails"] == [WORK, HOME]


def test_add_members(tour_guides):
    del tour_guides["members"]
    group = patched("rfc7644-3.5.2.1-patch-add-members.json", tour_guides, GROUP_TYPE)
    assert member_ids(group) == [BABS]
    assert group["members"][0]["display"] == "Babs Jensen"


# --- §3.5.2.2 remove ------------------------------------------------------------------------


def test_remove_one_member_by_filter(tour_guides):
    group = patched("rfc7644-3.5.2.2-patch-remove-member.json", tour_guides, GROUP_TYPE)
    assert member_ids(group) == [MANDY]


def test_remove_all_members(tour_guides):
    group = patched("rfc7644-3.5.2.2-patch-remove-all-members.json", tour_guides, GROUP_TYPE)
    assert member_ids(group) == []
    assert group["displayName"] == "Tour Guides"


def test_remove_the_values_a_complex_filter_selects(babs):
    user = patched("rfc7644-3.5.2.2-patch-remove-work-emails.json", babs, USER_TYPE)
    assert user["emails"] == [HOME]  # the work email ends with example.com; the home one stays


def test_remove_one_member_and_add_another(tour_guides):
    # The RFC's filter here reads `value eq"…"`, with no space before the quote: taken as is.
    body = sample("rfc7644-3.5.2.2-patch-remove-and-add-member.json")
    assert 'eq"' in body["Operations"][0]["path"]
    group = patched("rfc7644-3.5.2.2-patch-remove-and-add-member.json", tour_guides, GROUP_TYPE)
    assert member_ids(group) == [MANDY, JAMES]


# --- §3.5.2.3 replace -----------------------------------------------------------------------


def test_replace_all_members_by_remove_then_add(tour_guides):
    group = patched("rfc7644-3.5.2.3-patch-replace-members.json", tour_guides, GROUP_TYPE)
    assert member_ids(group) == [BABS, JAMES]


def test_replace_the_whole_work_address(babs):
    user = patched("rfc7644-3.5.2.3-patch-replace-work-address.json", babs, USER_TYPE)
    work, home = user["addresses"]
    assert work["streetAddress"] == "911 Universal City Plaza" and work["country"] == "US"
    assert work["type"] == "work" and work["primary"] is True
    assert home == babs["addresses"][1]


def test_replace_one_sub_attribute_of_the_work_address(babs):
    user = patched("rfc7644-3.5.2.3-patch-replace-street-address.json", babs, USER_TYPE)
    work, home = user["addresses"]
    assert work == {**babs["addresses"][0], "streetAddress": "1010 Broadway Ave"}
    assert home == babs["addresses"][1]


def test_replace_without_a_path_sets_every_email_and_the_nickname(babs):
    babs["emails"] = [{"value": "old@example.com", "type": "other"}]
    del babs["nickName"]
    user = patched("rfc7644-3.5.2.3-patch-replace-emails.json", babs, USER_TYPE)
    assert user["emails"] == [WORK, HOME]
    assert user["nickName"] == "Babs"
    assert user["userName"] == babs["userName"]  # other attributes are unaffected
