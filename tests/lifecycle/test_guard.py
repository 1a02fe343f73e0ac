"""The guard's arithmetic as plain functions, the clock given: the window, the baseline, the
moment an IdP crosses its threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lifecycle import guard
from lifecycle.policy import Policy

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
DEFAULT = Policy()


def run(count: int, active: int, policy: Policy = DEFAULT, step=timedelta(seconds=3)):
    """Deprovision users u0…u<count-1> of an IdP with ``active`` active users, one every
    ``step``; return each verdict."""
    state, verdicts, asked = None, [], []

    def active_users() -> int:
        asked.append(1)
        return active - len(verdicts)

    for n in range(count):
        verdict = guard.deprovision(state, f"u{n}", START + n * step, policy, active_users)
        state = verdict.state
        verdicts.append(verdict)
    return verdicts, len(asked)


def first_crossing(verdicts) -> int | None:
    return next((n + 1 for n, v in enumerate(verdicts) if v.crossed), None)


def test_60_of_100_crosses_at_the_eleventh():
    verdicts, asked = run(60, active=100)
    assert first_crossing(verdicts) == 11
    assert verdicts[10].count == 11 and verdicts[10].baseline == 100
    assert asked == 1  # the active users are counted once per window


@pytest.mark.parametrize(
    "count, active, crossing",
    [
        (10, 100, None),  # not more than 10 users
        (11, 100, 11),
        (30, 500, None),  # 30 of 500 is 6 %
        (60, 500, 51),  # more than 10 % of 500 is 51
        (11, 11, 11),
    ],
)
def test_both_conditions_must_hold(count, active, crossing):
    verdicts, _ = run(count, active)
    assert first_crossing(verdicts) == crossing


def test_the_window_forgets_old_acts():
    # One every two minutes: never more than 8 within 15 minutes.
    verdicts, _ = run(40, active=50, step=timedelta(minutes=2))
    assert first_crossing(verdicts) is None
    assert max(v.count for v in verdicts) == 8


def test_a_user_counts_once():
    state = None
    for at in range(5):
        state = guard.deprovision(state, "u1", START + timedelta(seconds=at), DEFAULT, lambda: 9)
        state = state.state
    assert len(state["acts"]) == 1


def test_configured_threshold_and_off():
    strict = Policy(guard_users=2, guard_percent=50, guard_minutes=60)
    verdicts, _ = run(6, active=10, policy=strict)
    assert first_crossing(verdicts) == 6  # 6 of 10 is more than 50 %
    verdicts, asked = run(100, active=100, policy=Policy(guard=False))
    assert first_crossing(verdicts) is None and asked == 0


def test_the_baseline_is_counted_again_in_a_new_window():
    state, asked = None, []

    def active_users():
        asked.append(1)
        return 100

    for n in range(11):
        state = guard.deprovision(state, f"a{n}", START, DEFAULT, active_users).state
    later = START + timedelta(minutes=16)
    for n in range(11):
        state = guard.deprovision(state, f"b{n}", later, DEFAULT, active_users).state
    assert len(asked) == 2


def test_span_runs_from_the_first_act_in_the_window():
    verdicts, _ = run(11, active=100, step=timedelta(seconds=18))
    assert verdicts[-1].span == timedelta(minutes=3)
