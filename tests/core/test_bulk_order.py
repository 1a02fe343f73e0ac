"""The bulk engine as plain functions: references (RFC 7644 §3.7.2) and the order of a job's
steps, circles included (§3.7.1), driven without a server."""

from __future__ import annotations

import itertools

from scim.core.bulkorder import Schedule
from scim.core.bulkrequest import load_bulk, references, resolve, without


def operations(*specs: tuple) -> list:
    """Operations from (method, path, bulkId, data) tuples."""
    raw = [
        {"method": m, "path": p, **({"bulkId": b} if b else {}), **({"data": d} if d else {})}
        for m, p, b, d in specs
    ]
    return load_bulk({"Operations": raw}, max_operations=100).operations


def members(*values: str) -> dict:
    return {"displayName": "g", "members": [{"value": v, "type": "Group"} for v in values]}


def drive(schedule: Schedule, failing: set[int] = frozenset()) -> list[tuple[str, int]]:
    """Run the schedule to the end, every step succeeding except those of ``failing``."""
    ids = itertools.count(1)
    done = []
    while (step := schedule.next()) is not None:
        done.append((step.action, step.operation.index))
        ok = step.action in ("run", "break", "complete") and step.operation.index not in failing
        created = f"id{next(ids)}" if ok and step.operation.method == "POST" else None
        schedule.settle(step, created)
    return done


def test_references_are_found_in_values_and_quoted_in_patch_paths():
    data = {
        "members": [{"value": "bulkId:a"}, {"value": "plain"}],
        "manager": {"value": "bulkId:b"},
        "Operations": [{"op": "remove", "PATH": 'members[value eq "bulkId:c"]'}],
        "title": "see bulkId:d",  # not a reference: it does not start with the prefix
    }
    assert references(data) == {"a", "b", "c"}
    resolved = resolve(data, {"a": "1", "b": "2", "c": "3"})
    assert resolved["members"] == [{"value": "1"}, {"value": "plain"}]
    assert resolved["manager"] == {"value": "2"}
    assert resolved["Operations"][0]["PATH"] == 'members[value eq "3"]'
    assert data["members"][0]["value"] == "bulkId:a"  # a copy: the request is untouched


def test_without_drops_the_elements_and_attributes_that_refer():
    data = {"members": [{"value": "bulkId:a"}, {"value": "x"}], "manager": {"value": "bulkId:a"}}
    assert without(data, {"a"}) == {"members": [{"value": "x"}]}


def test_operations_keep_their_order_and_a_referred_post_is_pulled_ahead():
    ops = operations(
        ("DELETE", "/Users/u0", None, None),
        ("POST", "/Groups", "g", members("bulkId:u")),
        ("DELETE", "/Users/u1", None, None),
        ("POST", "/Users", "u", {"userName": "u"}),
    )
    assert drive(Schedule(ops)) == [("run", 0), ("run", 3), ("run", 1), ("run", 2)]


def test_a_circle_is_broken_at_its_first_post_and_completed():
    ops = operations(
        ("POST", "/Groups", "a", members("bulkId:b")),
        ("PATCH", "/Groups/bulkId:a", None, {"Operations": []}),
        ("POST", "/Groups", "b", members("bulkId:c")),
        ("POST", "/Groups", "c", members("bulkId:a")),
    )
    schedule = Schedule(ops)
    first = schedule.next()
    assert (first.action, first.operation.index) == ("break", 0)
    assert first.data["members"] == []
    schedule.settle(first, "A")
    assert drive(schedule) == [("run", 3), ("run", 2), ("complete", 0), ("run", 1)]


def test_a_circle_whose_post_fails_is_undone_and_its_dependents_fail():
    ops = operations(
        ("POST", "/Groups", "a", members("bulkId:b")),
        ("POST", "/Groups", "b", members("bulkId:a")),
        ("PUT", "/Groups/bulkId:a", None, members()),
    )
    steps = drive(Schedule(ops), failing={1})
    assert steps == [("break", 0), ("run", 1), ("undo", 0), ("fail", 2)]


def test_abandon_undoes_what_waits_for_completion():
    ops = operations(
        ("POST", "/Groups", "a", members("bulkId:b")),
        ("POST", "/Groups", "b", members("bulkId:a")),
    )
    schedule = Schedule(ops)
    schedule.settle(schedule.next(), "A")
    [undo] = schedule.abandon()
    assert (undo.action, undo.target) == ("undo", "A")
    assert undo.error.status == 409
