"""``GET /api/v1/events``: the change feed, every change to users and groups in ``seq`` order.

    GET /api/v1/events?after=SEQ&limit=N&types=user.deactivated,user.deleted&idp=ID&wait=S

answers ``{"data": [event, ...], "next_after": int, "has_more": bool}``. A consumer stores
``next_after`` once it has handled the events and asks again with ``after`` set to it; with
``wait`` (seconds, at most 30) an empty answer waits for the next event instead of returning
at once. A cursor older than the oldest event kept is 410: the consumer must read the state
again (``docs/consumer.md``). Every bad parameter is a 400 problem naming it.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, replace

import orjson
from flask import Blueprint, Response, current_app, request

from appapi.problems import Problem
from scim.events import TYPES
from storage import get_store
from storage.errors import CursorExpired

bp = Blueprint("events", __name__)

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_WAIT = 30
_WAITERS = "roster.feed_waiters"


@dataclass(frozen=True)
class FeedQuery:
    after: int
    limit: int
    types: frozenset | None
    idp: str | None
    wait: float


def _integer(name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise Problem(400, f"{name} must be a whole number.", parameter=name)
    value = int(raw)
    if value < low or (high is not None and value > high):
        upper = f" and {high}" if high is not None else " or more"
        raise Problem(400, f"{name} must be between {low}{upper}.", parameter=name)
    return value


def _wait() -> float:
    raw = request.args.get("wait")
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_WAIT:  # also refuses nan and inf
        detail = f"wait must be a number of seconds from 0 to {MAX_WAIT}."
        raise Problem(400, detail, parameter="wait")
    return value


def _types() -> frozenset | None:
    raw = request.args.get("types")
    if raw is None or not raw.strip():
        return None
    wanted = frozenset(t.strip() for t in raw.split(",") if t.strip())
    unknown = sorted(wanted - TYPES)
    if unknown:
        raise Problem(
            400,
            f"Unknown event type {unknown[0]!r}; the types are {', '.join(sorted(TYPES))}.",
            parameter="types",
        )
    return wanted


def _idp() -> str | None:
    raw = request.args.get("idp")
    if raw is None or raw == "":
        return None
    if len(raw) > 200:
        raise Problem(400, "idp is not an identity provider's id.", parameter="idp")
    return raw


def parse() -> FeedQuery:
    """Read and check the query parameters (each bad one is a 400 naming it)."""
    return FeedQuery(
        after=_integer("after", 0, 0),
        limit=_integer("limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        types=_types(),
        idp=_idp(),
        wait=_wait(),
    )


def _read(store, query: FeedQuery) -> tuple[list[dict], int, bool]:
    try:
        return store.events(query.after, query.limit, types=query.types, idp=query.idp)
    except CursorExpired as exc:
        raise Problem(
            410,
            f"Events after {query.after} are no longer kept (the oldest kept comes after "
            f"{exc.pruned_through}). Read the state again from /api/v1/users and "
            "/api/v1/groups, then follow the feed from the seq that answer carries.",
            parameter="after",
            pruned_through=exc.pruned_through,
        ) from None


def _waiters() -> threading.BoundedSemaphore:
    """Long polls hold a server thread each: at most half of them may wait at once."""
    extensions = current_app.extensions
    semaphore = extensions.get(_WAITERS)
    if semaphore is None:
        allowed = max(current_app.config["ROSTER"]["threads"] // 2, 1)
        semaphore = extensions.setdefault(_WAITERS, threading.BoundedSemaphore(allowed))
    return semaphore


def _long_poll(store, query: FeedQuery, page: tuple) -> tuple:
    """Wait for the first event after the page's cursor that the filters keep, or the end of
    ``wait``. Each turn waits for a new event: no busy loop."""
    waiters = _waiters()
    if not waiters.acquire(blocking=False):
        raise Problem(
            429,
            "Too many readers are waiting for events; retry shortly.",
            headers={"Retry-After": "1"},
        )
    try:
        deadline = time.monotonic() + query.wait
        while not page[0] and (left := deadline - time.monotonic()) > 0:
            if store.wait_for_event(page[1], left):
                page = _read(store, replace(query, after=page[1]))
    finally:
        waiters.release()
    return page


@bp.get("/events")
def index():
    """List change events after a cursor, in seq order; long-poll with ``wait``."""
    query = parse()
    store = get_store()
    last = store.last_seq()
    if query.after > last:
        raise Problem(
            400,
            f"after={query.after} is ahead of the feed, whose newest event is {last}.",
            parameter="after",
        )
    page = _read(store, query)
    if not page[0] and query.wait:
        page = _long_poll(store, query, page)
    events, next_after, has_more = page
    body = {"data": events, "next_after": next_after, "has_more": has_more}
    headers = {"Cache-Control": "no-store"}
    return Response(orjson.dumps(body), mimetype="application/json", headers=headers)
