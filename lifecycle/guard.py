"""The mass-deprovisioning guard's arithmetic: the window of an IdP's recent deprovisionings and
the moment it crosses its threshold. Plain functions over the guard's state record; the time is
always given (``now``), never read.

The state, one record per IdP in the ``guard`` table::

    {"acts": [[at, user_id], ...], "baseline": int | None, "baseline_at": at | None}

``acts`` are the users deactivated or deleted within the window, oldest first, each once.
``baseline`` is the number of active users when the window began, worked out once per window
(counting active users reads every user of the IdP): the users active now plus those the
window's acts took away. A user counted twice (deactivated, then deleted) counts once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from durations import iso, parse_iso
from lifecycle.policy import Policy


@dataclass(frozen=True)
class Verdict:
    """What one deprovisioning does to the window: the new state, and whether the IdP is now
    over its threshold (``count`` users of ``baseline`` within ``span``)."""

    state: dict
    crossed: bool
    count: int
    baseline: int | None
    span: timedelta


def empty() -> dict:
    """Return the state of an IdP with no recent deprovisioning."""
    return {"acts": [], "baseline": None, "baseline_at": None}


def window(policy: Policy) -> timedelta:
    return timedelta(minutes=policy.guard_minutes)


def recent(state: dict | None, now: datetime, policy: Policy) -> dict:
    """Return ``state`` without the acts that left the window (and its baseline, once it is
    older than the window)."""
    state = state or empty()
    start = now - window(policy)
    acts = [act for act in state["acts"] if parse_iso(act[0]) > start]
    counted = parse_iso(state.get("baseline_at"))
    fresh = counted is not None and counted > start and acts
    return {
        "acts": acts,
        "baseline": state["baseline"] if fresh else None,
        "baseline_at": state["baseline_at"] if fresh else None,
    }


def over(count: int, baseline: int, policy: Policy) -> bool:
    """Whether ``count`` deprovisioned users of ``baseline`` active ones cross the threshold:
    more than ``guard_users`` users and more than ``guard_percent`` % of them."""
    return count > policy.guard_users and count * 100 > policy.guard_percent * baseline


def deprovision(
    state: dict | None,
    user_id: str,
    now: datetime,
    policy: Policy,
    active_users: Callable[[], int],
) -> Verdict:
    """Count ``user_id`` deprovisioned at ``now``; return the new state and whether the IdP
    crossed its threshold with it.

    ``active_users()`` returns how many users of the IdP are active just before this act; it
    is called only when the count alone crosses the threshold and the window has no baseline
    yet (at most once per window)."""
    state = recent(state, now, policy)
    acts = state["acts"]
    if not any(act[1] == user_id for act in acts):
        acts = [*acts, [iso(now), user_id]]
    state = {**state, "acts": acts}
    count = len(acts)
    span = now - parse_iso(acts[0][0])
    if not policy.guard or count <= policy.guard_users:
        return Verdict(state, False, count, state["baseline"], span)
    if state["baseline"] is None:
        # Those counted before this act already left the active users.
        state = {**state, "baseline": active_users() + count - 1, "baseline_at": iso(now)}
    baseline = state["baseline"]
    return Verdict(state, over(count, baseline, policy), count, baseline, span)
