"""Members of large Groups rendered ahead (``scim.rendered``): the splice as plain functions,
the cache and its bound, a property over random edits, and answers over HTTP that must equal
the ones rendered anew, step by step as IdPs drive a group."""

from __future__ import annotations

import copy
from functools import partial

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scim import groups, rendered
from scim.rendered import Rendered, _cut, _join, splice
from tests.conftest import patch_op, sample

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
BASE = "https://roster.example/scim/v2/idp"
# Derandomized like tests/security (its profile applies only there): the same examples on
# every run, no example database in the work tree. The function-scoped fixtures (the clean
# environment, the emptied cache) are autouse ones that the examples do not touch.
PROPERTY = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def encode(members: list) -> bytes:
    return orjson.dumps(members)


def member(n: int, **extra: str) -> dict:
    return {"value": f"id-{n}", "type": "User", **extra}


def members(count: int) -> list[dict]:
    return [member(n) for n in range(count)]


class Encoder:
    """``encode``, remembering how many members each call was given."""

    def __init__(self):
        self.calls: list[int] = []

    def __call__(self, members: list) -> bytes:
        self.calls.append(len(members))
        return encode(members)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Keep one test's renderings (the module-level cache of scim.groups) out of the next."""
    groups.RENDERED.clear()
    yield
    groups.RENDERED.clear()


# --- splice, _join, _cut ----------------------------------------------------------------------


@pytest.mark.parametrize("before", [0, 1, 3])
@pytest.mark.parametrize("appended", [1, 3])
def test_splice_appends(before, appended):
    old = members(before)
    new = old + [member(100 + n) for n in range(appended)]
    assert splice(old, encode(old), new, encode) == encode(new)


@pytest.mark.parametrize("size, at", [(4, 0), (4, 2), (4, 3), (1, 0), (2, 0), (2, 1)])
def test_splice_removes_one(size, at):
    old = members(size)
    new = old[:at] + old[at + 1 :]
    assert splice(old, encode(old), new, encode) == encode(new)


def test_splice_of_an_unchanged_list_is_the_data_itself():
    old = members(3)
    data = encode(old)
    assert splice(old, data, list(old), encode) is data
    assert splice(old, data, copy.deepcopy(old), encode) is data  # equal, not the same objects


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda old: old[::-1], id="reordered"),
        pytest.param(lambda old: old[1:3], id="two-removed"),
        pytest.param(lambda old: old[:1] + old[2:3], id="two-removed-apart"),
        pytest.param(lambda old: old[:1] + [member(9)] + old[1:], id="inserted"),
        pytest.param(lambda old: old[:1] + [member(9)] + old[2:], id="one-replaced"),
        pytest.param(lambda old: old[1:] + [member(9)], id="removed-and-appended"),
        pytest.param(lambda old: [member(0, display="Ann")] + old[1:], id="one-edited"),
    ],
)
def test_splice_refuses_other_changes(change):
    old = members(4)
    assert splice(old, encode(old), change(old), encode) is None


def test_splice_removes_one_from_equal_copies():
    old = members(4)
    new = copy.deepcopy(old[:2] + old[3:])
    assert splice(old, encode(old), new, encode) == encode(new)


TRICKY = [
    '{"value":"id-1"}',
    "},{",
    '"},{"value":"',
    "]",
    "[",
    '"',
    "\\",
    '\\"',
    "a\\",
    "é \u2028 😀",
    "",
]


@pytest.mark.parametrize("at", range(len(TRICKY) + 1))  # the last one holds a member's JSON
def test_splice_is_exact_whatever_the_strings_hold(at):
    old = [{"value": f"v{n}", "display": text} for n, text in enumerate(TRICKY)]
    old.append({"value": '{"value":"v0","display":"{\\"value\\":\\"id-1\\"}"}'})
    data = encode(old)
    new = old[:at] + old[at + 1 :]
    assert splice(old, data, new, encode) == encode(new)
    appended = old + [{"value": text, "display": text} for text in TRICKY]
    assert splice(old, data, appended, encode) == encode(appended)


def test_splice_never_cuts_an_object_nested_in_another():
    # The removed member's JSON also occurs inside the first one: there is no telling which
    # to cut, so the answer is None (rendered anew) or exact, never the wrong cut.
    old = [{"value": "a", "x": {"value": "b"}}, {"value": "b"}, {"value": "c"}]
    new = [old[0], old[2]]
    assert splice(old, encode(old), new, encode) in (None, encode(new))


def test_splice_of_a_duplicate_member_is_none_or_exact():
    old = [member(1), member(2), member(1)]
    new = old[:2]
    assert splice(old, encode(old), new, encode) in (None, encode(new))


@pytest.mark.parametrize(
    "first, second",
    [([], []), ([], [1]), ([1], []), ([1], [2]), ([1, 2], [3, 4]), ([{"a": "]"}], [{"b": "["}])],
)
def test_join_concatenates_arrays(first, second):
    assert _join(encode(first), encode(second)) == encode(first + second)


def test_cut_removes_the_element_it_finds_once():
    data = encode([member(1), member(2), member(3)])
    element = encode([member(2)])[1:-1]
    assert _cut(data, element) == encode([member(1), member(3)])


@pytest.mark.parametrize(
    "data, element",
    [
        pytest.param(encode([1, 2, 3]), b"2", id="not-an-object"),
        pytest.param(encode([member(1)]), encode([member(2)])[1:-1], id="absent"),
        pytest.param(encode([member(1), member(1)]), encode([member(1)])[1:-1], id="twice"),
        pytest.param(encode([{"a": member(1)}]), encode([member(1)])[1:-1], id="nested-only"),
        pytest.param(encode([member(1)]), encode([member(1)])[1:-2], id="not-whole"),
    ],
)
def test_cut_refuses_what_it_cannot_cut_exactly(data, element):
    assert _cut(data, element) is None


# --- the cache --------------------------------------------------------------------------------


def test_members_splices_from_the_last_rendering():
    cache, encoder = Rendered(), Encoder()
    old = members(5)
    assert cache.members("g", old, encoder) == encode(old)
    assert encoder.calls == [5]
    assert cache.members("g", old, encoder) == encode(old)
    assert encoder.calls == [5], "an unchanged list is not encoded again"
    grown = old + [member(7)]
    assert cache.members("g", grown, encoder) == encode(grown)
    assert encoder.calls == [5, 1], "only the appended member is encoded"
    shrunk = grown[:2] + grown[3:]
    assert cache.members("g", shrunk, encoder) == encode(shrunk)
    assert encoder.calls == [5, 1, 1], "only the removed member is encoded"
    reordered = shrunk[::-1]
    assert cache.members("g", reordered, encoder) == encode(reordered)
    assert encoder.calls == [5, 1, 1, 5]


def test_members_are_kept_apart_by_key():
    cache = Rendered()
    first, second = members(3), [member(9)]
    cache.members("a", first, encode)
    cache.members("b", second, encode)
    grown = first + [member(10)]
    assert cache.members("a", grown, encode) == encode(grown)
    assert cache.members("b", second, encode) == encode(second)


def test_the_least_recently_rendered_key_is_dropped_first():
    cache = Rendered(size=2)
    lists = {key: members(n + 2) for n, key in enumerate("abc")}
    cache.members("a", lists["a"], encode)
    cache.members("b", lists["b"], encode)
    cache.members("a", lists["a"], encode)  # a is now more recent than b
    cache.members("c", lists["c"], encode)  # one too many: b goes
    encoder = Encoder()
    for key in "acb":
        assert cache.members(key, lists[key], encoder) == encode(lists[key])
    assert encoder.calls == [len(lists["b"])], "a and c were kept, b rendered anew"


def test_renderings_are_kept_within_a_byte_budget():
    lists = {key: members(4) for key in "abc"}
    size = len(encode(lists["a"]))
    cache = Rendered(budget=2 * size)  # room for two of the three
    for key in "abc":
        cache.members(key, lists[key], encode)
    encoder = Encoder()
    for key in "bca":
        assert cache.members(key, lists[key], encoder) == encode(lists[key])
    assert encoder.calls == [4], "b and c were kept, a (the oldest) rendered anew"
    huge = Rendered(budget=size - 1)  # a rendering over the budget is never kept
    huge.members("a", lists["a"], encode)
    huge.members("a", lists["a"], encoder)
    assert encoder.calls == [4, 4]


def test_clear_forgets_every_rendering():
    cache, encoder = Rendered(), Encoder()
    old = members(3)
    cache.members("g", old, encoder)
    cache.clear()
    cache.members("g", old, encoder)
    assert encoder.calls == [3, 3]


# --- properties -------------------------------------------------------------------------------

# Characters JSON escapes, and the ones a splice looks for.
TEXT = st.text(alphabet=st.sampled_from('ab{}[],:"\\ é\u2028\x00'), max_size=6)
MEMBER = st.fixed_dictionaries(
    {"value": TEXT}, optional={"display": TEXT, "type": st.sampled_from(["User", "Group"])}
)
ENCODERS = [
    pytest.param(encode, id="orjson"),
    pytest.param(partial(groups._encode, BASE), id="groups"),
]


def edited(data, old: list) -> list:
    """``old`` changed the ways a group's members change."""
    how = data.draw(
        st.sampled_from(["append", "remove", "same", "copies", "reorder", "replace", "edit"])
    )
    if how == "append":
        return old + data.draw(st.lists(MEMBER, min_size=1, max_size=3))
    if how == "remove" and old:
        at = data.draw(st.integers(0, len(old) - 1))
        return old[:at] + old[at + 1 :]
    if how == "copies":  # equal members, new objects: what a PostgreSQL read returns
        return copy.deepcopy(old)
    if how == "reorder":
        return data.draw(st.permutations(old))
    if how == "replace":
        return data.draw(st.lists(MEMBER, max_size=6))
    if how == "edit" and old:
        at = data.draw(st.integers(0, len(old) - 1))
        return old[:at] + [data.draw(MEMBER)] + old[at + 1 :]
    return list(old)


@pytest.mark.parametrize("encoder", ENCODERS)
@PROPERTY
@given(data=st.data())
def test_rendered_members_always_equal_their_encoding(encoder, data):
    cache = Rendered(size=2)  # three keys: evictions happen along the way
    lists: dict[str, list] = {}
    for _ in range(data.draw(st.integers(1, 30))):
        key = data.draw(st.sampled_from("abc"))
        lists[key] = edited(data, lists.get(key, []))
        assert cache.members(key, lists[key], encoder) == encoder(lists[key])


@pytest.mark.parametrize("encoder", ENCODERS)
@PROPERTY
@given(
    old=st.lists(MEMBER, max_size=8, unique_by=lambda m: m["value"]),
    appended=st.lists(MEMBER, max_size=3),
    at=st.integers(min_value=0),
)
def test_appends_and_single_removals_are_spliced_exactly(encoder, old, appended, at):
    data = encoder(old)
    grown = old + appended
    assert splice(old, data, grown, encoder) == encoder(grown)
    if old:
        at %= len(old)
        shrunk = old[:at] + old[at + 1 :]
        assert splice(old, data, shrunk, encoder) == encoder(shrunk)


# --- over HTTP --------------------------------------------------------------------------------

LARGE = 3  # rendered.LEAST for these tests: a group of 3 is "large"

VIEWS = (
    "",
    "?attributes=members",
    "?attributes=members.value",
    "?attributes=displayName",
    f"?attributes={GROUP}",
    f"?attributes={GROUP}:members",
    "?excludedAttributes=members",
    "?excludedAttributes=members.display",
    "?excludedAttributes=displayName",
)


@pytest.fixture
def large(monkeypatch):
    """Groups of ``LARGE`` members or more are rendered ahead; returns what each splice did."""
    monkeypatch.setattr(rendered, "LEAST", LARGE)
    outcomes: list[str] = []
    real = rendered.splice

    def spy(old, data, new, encode):
        result = real(old, data, new, encode)
        outcomes.append("kept" if result is data else "anew" if result is None else "spliced")
        return result

    monkeypatch.setattr(rendered, "splice", spy)
    return outcomes


def uncached(scim, monkeypatch, path: str, **kwargs) -> dict:
    """The answer to GET ``path`` with every group's members rendered anew."""
    with monkeypatch.context() as m:
        m.setattr(rendered, "LEAST", 10**9)
        response = scim.get(path, **kwargs)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def check(scim, monkeypatch, response, group_id: str, expected: list[str]) -> dict:
    """``response`` (to a write of the group, or a GET) and every view of the group answer as
    if rendered anew; the group holds the ``expected`` member ids, in that order."""
    path = f"/Groups/{group_id}"
    fresh = uncached(scim, monkeypatch, path)
    if response is not None:
        assert response.status_code in (200, 201), response.get_json()
        assert response.get_json() == fresh
    assert [m["value"] for m in fresh.get("members", [])] == expected
    if not expected:
        assert "members" not in fresh
    for view in VIEWS:
        cached = scim.get(path + view)
        assert cached.status_code == 200, (view, cached.get_json())
        assert cached.get_json() == uncached(scim, monkeypatch, path + view), view
    for view in ("/Groups", "/Groups?attributes=members", "/Groups?excludedAttributes=members"):
        assert scim.get(view).get_json() == uncached(scim, monkeypatch, view), view
    return fresh


def add(*ids: str, display: str | None = None) -> dict:
    value = [{"value": i, **({"display": display} if display else {})} for i in ids]
    return patch_op({"op": "add", "path": "members", "value": value})


def remove_by_filter(id: str) -> dict:
    return patch_op({"op": "remove", "path": f'members[value eq "{id}"]'})


def remove_by_value(*ids: str) -> dict:
    return patch_op({"op": "remove", "path": "members", "value": [{"value": i} for i in ids]})


def test_a_large_group_answers_as_if_rendered_anew_at_every_step(scim, monkeypatch, large):
    users = [scim.create_user(f"user{n}")["id"] for n in range(9)]
    inner = scim.create_group("Inner")["id"]
    created = scim.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Team", "members": [{"value": users[0]}]}
    )
    gid = created.get_json()["id"]
    expected = [users[0]]
    check(scim, monkeypatch, created, gid, expected)

    def step(response, ids):
        expected[:] = ids
        check(scim, monkeypatch, response, gid, expected)

    def patch(body):
        return scim.patch(f"/Groups/{gid}", body)

    u = users
    step(patch(add(u[1], u[2])), [u[0], u[1], u[2]])  # now large
    step(patch(add(u[3], display='Ann "A" \\ },{"value":"x"} ]')), [*expected, u[3]])
    step(patch(add(u[4], inner, u[5])), [*expected, u[4], inner, u[5]])
    step(patch(add(u[4])), expected)  # already a member: nothing changes
    step(patch(remove_by_filter(u[1])), [u[0], u[2], u[3], u[4], inner, u[5]])  # middle
    step(patch(remove_by_value(u[0])), [u[2], u[3], u[4], inner, u[5]])  # first
    step(patch(remove_by_filter(u[5])), [u[2], u[3], u[4], inner])  # last
    step(patch(remove_by_filter(inner)), [u[2], u[3], u[4]])
    step(patch(add(inner, display="Inner")), [u[2], u[3], u[4], inner])
    rename = patch_op({"op": "replace", "path": "displayName", "value": "Renamed"})
    step(patch(rename), expected)
    okta_rename = sample("okta-patch-group-rename.json")
    okta_rename["Operations"][0]["value"]["id"] = gid
    step(patch(okta_rename), expected)

    deleted = scim.delete(f"/Users/{u[3]}")  # the store takes the user out of the group
    assert deleted.status_code == 204
    step(None, [u[2], u[4], inner])

    okta = sample("okta-patch-group-membership.json")  # one out and one in, in one PATCH
    okta["Operations"][0]["path"] = f'members[value eq "{u[2]}"]'
    okta["Operations"][1]["value"][0]["value"] = u[6]
    step(patch(okta), [u[4], inner, u[6]])

    body = {
        "schemas": [GROUP],
        "displayName": "Renamed",
        "members": [{"value": i} for i in (inner, u[7], u[4], u[6])],
    }
    step(scim.put(f"/Groups/{gid}", body), [inner, u[7], u[4], u[6]])
    step(patch(add(u[8], u[0])), [*expected, u[8], u[0]])
    replace = patch_op(
        {"op": "replace", "path": "members", "value": [{"value": i} for i in (u[0], u[1], u[2])]}
    )
    step(patch(replace), [u[0], u[1], u[2]])

    assert "spliced" in large, "appends were spliced from the previous rendering"
    assert "kept" in large, "an unchanged group was not rendered again"
    assert "anew" in large, "a reordering was rendered anew"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda ids: remove_by_filter(ids[2]), id="remove-filter"),
        pytest.param(lambda ids: remove_by_value(ids[0]), id="remove-value"),
        pytest.param(lambda ids: add(ids[4]), id="add"),
    ],
)
def test_membership_patch_answers_are_spliced(scim, monkeypatch, large, body):
    users = [scim.create_user(f"user{n}")["id"] for n in range(5)]
    group = scim.create_group("Team", tuple(users[:4]))
    large.clear()
    response = scim.patch(f"/Groups/{group['id']}", body(users))
    assert large == ["spliced"]
    kept = [m["value"] for m in response.get_json()["members"]]
    check(scim, monkeypatch, response, group["id"], kept)


def test_members_follow_the_base_url_of_each_request(scim, monkeypatch, large):
    ids = tuple(scim.create_user(f"user{n}")["id"] for n in range(LARGE))
    gid = scim.create_group("Team", ids)["id"]
    for base in ("http://localhost", "https://scim.example.org", "http://localhost"):
        response = scim.get(f"/Groups/{gid}", base_url=base)
        assert response.get_json() == uncached(scim, monkeypatch, f"/Groups/{gid}", base_url=base)
        refs = [m["$ref"] for m in response.get_json()["members"]]
        assert refs == [f"{base}/scim/v2/{scim.id}/Users/{i}" for i in ids]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda ids: remove_by_value(*ids), id="remove-value-all"),
        pytest.param(lambda ids: patch_op({"op": "remove", "path": "members"}), id="remove"),
        pytest.param(
            lambda ids: patch_op({"op": "replace", "path": "members", "value": []}), id="replace"
        ),
    ],
)
def test_a_group_with_every_member_removed_has_no_members(scim, monkeypatch, large, body):
    ids = tuple(scim.create_user(f"user{n}")["id"] for n in range(LARGE + 1))
    gid = scim.create_group("Team", ids)["id"]
    response = scim.patch(f"/Groups/{gid}", body(ids))
    assert "members" not in response.get_json()
    check(scim, monkeypatch, response, gid, [])
    # Back to large, from the rendering kept before the group emptied.
    response = scim.patch(f"/Groups/{gid}", add(*ids))
    check(scim, monkeypatch, response, gid, list(ids))


def test_members_removed_one_by_one_down_to_none(scim, monkeypatch, large):
    ids = [scim.create_user(f"user{n}")["id"] for n in range(LARGE + 2)]
    gid = scim.create_group("Team", tuple(ids))["id"]
    while ids:
        gone = ids.pop(len(ids) // 2)
        response = scim.patch(f"/Groups/{gid}", remove_by_filter(gone))
        check(scim, monkeypatch, response, gid, ids)
