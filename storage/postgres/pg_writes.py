"""The PostgreSQL store's resource writes (``storage.postgres.store``): create, update and
delete of one resource, and the deletion of a whole IdP.

Each is one transaction holding the IdP's advisory lock (``pg_tx``): shared for creates and
updates, exclusive for deletes, so that a Group never gains a member a concurrent delete
removes. Each records its events in that transaction (``pg_feed``) and runs the caller's
``screen`` in it. A create whose COMMIT lost its connection is settled by ``_prove_created``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import partial

import psycopg
from psycopg.types.json import Jsonb

from scim.core import events as changes
from storage.clone import clone
from storage.errors import Conflict, NotFound, StoreUnavailable, VersionMismatch
from storage.interface import UNIQUE, Screen, fold
from storage.postgres import pg_pool
from storage.postgres.pg_analyze import Analyzer
from storage.postgres.pg_feed import Feed
from storage.postgres.pg_schema import add_members, derived_columns, member_ids, remove_members
from storage.postgres.pg_tx import TENANT_LOCK
from storage.stamps import new_version, now, stamp

# The backend's messages keep one logger name, whichever part of the store logs them.
log = logging.getLogger("storage.postgres.store")


class Writes(Feed):
    """Resource writes for ``PostgresStore`` (which starts the analyzer)."""

    analyzer: Analyzer

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
        data = clone(resource)
        written: dict = {}  # what settles it, should its COMMIT lose its connection
        proof = partial(self._prove_created, idp, written)
        try:
            with self._transaction(idp, shared=True, proof=proof) as conn:
                if prepare is not None:
                    data = prepare(data)
                data["id"] = id or str(uuid.uuid4())
                if id is None:
                    self._local.fresh = (data["id"],)
                stamp(kind, data)
                written.update(id=data["id"], version=data["meta"]["version"])
                conn.execute(
                    "INSERT INTO resources (id, kind, idp, unique_name, external_id, head, data)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [data["id"], kind, idp, *derived_columns(kind, data), Jsonb(data)],
                )
                if kind == "Group":
                    add_members(conn, idp, data["id"], member_ids(data))
                drafts = self._drafts(kind, None, data, idp)
                drafts = self._screened(conn, screen, kind, None, data, drafts)
                self._record(conn, idp, drafts, source, data["meta"]["lastModified"])
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name == "resources_pkey":
                raise Conflict("id", data["id"]) from None
            # RFC 7644 §3.3: a duplicate is 409 with scimType uniqueness.
            raise Conflict(UNIQUE[kind], data.get(UNIQUE[kind])) from None
        self.analyzer.inserted()
        self._recorded(drafts)
        return data

    def _prove_created(self, idp: str, written: dict) -> None:
        """Settle a create whose COMMIT lost its connection before its transaction's id came
        back: once the IdP's lock is ours in exclusive mode, the lost transaction (which held
        it shared from its start) has ended, and its row (``written``: its id and its
        ``meta.version``, new to this write) is there only if it was committed."""
        try:
            with pg_pool.translated(), self._pool.connection() as conn, conn.transaction():
                conn.execute(
                    "SELECT set_config('lock_timeout', %s, true),"
                    " pg_advisory_xact_lock(%s, hashtext(%s))",
                    [f"{int(pg_pool.SETTLE_WAIT * 1000)}ms", TENANT_LOCK, idp],
                )
                found = conn.execute(
                    "SELECT 1 FROM resources WHERE id = %s AND data->'meta'->>'version' = %s",
                    [written["id"], written["version"]],
                ).fetchone()
                if found is not None:  # its COMMIT did not wait for the disk: this one does
                    conn.execute(pg_pool.DURABLE)
        except (StoreUnavailable, psycopg.Error):
            raise pg_pool.unknown() from None
        if found is None:
            raise pg_pool.not_made()
        log.warning("a COMMIT lost its connection but was applied (%s)", written["id"])

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
        try:
            with self._transaction(idp, shared=True) as conn:
                current = self._locked(conn, kind, idp, id, if_version)
                created, old = current["meta"]["created"], member_ids(current)
                # ``current`` was decoded for this call alone, and what ``change`` returns is
                # serialized here: neither needs a copy (storage.interface says who owns what).
                data = change(current)
                data["id"] = id
                if changes.unchanged(current, data):
                    # Nothing to write (Okta re-sends whole users, Entra known members): no
                    # event, and the version stays, so the client's ETag stays valid.
                    return current
                stamp(kind, data, created=created)
                conn.execute(
                    "UPDATE resources SET unique_name = %s, external_id = %s, head = %s,"
                    " data = %s WHERE id = %s",
                    [*derived_columns(kind, data), Jsonb(data), id],
                )
                if kind == "Group":
                    new = member_ids(data)
                    remove_members(conn, id, old - new)
                    add_members(conn, idp, id, new - old)
                drafts = self._drafts(kind, current, data, idp)
                drafts = self._screened(conn, screen, kind, current, data, drafts)
                self._record(conn, idp, drafts, source, data["meta"]["lastModified"])
        except psycopg.errors.UniqueViolation:
            raise Conflict(UNIQUE[kind], data.get(UNIQUE[kind])) from None
        self._recorded(drafts)
        return data

    def _locked(
        self, conn: psycopg.Connection, kind: str, idp: str, id: str, if_version: str | None
    ) -> dict:
        row = conn.execute(
            "SELECT data FROM resources WHERE id = %s AND idp = %s AND kind = %s FOR UPDATE",
            [id, idp, kind],
        ).fetchone()
        if row is None:
            raise NotFound(id)
        if if_version is not None and if_version != row[0]["meta"]["version"]:
            raise VersionMismatch(id)
        return row[0]

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
        with self._transaction(idp) as conn:
            before = self._locked(conn, kind, idp, id, if_version)
            drafts = self._drafts(kind, before, None, idp)
            conn.execute("DELETE FROM resources WHERE id = %s", [id])
            changed = self._drop_memberships(conn, idp, [id])
            if drafts:
                # Its groups lose it before the deletion is recorded: user.deleted is the last
                # word about it.
                drafts[-1:-1] = [
                    draft
                    for old, new in changed
                    for draft in changes.removal_drafts(old, new, idp, id)
                ]
            drafts = self._screened(conn, screen, kind, before, None, drafts)
            self._record(conn, idp, drafts, source, now())
        self._recorded(drafts)

    def _drop_memberships(self, conn: psycopg.Connection, idp: str, ids: list) -> list:
        """Take ``ids`` out of every Group of ``idp`` that lists them; return each Group's
        (before, after)."""
        gone = set(ids)
        rows = conn.execute(
            "SELECT r.id, r.data FROM resources r WHERE r.id IN"
            " (SELECT group_id FROM members WHERE idp = %s AND member_id = ANY(%s))",
            [idp, [fold(m) for m in gone]],
        ).fetchall()
        changed = []
        for gid, data in rows:
            before = dict(data)  # shallow: members and meta are replaced below, not modified
            changed.append((before, data))
            data["members"] = [m for m in data.get("members", []) if m["value"] not in gone]
            if not data["members"]:
                del data["members"]
            stamp("Group", data, created=data["meta"]["created"])
            head = derived_columns("Group", data)[2]
            conn.execute(
                "UPDATE resources SET head = %s, data = %s WHERE id = %s", [head, Jsonb(data), gid]
            )
            remove_members(conn, gid, {fold(m) for m in gone})
        return changed

    def delete_idp(self, idp: str, *, source: dict | None = None) -> None:
        with self._transaction(idp) as conn:
            drafts = self._idp_drafts(conn, idp)
            # First, while the IdP's record (its name, for the events) is still there.
            self._record(conn, idp, drafts, source, now())
            conn.execute("DELETE FROM resources WHERE idp = %s", [idp])
            # Every record naming it (its tokens, its holds…), and its own.
            conn.execute(
                "DELETE FROM records WHERE data->>'idp' = %s OR (tbl = 'idps' AND key = %s)",
                [idp, idp],
            )
        self._recorded(drafts)

    def _idp_drafts(self, conn: psycopg.Connection, idp: str) -> list[dict]:
        """The events of deleting every resource of ``idp``: its Users, then its Groups."""
        if not self._record_events:
            return []
        rows = conn.execute(
            "SELECT kind, data FROM resources WHERE idp = %s ORDER BY kind DESC, seq", [idp]
        ).fetchall()
        users = [data["id"] for kind, data in rows if kind == "User"]
        groups = self.groups_of_each(idp, users)
        return [
            draft
            for kind, data in rows
            for draft in changes.drafts(
                kind, data, None, idp, groups=groups.get(data["id"], []), version=new_version()
            )
        ]
