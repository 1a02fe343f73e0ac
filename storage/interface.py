"""The storage contract every backend implements: TinyDB (the default) and PostgreSQL.

Two kinds of data live in a store:

- **Resources**: SCIM Users and Groups, each owned by one identity provider (the tenant,
  ``idp``). A resource is a SCIM dict with canonical attribute names. The store owns ``id``
  and ``meta`` (``resourceType``, ``created``, ``lastModified``, ``version``); it never sets
  ``meta.location``, which depends on the public URL.
- **Records**: small keyed tables the service keeps about itself (``idps``, ``tokens``,
  ``admins``, ``settings``, ``apikeys``, ``webhooks``; ``webhook_deliveries``, the delivery
  log, is the one that grows: one record per event and endpoint). A record is a JSON-able dict.
- **The audit trail**: admin actions (``audit.py`` writes them), appended durably, read newest
  first, dropped once older than the retention the caller names.

Promises every backend keeps:

- Values that reads return are copies: mutating them never changes the store. ``create`` and
  ``update`` return the resource as stored, which the caller must treat as read-only (it is
  rendered once and dropped; a copy of a 10,000-member group cost more than the write).
- A write is durable when the call returns; a crash never loses an acknowledged write and
  never leaves the store unloadable.
- Each write is atomic and isolated: readers see the state before or after, never between.
- Tenants never see each other: a resource of another IdP is reported as not found.
- Uniqueness (case-insensitive ``userName`` for Users, ``displayName`` for Groups, per IdP) is
  checked in the same step as the write, so two racing creates cannot both win.
- Every resource write records its change events (``scim.core.events``) in the same step: the same
  journal line, the same transaction. An acknowledged write has all its events and an event
  exists only for a write that was made, crash or not. A write that changes nothing (``meta``
  aside; members in another order are the same members) is not made: no event, and
  ``meta.version`` stays as it was.
- Events get ``seq`` numbers that increase in commit order across the whole installation: a
  reader that has seen ``seq`` N never later finds a new event below N (with several
  processes on one PostgreSQL database too). Numbers may skip (a rolled back transaction).

``source``, which every resource write takes, is the ``source`` of its events: ``{"method",
"path", "request_id"}`` of the request that made it, or None (the events then name none).

``screen``, which every resource write also takes, decides what of the write the applications
learn (``lifecycle.screen``: held deprovisionings, kept users). The store calls
``screen(kind, before, after, drafts)`` while other writers of the IdP are locked out, once the
write's events are drafted (``before`` None for a creation, ``after`` None for a deletion; both
read-only); it returns ``(drafts, records)``: the events to record instead, and record writes
``(table, key, record or None)`` made in the same step as the write. It may read the store
(records and resources) and may raise to abort the write. ``commit`` is its counterpart for
work that writes only records and releases events stamped earlier.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Protocol, TypeAlias, overload

from scim.core.filter import Expr

RESOURCE_KINDS = ("User", "Group")
RECORD_TABLES = (
    "idps",
    "tokens",
    "admins",
    "settings",
    "apikeys",
    "webhooks",
    "webhook_deliveries",
    # lifecycle.screen: the guard's window per IdP, holds, held changes, downstream copies
    # (of users; of groups' meta: lifecycle.membership).
    "guard",
    "holds",
    "held",
    "downstream",
    "downstream_groups",
)
RecordWrite: TypeAlias = tuple[str, str, dict | None]  # (table, key, record or None: delete)
# screen(kind, before, after, drafts) -> (drafts to record, record writes): see above.
Screen: TypeAlias = Callable[
    [str, dict | None, dict | None, list[dict]], tuple[list[dict], list[RecordWrite]]
]
# The audit trail's table, beside the records (not one of them: it is only appended to).
AUDIT_TABLE = "audit"
# What ``Store.stats`` may report, and what each figure measures (``monitoring.metrics``).
STATS = {
    "journal_bytes": "Bytes in the open journal segment: what the next compaction folds in.",
    "compactions": "Compactions of the journal into a new snapshot since the process started.",
    "compaction_failures": "Compactions that failed since the process started (the journal "
    "still holds every write; the next one retries).",
}
# Per kind: the attribute whose case-folded value is unique within an IdP.
UNIQUE = {"User": "userName", "Group": "displayName"}


def audit_matches(
    entry: dict,
    since: str | None,
    actor: str | None,
    action: str | None,
    object: str | None,
) -> bool:
    """Return whether an audit entry passes the filters of ``Store.audit_entries``."""
    return (
        (since is None or entry["time"] >= since)
        and (actor is None or entry.get("actor") == actor)
        and (action is None or entry.get("action") == action)
        and (object is None or object.casefold() in str(entry.get("object", "")).casefold())
    )


# The IdP ids a request log keeps entries for: anything else (a path trick, a NUL) is ignored
# rather than made into a file name or a row.
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@overload
def fold(value: str) -> str: ...
@overload
def fold(value: object) -> str | None: ...


def fold(value: object) -> str | None:
    """Return the form in which a unique attribute's value is compared, or None."""
    return value.casefold() if isinstance(value, str) else None


class Store(Protocol):
    # --- resources -------------------------------------------------------------------------

    def get(self, kind: str, idp: str, id: str) -> dict | None:
        """Return the resource, or None if it does not exist in this IdP."""

    def get_each(self, kind: str, idp: str, ids: Iterable[str]) -> dict[str, dict]:
        """Return ``{id: resource}`` for those of ``ids`` that are resources of ``kind`` in
        this IdP, in one step (one query, where the backend has queries)."""

    def query(
        self,
        kind: str,
        idp: str,
        *,
        filter: Expr | None = None,
        sort_by: str | None = None,
        descending: bool = False,
        start_index: int = 1,
        count: int | None = None,
    ) -> tuple[int, list[dict]]:
        """Return (number of all matches, the requested page) in a stable order.

        ``start_index`` is 1-based (RFC 7644 §3.4.2.4); ``count=None`` means no limit and
        ``count=0`` returns only the total. Without ``sort_by`` the order is creation order.
        """

    def create(
        self,
        kind: str,
        idp: str,
        resource: dict,
        *,
        prepare: Callable[[dict], dict] | None = None,
        source: dict | None = None,
        screen: Screen | None = None,
        id: str | None = None,
    ) -> dict:
        """Store a new resource, assigning ``id`` and ``meta``; return it (read-only).

        ``id``: the id to give it instead of a new one (a user the applications still have,
        given back when its IdP creates it again: ``lifecycle.kept.Adoptable``); Conflict if
        a resource has it.

        ``prepare(resource)``, if given, runs while other writers are locked out and returns
        the resource to store (it may read the store, or raise to abort). It receives the
        store's own copy of ``resource`` and may modify it; the store keeps what it returns
        without copying it again, so ``prepare`` must not hold on to it. Raises Conflict when
        a uniqueness rule would be broken."""

    def update(
        self,
        kind: str,
        idp: str,
        id: str,
        change: Callable[[dict], dict],
        *,
        if_version: str | None = None,
        source: dict | None = None,
        screen: Screen | None = None,
    ) -> dict:
        """Read-modify-write in one step: ``change(current)`` returns the new resource, which
        is returned (read-only). When it equals ``current`` (``meta`` aside) nothing is
        written and ``current`` is returned, its version unchanged.

        ``change`` runs while the store is locked against other writers and may read the store
        (it may raise to abort: nothing is written). It receives the stored resource itself,
        not a copy, and must not modify it; the store keeps what ``change`` returns without
        copying it, so ``change`` must not hold on to it either. (Copying a Group with 100,000
        members, twice, cost more than the rest of the write.) Raises NotFound,
        VersionMismatch when ``if_version`` is given and differs from ``meta.version``, or
        Conflict."""

    def batch(self) -> AbstractContextManager[None]:
        """Group the durability of the writes this thread makes inside the block: each is
        atomic and visible when its call returns, as always, but they are made durable
        together when the block ends (one fsync or WAL flush instead of one each), before the
        block returns or raises. A caller acknowledges none of them before then (a /Bulk
        request answers once, at the end). Other threads' writes are not affected."""

    def atomic(self) -> AbstractContextManager[None]:
        """Make this thread's writes inside the block one write: one journal record (TinyDB),
        one transaction (PostgreSQL), durable together when the block ends, or none of them if
        the block raises or that write fails. Reads inside the block see its writes; other
        threads see none of them before it ends. An admin action and its audit entry are
        written this way (``audit.action``). A nested block is part of the outer one. At most
        one write inside records change events (TinyDB refuses a second); network calls do
        not belong inside (TinyDB's other writers wait for the block)."""

    def delete(
        self,
        kind: str,
        idp: str,
        id: str,
        *,
        if_version: str | None = None,
        source: dict | None = None,
        screen: Screen | None = None,
    ) -> None:
        """Delete a resource. Deleting a User also removes it from every Group (RFC 7644 §3.6
        leaves this to the server; clients expect it): the events are, in order,
        ``user.deactivated`` (if it was active), ``group.members_removed`` for each of its
        Groups, ``user.deleted``. Raises NotFound or VersionMismatch."""

    def count(self, kind: str, idp: str) -> int:
        """Return how many resources of ``kind`` the IdP has, without scanning."""

    def groups_of(self, idp: str, member_id: str) -> list[dict]:
        """Return the Groups whose ``members`` include ``member_id``, without scanning and
        without their ``members`` (a User's page would otherwise copy every big group)."""

    def groups_of_each(self, idp: str, member_ids: list[str]) -> dict[str, list[dict]]:
        """Return ``{member_id: groups_of(idp, member_id)}`` for every one of ``member_ids``,
        in one step (one query for a page of Users, where the backend has queries)."""

    def existing_ids(self, idp: str, ids: Iterable[str]) -> dict[str, str]:
        """Return {id: kind} for those of ``ids`` that are Users or Groups of this IdP."""

    # --- the change feed ---------------------------------------------------------------------

    def last_seq(self) -> int:
        """Return the ``seq`` of the newest recorded change event (0 when there is none): a
        read that follows this call reflects every event up to it."""

    def events(
        self, after: int, limit: int, *, types: frozenset | None = None, idp: str | None = None
    ) -> tuple[list[dict], int, bool]:
        """Return ``(events, next_after, has_more)``: the first ``limit`` events with a
        ``seq`` above ``after``, in seq order, of the ``types`` and the ``idp`` asked for (None:
        all).

        ``next_after`` is the cursor to read on from: the seq of the last event returned, or,
        when filters skipped events, of the last event looked at (a read looks at a bounded
        number of events, so a filter that matches nothing still moves on). ``has_more``:
        more events may follow at once. The events are read-only (the embedded store returns
        its own: a page of 1,000 is serialized once and dropped). Raises CursorExpired when
        events after ``after`` were pruned."""

    def wait_for_event(self, after: int, timeout: float) -> bool:
        """Wait until an event with a seq above ``after`` is recorded (by any process sharing
        the store), for at most ``timeout`` seconds, without busy waiting; return whether one
        was."""

    def events_for(self, kind: str, idp: str, id: str, limit: int = 20) -> list[dict]:
        """Return the newest ``limit`` events about one User or Group, newest first (pruned
        ones are gone)."""

    def prune_events(self) -> int:
        """Drop the events older than the retention period now (stores also do it on their
        own, once a minute at most, after a write); return the seq up to which events are gone
        (0: none ever were). Readers with an older cursor get CursorExpired."""

    # --- records ---------------------------------------------------------------------------

    def get_record(self, table: str, key: str) -> dict | None:
        """Return the record stored under ``key``, or None."""

    def put_record(self, table: str, key: str, record: dict) -> None:
        """Insert or replace the record stored under ``key``."""

    def put_records(self, table: str, records: dict[str, dict]) -> None:
        """Insert or replace each ``{key: record}`` of ``records``, all in one durable step (one
        journal line, one transaction): what a worker that settles many at once writes."""

    def update_record(self, table: str, key: str, change: Callable[[dict], dict]) -> dict | None:
        """Read-modify-write one record in one step; return the new record, or None (and write
        nothing) when there is no record under ``key``."""

    def delete_record(self, table: str, key: str) -> bool:
        """Delete the record; return whether it existed."""

    def records(
        self, table: str, where: Callable[[dict], bool] | None = None, *, idp: str | None = None
    ) -> list[dict]:
        """Return the records of a table (records tables are small: this may scan); with
        ``idp``, only those whose ``idp`` field names it, chosen by the store (on PostgreSQL,
        by the database: another IdP's rows are never sent, nor decoded)."""

    def delivery_backlog(self) -> dict[str, tuple[int, str]]:
        """Return ``{endpoint: (pending, lowest key)}`` for the records of
        ``webhook_deliveries`` whose ``state`` is ``pending``, grouped by their ``endpoint``:
        how many, and the key of the first (keys sort by seq). For metrics at scrape time, so
        it reads what is pending, never the whole delivery log (an index, kept by the store)."""

    def commit(self, idp: str, work: Callable[[], tuple[list[RecordWrite], list[dict]]]) -> None:
        """Run ``work()`` while the IdP's writers are locked out (it may read the store); make
        the record writes it returns and record the events it returns (stamped earlier, each
        with its ``id``, ``occurred_at``, ``idp`` and ``source``; they get their ``seq`` now,
        in the order given) in one step. ``work`` may raise to abort: nothing is written."""

    def delete_idp(self, idp: str, *, source: dict | None = None) -> None:
        """Delete an IdP's record, every record naming it (``"idp"``: its tokens, its holds…)
        and every resource it provisioned, in one step, with
        the events of deleting each resource: for each User ``user.deactivated`` (if active)
        and ``user.deleted``, then ``group.deleted`` for each Group."""

    # --- the audit trail ---------------------------------------------------------------------

    def append_audit(self, entry: dict) -> None:
        """Append one audit entry (a JSON-able dict with a unique ``id``, a ``time`` string in
        RFC 3339 UTC, and ``actor``, ``action`` and ``object`` strings); durable when the call
        returns. A backend
        that keeps the trail in memory may drop its oldest entries past a bound it documents."""

    def prune_audit(self, before: str) -> int:
        """Delete the audit entries whose ``time`` is earlier than ``before``; return how many.
        Cheap when there is nothing to delete (it runs after every append)."""

    def audit_entries(
        self,
        *,
        since: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        object: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[int, list[dict]]:
        """Return (number of matches, the requested page of them), newest first.

        ``since`` keeps entries at or after that time; ``actor`` and ``action`` must equal the
        entry's; ``object`` is a case-insensitive substring of the entry's ``object``."""

    # --- operations --------------------------------------------------------------------------

    def health(self) -> str | None:
        """Return None when the store answers and can write, else a short reason for a
        readiness probe: no path, no address, no secret. It must be cheap (a probe may call it
        every few seconds) and must not raise."""

    def stats(self) -> dict[str, float]:
        """Return the backend's own figures for monitoring (``STATS`` names them); a backend
        returns only those it has."""

    # --- lifecycle -------------------------------------------------------------------------

    def backup(self, destination: str) -> None:
        """Write a consistent, loadable copy of the whole store to ``destination``."""

    def close(self) -> None:
        """Flush and release the store (and, for a file store, its folder lock)."""
