"""Cursor pagination of the application API: a walk sees every item exactly once, across
IdPs and pages, while others write; cursors are opaque and refused when not this list's."""

from __future__ import annotations

import random
import threading

import pytest

from appapi import paging
from scim.core.filter import And, AttrPath, Compare, parse_filter
from storage.query import id_bound, run_query
from tests.consoletools import CORE_USER as CORE
from tests.consoletools import seed


@pytest.fixture
def crowd(scim, other, store):
    """17 users in one IdP, 6 in another."""
    seed(store, scim.id, 17, "a")
    seed(store, other.id, 6, "b")
    return {u["id"] for t in (scim, other) for u in store.query("User", t.id)[1]}


@pytest.mark.parametrize("limit", ["1", "4", "23", "500"])
def test_a_walk_sees_every_user_once_in_id_order(api, crowd, limit):
    walked = [u["id"] for u in api.walk("/users", limit=limit)]
    assert walked == sorted(crowd)


def test_pages_have_the_limit_and_say_whether_more_follow(api, crowd):
    first = api.ok("/users", limit="10")
    assert len(first["data"]) == 10 and first["has_more"] and first["next_cursor"]
    second = api.ok("/users", limit="10", cursor=first["next_cursor"])
    third = api.ok("/users", limit="10", cursor=second["next_cursor"])
    assert len(third["data"]) == 3 and not third["has_more"] and third["next_cursor"] is None
    exactly = api.ok("/users", limit="23")  # the whole list: nothing follows it
    assert len(exactly["data"]) == 23 and not exactly["has_more"]


def test_a_filtered_walk_pages_the_matches_only(api, crowd, scim):
    walked = api.walk("/users", limit="2", active="false", idp=scim.id)
    # seed() makes every fourth user inactive: 0, 4, 8, 12, 16.
    assert sorted(u["username"] for u in walked) == [
        f"a-{i:03d}@example.com" for i in (0, 4, 8, 12, 16)
    ]


def test_a_walk_is_stable_while_users_are_added_and_removed(api, crowd, scim, other, store):
    """Users created during a walk may or may not be seen (the feed reports them); every user
    that exists throughout is seen exactly once, whatever is written between pages."""
    chooser = random.Random(7)
    doomed = set(chooser.sample(sorted(crowd), 5))
    seen, cursor, step = [], None, 0
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = api.ok("/users", **query)
        seen += [u["id"] for u in page["data"]]
        # Between pages: new users in both IdPs, and one of the doomed deleted.
        tenant = (scim, other)[step % 2]
        tenant.create_user(f"late-{step}@example.com")
        if doomed:
            victim = doomed.pop()
            owner = scim if store.get("User", scim.id, victim) else other
            assert owner.delete(f"/Users/{victim}").status_code == 204
            crowd.discard(victim)
        step += 1
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)), "an item was seen twice"
    assert crowd <= set(seen), "an item that existed throughout was missed"
    assert seen == sorted(seen)


def test_a_member_walk_is_stable_while_members_change(api, scim, store):
    users = [scim.create_user(f"m{i}")["id"] for i in range(9)]
    group = scim.create_group("Big", tuple(users))
    seen, cursor = [], None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.ok(f"/groups/{group['id']}/members", **query)
        seen += [m["id"] for m in page["data"]]
        scim.create_group(f"g-{len(seen)}", (users[0],))  # writes elsewhere meanwhile
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == sorted(users)


# --- cursors ----------------------------------------------------------------------------------


def test_a_cursor_round_trips_any_key():
    for key in ("a", "2b0c-…-é", '"quoted"', "x" * paging.KEY_MAX):
        assert paging.decode("users", paging.encode("users", key)) == key


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "e30",  # {}
        "WyJ1c2VycyJd",  # ["users"]
        "WyJ1c2VycyIsIiJd",  # ["users",""]
        "WyJ1c2VycyIsbnVsbF0",  # ["users",null]
        paging.encode("groups", "x"),
        paging.encode("users", "x" * (paging.KEY_MAX + 1)),
        "_w",  # not UTF-8
    ],
)
def test_a_malformed_cursor_is_refused(cursor):
    with pytest.raises(paging.BadCursor):
        paging.decode("users", cursor)


# --- the key-set bound as the store evaluates it -------------------------------------------------


def _docs(n: int) -> list[dict]:
    chooser = random.Random(n)
    return [
        {
            "id": f"{chooser.getrandbits(32):08x}",
            "userName": f"u{i}",
            "active": i % 3 != 0,
            "meta": {"created": "2026-01-01T00:00:00Z"},
        }
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "rest", [None, "active eq true", 'userName co "1" or active eq false', 'id lt "8"']
)
@pytest.mark.parametrize("count", [None, 0, 5, 500])
def test_the_key_set_bound_answers_like_the_filter_it_stands_for(rest, count):
    docs = _docs(200)
    bound = "5" + "0" * 7
    expr = Compare(AttrPath(None, "id"), "gt", bound)
    if rest:
        expr = And(parse_filter(rest), expr)
    fast = run_query("User", docs, expr, "id", False, 1, count)
    # The general path: the same filter with the bound spelt another way, sorted by the key.
    general = parse_filter(f'not (id le "{bound}")' + (f" and ({rest})" if rest else ""))
    slow = run_query("User", docs, general, "meta.created", False, 1, None)
    expected = sorted(slow[1], key=lambda d: d["id"])
    assert fast[0] == len(expected)
    assert fast[1] == expected[: len(expected) if count is None else count]


def test_the_bound_is_split_off_only_where_it_stands_alone():
    assert id_bound("User", parse_filter('id gt "x"')) == ("x", None)
    rest = parse_filter('userName eq "a"')
    assert id_bound("User", And(rest, parse_filter('id gt "x"'))) == ("x", rest)
    for text in ('id ge "x"', 'not (id gt "x")', 'id gt "x" or userName eq "a"', "id gt 5"):
        assert id_bound("User", parse_filter(text)) == (None, parse_filter(text))


def test_a_walk_is_stable_while_another_thread_keeps_creating(api, crowd, scim, store):
    """A writer creates users without pause while the walk runs (40 at most: ids are random,
    so a writer faster than the walk could otherwise keep putting users ahead of it)."""
    started, stop, made = threading.Event(), threading.Event(), []

    def writer():
        while not stop.is_set() and len(made) < 40:
            body = {"schemas": [CORE], "userName": f"w{len(made)}"}
            made.append(store.create("User", scim.id, body))
            started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(30), "the writer never wrote"
        walked = [u["id"] for u in api.walk("/users", limit="2")]
    finally:
        stop.set()
        thread.join()
    assert made, "nothing was written during the walk"
    assert len(walked) == len(set(walked)) and walked == sorted(walked)
    assert crowd <= set(walked)
    assert set(walked) <= crowd | {u["id"] for u in made}
