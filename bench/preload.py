"""Fill a data folder through the storage layer directly (much faster than HTTP), with the
same documents the server would store for the benchmark's requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import tokens
from bench.progress import Progress
from cli import create_idp
from scim.core.models import load_resource
from scim.core.schemas import GROUP_TYPE, USER_TYPE
from storage.postgres.store import PostgresStore
from storage.tinydb.store import TinyStore

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def user_body(name: str, title: str = "Engineer") -> dict:
    """A User as IdPs send it (JumpCloud-like: names, one work email, externalId)."""
    given, _, family = name.partition(".")
    return {
        "schemas": [CORE],
        "userName": f"{name}@example.com",
        "externalId": f"ext-{name}",
        "name": {"givenName": given.title(), "familyName": family.title() or "Doe"},
        "displayName": f"{given.title()} {family.title()}".strip(),
        "emails": [{"value": f"{name}@example.com", "type": "work", "primary": True}],
        "title": title,
        "active": True,
    }


@dataclass
class Dataset:
    folder: Path
    idp: str
    token: str
    users: list[tuple[str, str]] = field(default_factory=list)  # (id, userName)
    group_id: str | None = None
    group_members: set[str] = field(default_factory=set)


def preload(folder: Path, size: int, group_members: int = 0, dsn: str | None = None) -> Dataset:
    """Create ``size`` users (and a group holding the first ``group_members`` of them), in the
    data folder or, given ``dsn``, in that PostgreSQL database."""
    sample = user_body("sample.user")
    # The preloaded documents must be exactly what a POST would store.
    assert load_resource(USER_TYPE, sample) == sample, "user_body is not in canonical form"
    store = PostgresStore(dsn) if dsn else TinyStore(folder)
    try:
        idp = create_idp(store, "Bench", "generic")["id"]
        data = Dataset(folder, idp, tokens.issue(store, idp))
        with Progress(f"preload {size:,} users", size) as bar:
            for i in range(size):
                created = store.create("User", idp, user_body(f"user{i}.bench"))
                data.users.append((created["id"], created["userName"]))
                bar.advance()
        if group_members:
            members = [{"value": uid, "type": "User"} for uid, _ in data.users[:group_members]]
            body = {"schemas": [GROUP], "displayName": "Everyone", "members": members}
            assert load_resource(GROUP_TYPE, body) == body
            data.group_id = store.create("Group", idp, body)["id"]
            data.group_members = {m["value"] for m in members}
    finally:
        store.close()
    return data


def compact(folder: Path) -> None:
    """Fold the journal into the snapshot, as a long-running server eventually does."""
    store = TinyStore(folder)
    try:
        store.compact()
    finally:
        store.close()
