"""``GET /api/v1/events``: the change feed, every change to users and groups in ``seq`` order.

    GET /api/v1/events?after=SEQ&limit=N&types=user.deactivated,user.deleted&idp=ID&wait=S

answers ``{"data": [event, ...], "next_after": int, "has_more": bool}``. A consumer stores
``next_after`` once it has handled the events and asks again with ``after`` set to it; with
``wait`` (seconds, at most 30) an empty answer waits for the next event instead of returning
at once. A cursor older than the oldest event kept is 410: the consumer must read the state
again (``docs/consumer.md``). Every bad parameter is a 400 problem naming it.
"""

from __future__ import annotations

import threading
import time

import orjson
from flask import Blueprint, Response, current_app
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from appapi import params
from appapi.problems import Problem
from scim.core.events import TYPES
from storage import get_store
from storage.errors import CursorExpired

bp = Blueprint("events", __name__)

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_WAIT = 30
LIMIT_RANGE = f"give a number from 1 to {MAX_LIMIT}."
_WAITERS = "roster.feed_waiters"


class Types(fields.String):
    """Event types, comma-separated, each one of ``scim.core.events.TYPES``."""

    def _deserialize(self, value, attr, data, **kwargs):
        wanted = {t.strip() for t in super()._deserialize(value, attr, data, **kwargs).split(",")}
        wanted.discard("")
        unknown = sorted(wanted - TYPES)
        if unknown:
            known = ", ".join(sorted(TYPES))
            raise ValidationError(f"{unknown[0]!r} is no event type; the types are {known}.")
        return frozenset(wanted) or None


class FeedQuery(Schema):
    """The parameters of ``GET /api/v1/events``."""

    class Meta:
        unknown = RAISE  # a misspelt filter (``type=``) must not quietly answer everything

    after = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, error="give a seq: a whole number, 0 or more."),
        error_messages={"invalid": "give a seq: a whole number, 0 or more."},
    )
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT, error=LIMIT_RANGE),
        error_messages={"invalid": LIMIT_RANGE},
    )
    types = Types(load_default=None)
    idp = params.text("an identity provider's id")
    wait = fields.Float(
        load_default=0.0,
        validate=validate.Range(min=0, max=MAX_WAIT, error=f"give seconds from 0 to {MAX_WAIT}."),
        error_messages={"invalid": f"give seconds from 0 to {MAX_WAIT}."},
    )


def _read(store, query: dict) -> tuple[list[dict], int, bool]:
    try:
        return store.events(
            query["after"], query["limit"], types=query["types"], idp=query.get("idp")
        )
    except CursorExpired as exc:
        raise Problem(
            410,
            f"Events after {query['after']} are no longer kept (the oldest kept comes after "
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


def _long_poll(store, query: dict, page: tuple) -> tuple:
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
        deadline = time.monotonic() + query["wait"]
        while not page[0] and (left := deadline - time.monotonic()) > 0:
            if store.wait_for_event(page[1], left):
                page = _read(store, {**query, "after": page[1]})
    finally:
        waiters.release()
    return page


@bp.get("/events")
def index():
    """List change events after a cursor, in seq order; long-poll with ``wait``."""
    query = params.parse(FeedQuery())
    store = get_store()
    last = store.last_seq()
    if query["after"] > last:
        raise Problem(
            400,
            f"after: {query['after']} is ahead of the feed, whose newest event is {last}.",
            parameter="after",
        )
    page = _read(store, query)
    if not page[0] and query["wait"]:
        page = _long_poll(store, query, page)
    events, next_after, has_more = page
    body = {"data": events, "next_after": next_after, "has_more": has_more}
    headers = {"Cache-Control": "no-store"}
    return Response(orjson.dumps(body), mimetype="application/json", headers=headers)
