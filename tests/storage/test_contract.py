"""The storage contract (storage/interface.py), run against every backend through the
parametrized ``store`` fixture. Backend-specific behaviour lives in test_tinydb.py (TinyDB) and
test_postgres.py (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest

from scim.core.filter import parse_filter
from storage.errors import Conflict, NotFound, VersionMismatch

IDP, OTHER = "idp-a", "idp-b"


def user(name: str, **extra) -> dict:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, **extra}


def race(attempt, times: int = 8) -> list:
    """Run ``attempt`` in ``times`` threads released together; return what each returned."""
    barrier = threading.Barrier(times)
    results: list = []

    def run():
        barrier.wait()
        results.append(attempt())

    threads = [threading.Thread(target=run) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_create_assigns_id_and_meta(store):
    created = store.create("User", IDP, user("ann"))
    assert created["id"]
    assert created["meta"]["resourceType"] == "User"
    assert created["meta"]["created"] == created["meta"]["lastModified"]
    assert created["meta"]["version"].startswith('W/"')


def test_returned_values_are_copies(store):
    body = user("ann")
    created = store.create("User", IDP, body)
    assert "id" not in body  # the caller's dict is not the store's
    body["userName"] = "changed"  # nor is it kept by the store
    fetched = store.get("User", IDP, created["id"])
    fetched["userName"] = "changed again"
    assert store.get("User", IDP, created["id"])["userName"] == "ann"
    store.put_record("idps", IDP, {"id": IDP})
    store.get_record("idps", IDP)["id"] = "changed"
    assert store.records("idps") == [{"id": IDP}]


def test_a_big_group_read_is_a_copy_down_to_its_members(store):
    ids = [store.create("User", IDP, user(f"u{i}"))["id"] for i in range(80)]
    members = [{"value": i, "type": "User"} for i in ids]
    group = store.create("Group", IDP, {"schemas": [], "displayName": "G", "members": members})
    fetched = store.get("Group", IDP, group["id"])
    assert fetched == group
    fetched["members"][0]["value"] = "changed"
    fetched["members"].append({"value": "extra"})
    fetched["meta"]["version"] = "changed"
    again = store.get("Group", IDP, group["id"])
    assert again["members"] == members
    assert again["meta"] == group["meta"]
    _, page = store.query("Group", IDP)
    page[0]["members"][1]["value"] = "changed"
    assert store.get("Group", IDP, group["id"])["members"] == members


@pytest.mark.parametrize("second", ["ANN", "ann", "Ann"])
def test_user_name_unique_case_insensitively(store, second):
    store.create("User", IDP, user("ann"))
    with pytest.raises(Conflict) as caught:
        store.create("User", IDP, user(second))
    assert caught.value.attribute == "userName"


def test_folding_is_unicode_case_folding(store):
    # str.casefold folds "ß" to "ss"; SQL's lower() would not.
    store.create("User", IDP, user("strasse"))
    with pytest.raises(Conflict):
        store.create("User", IDP, user("STRAßE"))
    assert store.query("User", IDP, filter=parse_filter('userName eq "Straße"'))[0] == 1


def test_group_names_unique_per_kind_and_tenant(store):
    store.create("Group", IDP, {"displayName": "Team"})
    with pytest.raises(Conflict) as caught:
        store.create("Group", IDP, {"displayName": "team"})
    assert caught.value.attribute == "displayName"
    store.create("Group", OTHER, {"displayName": "team"})
    store.create("User", IDP, user("team"))  # Users and Groups are apart


def test_uniqueness_is_per_tenant(store):
    store.create("User", IDP, user("ann"))
    assert store.create("User", OTHER, user("ann"))["userName"] == "ann"


def test_racing_creates_have_one_winner(store):
    def attempt():
        try:
            store.create("User", IDP, user("race"))
            return "created"
        except Conflict:
            return "conflict"

    assert sorted(race(attempt)) == ["conflict"] * 7 + ["created"]


def test_racing_updates_lose_nothing(store):
    a = store.create("User", IDP, user("ann", emails=[]))

    def attempt():
        for _ in range(5):
            store.update("User", IDP, a["id"], add_email)
        return True

    def add_email(current):
        n = len(current["emails"])
        return {**current, "emails": [*current["emails"], {"value": f"{n}@example.com"}]}

    race(attempt, times=4)
    assert len(store.get("User", IDP, a["id"])["emails"]) == 20


def test_rename_frees_the_old_name(store):
    a = store.create("User", IDP, user("ann"))
    store.update("User", IDP, a["id"], lambda cur: {**cur, "userName": "anne"})
    assert store.create("User", IDP, user("ann"))["userName"] == "ann"
    with pytest.raises(Conflict):
        store.create("User", IDP, user("ANNE"))


def test_rename_onto_a_taken_name_is_a_conflict_and_writes_nothing(store):
    a = store.create("User", IDP, user("ann"))
    store.create("User", IDP, user("bob"))
    with pytest.raises(Conflict):
        store.update("User", IDP, a["id"], lambda cur: {**cur, "userName": "BOB"})
    assert store.get("User", IDP, a["id"]) == a


def test_update_checks_version(store):
    a = store.create("User", IDP, user("ann"))
    with pytest.raises(VersionMismatch):
        store.update("User", IDP, a["id"], lambda cur: cur, if_version='W/"stale"')
    with pytest.raises(VersionMismatch):
        store.delete("User", IDP, a["id"], if_version='W/"stale"')
    updated = store.update(
        "User", IDP, a["id"], lambda cur: {**cur, "title": "x"}, if_version=a["meta"]["version"]
    )
    assert updated["meta"]["version"] != a["meta"]["version"]
    assert updated["meta"]["created"] == a["meta"]["created"]
    assert store.get("User", IDP, a["id"]) == updated


def test_failed_change_writes_nothing(store):
    a = store.create("User", IDP, user("ann"))

    def boom(current):
        raise ValueError("rejected")

    with pytest.raises(ValueError):
        store.update("User", IDP, a["id"], boom)
    assert store.get("User", IDP, a["id"]) == a


def test_prepare_may_read_the_store_and_abort(store):
    a = store.create("User", IDP, user("ann"))

    def prepare(data):
        assert store.existing_ids(IDP, [a["id"], "nope"]) == {a["id"]: "User"}
        raise ValueError("rejected")

    with pytest.raises(ValueError):
        store.create("Group", IDP, {"displayName": "team"}, prepare=prepare)
    assert store.count("Group", IDP) == 0


def test_tenants_cannot_see_each_other(store):
    a = store.create("User", IDP, user("ann"))
    assert store.get("User", OTHER, a["id"]) is None
    assert store.get("Group", IDP, a["id"]) is None
    with pytest.raises(NotFound):
        store.update("User", OTHER, a["id"], lambda cur: cur)
    with pytest.raises(NotFound):
        store.delete("User", OTHER, a["id"])
    assert store.query("User", OTHER) == (0, [])
    assert store.count("User", OTHER) == 0
    assert store.existing_ids(OTHER, [a["id"]]) == {}


def test_membership_index_follows_every_write(store):
    a = store.create("User", IDP, user("ann"))
    b = store.create("User", IDP, user("bob"))
    g = store.create(
        "Group", IDP, {"displayName": "team", "members": [{"value": a["id"]}, {"value": b["id"]}]}
    )
    [found] = store.groups_of(IDP, a["id"])
    assert found["id"] == g["id"] and "members" not in found
    store.update("Group", IDP, g["id"], lambda cur: {**cur, "members": [{"value": b["id"]}]})
    assert store.groups_of(IDP, a["id"]) == []
    by_member = parse_filter(f'members[value eq "{b["id"]}"]')
    assert store.query("Group", IDP, filter=by_member)[0] == 1
    store.delete("User", IDP, b["id"])
    assert "members" not in store.get("Group", IDP, g["id"])
    assert store.groups_of(IDP, b["id"]) == []
    assert store.groups_of(OTHER, a["id"]) == []


@pytest.mark.parametrize("stored", ["0a1b-roster-id", "0A1B-Imported-ID"])
@pytest.mark.parametrize("form", ["members.value eq", "members[value eq"])
def test_members_value_filters_ignore_case(store, stored, form):
    # RFC 7643 §4.2: members.value is not caseExact, so a filter matches it ignoring case.
    g = store.create("Group", IDP, {"displayName": "team", "members": [{"value": stored}]})
    store.create("Group", IDP, {"displayName": "other", "members": [{"value": "zz"}]})
    store.create("Group", OTHER, {"displayName": "team", "members": [{"value": stored}]})

    def found(value: str) -> list[str]:
        text = f'{form} "{value}"' + ("]" if "[" in form else "")
        return [r["id"] for r in store.query("Group", IDP, filter=parse_filter(text))[1]]

    for value in (stored, stored.upper(), stored.lower(), stored.swapcase()):
        assert found(value) == [g["id"]], value
    assert found(stored + "x") == []
    store.update("Group", IDP, g["id"], lambda cur: {**cur, "members": [{"value": "zz"}]})
    assert found(stored.upper()) == [] and found(stored) == []


def test_groups_of_each_answers_like_groups_of(store):
    a, b, c = (store.create("User", IDP, user(n))["id"] for n in ("ann", "bob", "cy"))
    store.create("Group", IDP, {"displayName": "one", "members": [{"value": a}]})
    store.create("Group", IDP, {"displayName": "two", "members": [{"value": a}, {"value": b}]})
    store.create("Group", OTHER, {"displayName": "elsewhere", "members": [{"value": c}]})
    each = store.groups_of_each(IDP, [a, b, c])
    assert each == {m: store.groups_of(IDP, m) for m in (a, b, c)}
    assert [g["displayName"] for g in each[a]] == ["one", "two"] and each[c] == []
    each[a][0]["displayName"] = "changed"  # copies
    assert store.groups_of_each(IDP, [a])[a][0]["displayName"] == "one"
    assert store.groups_of_each(IDP, []) == {}


def test_deleting_a_user_removes_it_from_groups(store):
    a = store.create("User", IDP, user("ann"))
    b = store.create("User", IDP, user("bob"))
    g = store.create(
        "Group", IDP, {"displayName": "team", "members": [{"value": a["id"]}, {"value": b["id"]}]}
    )
    store.delete("User", IDP, a["id"])
    after = store.get("Group", IDP, g["id"])
    assert after["members"] == [{"value": b["id"]}]
    assert after["meta"]["version"] != g["meta"]["version"]


def test_query_pages_in_creation_order(store):
    ids = [store.create("User", IDP, user(f"u{i}"))["id"] for i in range(5)]
    store.update("User", IDP, ids[0], lambda cur: {**cur, "title": "changed"})
    total, page = store.query("User", IDP, start_index=2, count=2)
    assert total == 5
    assert [r["id"] for r in page] == ids[1:3]
    assert store.query("User", IDP, count=0) == (5, [])
    assert store.query("User", IDP, start_index=9) == (5, [])
    assert [r["id"] for r in store.query("User", IDP)[1]] == ids


@pytest.mark.parametrize(
    "text, expected",
    [
        ('userName eq "U3"', ["u3"]),
        ('externalId eq "ext-3"', ["u3"]),
        ('externalId eq "EXT-3"', []),  # caseExact (RFC 7643 §3.1)
        ('userName sw "u" and title eq "odd"', ["u1", "u3"]),
        ('userName eq "nobody"', []),
        ('not (userName eq "u1") and externalId pr', ["u0", "u2", "u3", "u4"]),
        ('userName gt "u2" or title eq "even"', ["u0", "u2", "u3", "u4"]),
    ],
)
def test_query_filters(store, text, expected):
    for i in range(5):
        store.create(
            "User", IDP, user(f"u{i}", externalId=f"ext-{i}", title=["even", "odd"][i % 2])
        )
    total, page = store.query("User", IDP, filter=parse_filter(text))
    assert total == len(expected)
    assert [r["userName"] for r in page] == expected


@pytest.mark.parametrize(
    "sort_by, ascending, descending",
    [
        # Case-insensitive; ties keep creation order both ways; no value: last, then first.
        ("title", ["u3", "u4", "u1", "u5", "u2"], ["u2", "u1", "u5", "u3", "u4"]),
        # caseExact, code point order ("" < "X" < "x").
        ("externalId", ["u5", "u3", "u1", "u4", "u2"], ["u2", "u1", "u4", "u3", "u5"]),
        ("userName", ["u1", "u2", "u3", "u4", "u5"], ["u5", "u4", "u3", "u2", "u1"]),
    ],
)
def test_query_sorts_as_rfc_7644_section_3_4_2_3(store, sort_by, ascending, descending):
    values = [("b", "x"), (None, None), ("A", "X"), ("a", "x"), ("B", "")]
    for i, (title, external) in enumerate(values, 1):
        extra = {k: v for k, v in (("title", title), ("externalId", external)) if v is not None}
        store.create("User", IDP, user(f"u{i}", **extra))
    for flag, expected in ((False, ascending), (True, descending)):
        page = store.query("User", IDP, sort_by=sort_by, descending=flag)[1]
        assert [r["userName"] for r in page] == expected
    paged = store.query("User", IDP, sort_by=sort_by, start_index=2, count=2)
    assert [r["userName"] for r in paged[1]] == ascending[1:3]


def test_records_round_trip(store):
    assert store.get_record("settings", "x") is None
    store.put_record("settings", "x", {"n": 1})
    store.put_record("settings", "y", {"n": 2})
    store.put_record("settings", "x", {"n": 3})  # replacing keeps the record's place
    assert store.records("settings") == [{"n": 3}, {"n": 2}]
    assert store.records("settings", lambda r: r["n"] > 2) == [{"n": 3}]
    assert store.update_record("settings", "y", lambda r: {**r, "n": 4}) == {"n": 4}
    assert store.update_record("settings", "none", lambda r: r) is None
    assert store.delete_record("settings", "x") is True
    assert store.delete_record("settings", "x") is False
    assert store.records("settings") == [{"n": 4}]


def test_records_of_one_idp(store):
    store.put_record("downstream", "a", {"idp": IDP, "n": 1})
    store.put_record("downstream", "b", {"idp": OTHER, "n": 2})
    store.put_record("downstream", "c", {"idp": IDP, "n": 3})
    store.put_record("downstream", "d", {"n": 4})  # names no IdP: never one IdP's
    assert store.records("downstream", idp=IDP) == [{"idp": IDP, "n": 1}, {"idp": IDP, "n": 3}]
    assert store.records("downstream", lambda r: r["n"] > 1, idp=IDP) == [{"idp": IDP, "n": 3}]
    assert store.records("downstream", idp="nobody") == []
    assert len(store.records("downstream")) == 4


def test_put_records_writes_them_all_in_one_step(store):
    store.put_records("webhook_deliveries", {f"k{i}": {"key": f"k{i}", "n": i} for i in range(3)})
    assert sorted(r["n"] for r in store.records("webhook_deliveries")) == [0, 1, 2]
    store.put_records("webhook_deliveries", {"k1": {"key": "k1", "n": 10}})
    assert store.get_record("webhook_deliveries", "k1") == {"key": "k1", "n": 10}
    store.put_records("webhook_deliveries", {})  # nothing to write: no step at all
    assert len(store.records("webhook_deliveries")) == 3


def test_racing_record_deletes_have_one_winner(store):
    store.put_record("settings", "setup", {"nonce": "n"})
    assert sorted(race(lambda: store.delete_record("settings", "setup"))) == [False] * 7 + [True]


def test_delete_idp_removes_everything_it_owns(store):
    store.put_record("idps", IDP, {"id": IDP})
    store.put_record("tokens", "digest", {"idp": IDP})
    store.put_record("tokens", "other", {"idp": OTHER})
    a = store.create("User", IDP, user("ann"))
    store.create("Group", IDP, {"displayName": "team", "members": [{"value": a["id"]}]})
    kept = store.create("User", OTHER, user("ann"))
    store.delete_idp(IDP)
    assert store.count("User", IDP) == store.count("Group", IDP) == 0
    assert store.get_record("idps", IDP) is None
    assert store.get_record("tokens", "digest") is None
    assert store.get_record("tokens", "other") == {"idp": OTHER}
    assert store.get("User", OTHER, kept["id"])["userName"] == "ann"


def test_writes_in_a_batch_are_visible_at_once_and_kept(store):
    with store.batch():
        ann = store.create("User", IDP, user("ann"))
        assert store.get("User", IDP, ann["id"])["userName"] == "ann"
        with pytest.raises(Conflict):  # each write is still checked and atomic on its own
            store.create("User", IDP, user("ANN"))
        store.update("User", IDP, ann["id"], lambda current: {**current, "title": "Boss"})
    assert store.get("User", IDP, ann["id"])["title"] == "Boss"
    assert store.count("User", IDP) == 1


def test_get_each_reads_several_of_one_kind_and_tenant(store):
    ann = store.create("User", IDP, user("ann"))
    bob = store.create("User", IDP, user("bob"))
    team = store.create("Group", IDP, {"schemas": [], "displayName": "Team"})
    theirs = store.create("User", OTHER, user("cy"))
    found = store.get_each("User", IDP, [ann["id"], bob["id"], team["id"], theirs["id"], "x"])
    assert found == {ann["id"]: ann, bob["id"]: bob}
    found[ann["id"]]["userName"] = "changed"  # a copy
    assert store.get("User", IDP, ann["id"])["userName"] == "ann"
    assert store.get_each("User", IDP, []) == {}


def test_delivery_backlog_counts_pending_deliveries_per_endpoint(store):
    def delivery(endpoint: str, seq: int, state: str) -> dict:
        return {"key": f"{endpoint}:{seq:020d}", "endpoint": endpoint, "seq": seq, "state": state}

    rows = [delivery("a", 3, "pending"), delivery("a", 2, "pending"), delivery("a", 1, "dead"),
            delivery("b", 5, "succeeded"), delivery("c", 9, "pending")]  # fmt: skip
    store.put_records("webhook_deliveries", {r["key"]: r for r in rows})
    assert store.delivery_backlog() == {"a": (2, "a:" + f"{2:020d}"), "c": (1, f"c:{9:020d}")}
    store.put_record("webhook_deliveries", f"a:{2:020d}", delivery("a", 2, "succeeded"))
    store.delete_record("webhook_deliveries", f"c:{9:020d}")
    assert store.delivery_backlog() == {"a": (1, f"a:{3:020d}")}
