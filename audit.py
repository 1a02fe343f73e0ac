"""The audit trail: who did what to which object, from where, and how it went.

Every admin action, from the console or the CLI, is recorded once, by the code that performs
it, through one call::

    audit.record("token.generate", f"idp:{idp}", detail=record["name"])
    audit.record("admin.sign_in", f"admin:{name}", "failure")

``record(action, object, outcome="success", *, actor=None, address=None, detail=None)``
fills in who and from where when they are not given: in a console request, the signed-in
admin (``g.admin``) and the client's address (``request.remote_addr``, the proxy-forwarded
one from a trusted proxy); outside a request (a CLI command), ``cli`` and ``local``, with the
OS user who ran it (``getpass.getuser()``). ``action`` is ``<object kind>.<verb>``
(``ACTIONS`` lists those Roster records, with the label the console shows; new kinds of action
add a line there); ``object`` names the object by kind and public id (``idp:3f9c2a1b7d4e``,
``admin:ada``, ``apikey:<id>``); ``outcome`` is ``success``, ``failure`` or ``throttled``.

An action that changes the store is written together with its entry: the action and the
``record`` of its success go inside one ``action()`` block, one write of the store (one journal
record with TinyDB, one transaction with PostgreSQL), so that neither is stored without the
other::

    with audit.action():
        record = create_idp(store, name, kind)
        audit.record("idp.create", f"idp:{record['id']}", detail=record["name"])

A success recorded outside a block warns (tests turn the warning into a failure), except for
``ALONE``: actions that write nothing else. Failed and throttled attempts change nothing, so
their entries are written on their own.

An entry never holds a secret: callers pass ids and names, never tokens, keys or passwords,
and every text is passed through ``tokens.redact`` all the same. Entries are kept
``[audit] retention_days`` (default 365): older ones are dropped after each new entry, and
never shown.
"""

from __future__ import annotations

import getpass
import re
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

from flask import current_app, g, has_request_context, request

import storage
import tokens

ACTIONS = {
    "admin.sign_in": "Signed in",
    "admin.sign_out": "Signed out",
    "admin.create": "Created an admin",
    "admin.password": "Changed an admin's password",
    "admin.delete": "Deleted an admin",
    "idp.create": "Created an identity provider",
    "idp.update": "Edited an identity provider",
    "idp.delete": "Deleted an identity provider",
    "token.generate": "Generated a SCIM token",
    "token.revoke": "Revoked a SCIM token",
    "apikey.create": "Created an API key",
    "apikey.revoke": "Revoked an API key",
    "webhook.create": "Created a webhook",
    "webhook.update": "Edited a webhook",
    "webhook.delete": "Deleted a webhook",
    "webhook.rotate_secret": "Rotated a webhook's signing secret",
    "webhook.test": "Sent a test event to a webhook",
    "webhook.redeliver": "Redelivered webhook events",
    "webhook.replay": "Replayed the event log to a webhook",
    "hold.apply": "Applied a hold",
    "hold.discard": "Discarded a hold",
    "settings.change": "Changed settings",
}
OUTCOMES = ("success", "failure", "throttled")
# Successes that write nothing but their entry: a test event is sent, not stored.
ALONE = frozenset({"webhook.test"})
_in_action: ContextVar[bool] = ContextVar("audit_in_action", default=False)
CLI_ACTOR = "cli"
CLI_ADDRESS = "local"
_ACTION = re.compile(r"^[a-z_]+\.[a-z_]+$")
# Longest text kept per field: an entry describes an action, it does not carry data.
_TEXT_MAX = 200


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: object) -> str | None:
    if value is None:
        return None
    return tokens.redact(str(value))[:_TEXT_MAX]


def _who() -> tuple[str, str, str | None]:
    """Return (actor, address, OS user) for the current console request or CLI command."""
    if has_request_context():
        admin = g.get("admin")
        return (admin["username"] if admin else "anonymous"), request.remote_addr or "", None
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a bare container)
        os_user = "unknown"
    return CLI_ACTOR, CLI_ADDRESS, os_user


def record(
    action: str,
    object: str,
    outcome: str = "success",
    *,
    actor: str | None = None,
    address: str | None = None,
    detail: str | None = None,
    store: storage.Store | None = None,
) -> dict:
    """Record one admin action durably; return the entry (see the module docstring)."""
    if not _ACTION.match(action):
        raise ValueError(f"an audit action is <kind>.<verb>, not {action!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"an audit outcome is one of {', '.join(OUTCOMES)}, not {outcome!r}")
    if outcome == "success" and action not in ALONE and not _in_action.get():
        warnings.warn(
            f"audit entry {action!r} written apart from its action (see audit.action)",
            RuntimeWarning,
            stacklevel=2,
        )
    who, where, os_user = _who()
    entry = {
        "id": uuid.uuid4().hex,
        "time": _iso(_now()),
        "actor": _text(actor or who),
        "os_user": _text(os_user),
        "address": _text(address or where),
        "action": action,
        "object": _text(object),
        "outcome": outcome,
        "detail": _text(detail),
        "request_id": g.get("request_id") if has_request_context() else None,
    }
    store = store or storage.get_store()
    store.append_audit(entry)
    store.prune_audit(cutoff())
    return entry


@contextmanager
def action(store: storage.Store | None = None) -> Iterator[None]:
    """Make the admin action inside the block and its entry one write (``Store.atomic``):
    both are stored, or, if anything in the block raises, neither."""
    store = store or storage.get_store()
    marked = _in_action.set(True)
    try:
        with store.atomic():
            yield
    finally:
        _in_action.reset(marked)


def cutoff(retention_days: int | None = None) -> str:
    """Return the time before which entries are past retention."""
    days = retention_days or current_app.config["ROSTER"]["retention_days"]
    return _iso(_now() - timedelta(days=days))


def entries(
    store: storage.Store,
    *,
    since: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    object: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[int, list[dict]]:
    """Return (matches, page) of the entries within retention, newest first."""
    oldest = cutoff()
    return store.audit_entries(
        since=max(since, oldest) if since else oldest,
        actor=actor or None,
        action=action or None,
        object=object or None,
        offset=offset,
        limit=limit,
    )


def parse_since(text: str) -> str:
    """Return the time a ``--since`` value names: ``7d``, ``12h``, ``30m``, an ISO 8601 date
    or date and time (UTC unless it says otherwise). Raise ValueError if it names none."""
    text = text.strip()
    relative = re.fullmatch(r"(\d{1,6})([dhm])", text)
    if relative:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[relative.group(2)]
        return _iso(_now() - timedelta(**{unit: int(relative.group(1))}))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a time like 2025-01-31T08:00 nor 7d/12h/30m"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _iso(moment.astimezone(UTC))
