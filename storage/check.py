"""``flask --app app check``: verify a store and say what does not hang together.

A data folder is read as ``backup`` reads it (without its lock, so a running server is no
obstacle), but to the end: every damaged file and record is reported, not only the first. Then
the tables themselves are checked, the same way for a data folder and for PostgreSQL:

- each resource is stored under its own id and belongs to an IdP that exists;
- ``userName`` (Users) and ``displayName`` (Groups) are unique per IdP, as the indexes and
  uniqueness rules assume (RFC 7644 §3.3);
- each Group's members are Users or Groups of the Group's IdP (deleting a User removes it from
  its Groups in the same write, so a member that does not exist is a lost write);
- each token is stored under its digest and belongs to an IdP that exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from storage.interface import RESOURCE_KINDS, UNIQUE, fold
from storage.tinydb import files
from storage.tinydb import folder as folders


@dataclass
class Report:
    """What a check found: ``problems`` make it fail, ``notes`` do not."""

    store: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "store": self.store,
            "clean": self.clean,
            "problems": self.problems,
            "notes": self.notes,
            "rows": self.rows,
        }

    def text(self) -> str:
        verdict = "no problems" if self.clean else f"{len(self.problems)} problem(s)"
        rows = ", ".join(f"{n} {table}" for table, n in self.rows.items()) or "empty"
        lines = [f"checked {self.store}: {verdict} ({rows})"]
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def check_folder(folder: Path) -> Report:
    """Check a data folder's files (all of them), then what they hold."""
    report = Report(str(folder))
    tables, found = folders.read_tables(folder, salvage=True)
    if found.new:
        report.notes.append("no store here yet (a server creates one when it starts)")
        return report
    if found.manifest is None:
        report.notes.append(
            f"no {files.MANIFEST}: a folder of format 1, upgraded by the next server to start"
        )
    report.problems += found.problems
    report.notes += [f"{torn.describe()}: dropped at every start" for torn in found.torn]
    _check_tables(report, tables)
    return report


def check_tables(store: str, tables: files.Tables) -> Report:
    """Check what a store holds (PostgreSQL's tables, read in one transaction)."""
    report = Report(store)
    _check_tables(report, tables)
    return report


def _check_tables(report: Report, tables: files.Tables) -> None:
    report.problems += list(references(tables))
    report.rows = {name: len(rows) for name, rows in sorted(tables.items()) if rows}


def references(tables: files.Tables) -> Iterator[str]:
    """Yield every reference and uniqueness rule the tables break (one line per kind of
    breach and IdP or Group, naming a few of the rows concerned)."""
    idps = tables.get("idps", {})
    for key, record in idps.items():
        if not isinstance(record, dict) or record.get("id") != key:
            yield f"the IdP record {key} does not carry its own id"
    owners: dict[str, str] = {}  # resource id -> its IdP
    orphans: dict[tuple[str, str], list[str]] = {}  # (kind, missing IdP) -> ids
    for kind in RESOURCE_KINDS:
        yield from _resources(kind, tables.get(kind, {}), owners)
    for id, idp in owners.items():
        if idp not in idps:
            kind = "User" if id in tables.get("User", {}) else "Group"
            orphans.setdefault((kind, idp), []).append(id)
    for (kind, idp), ids in orphans.items():
        yield f"{kind}s of the IdP {idp}, which does not exist: {_some(ids)}"
    for gid, doc in tables.get("Group", {}).items():
        missing = list(_missing_members(doc, owners))
        if missing:
            where = f"Group {gid} (IdP {doc.get('idp')})"
            yield f"{where} lists members that do not exist: {_some(missing)}"
    for key, token in tables.get("tokens", {}).items():
        name = f"the token {token.get('prefix', '?')}… ({key[:12]})"
        if token.get("digest") != key:
            yield f"{name} is not stored under its digest"
        if token.get("idp") not in idps:
            yield f"{name} belongs to the IdP {token.get('idp')}, which does not exist"


def _some(ids: list) -> str:
    """``a, b, c`` or ``a, b, c and 9 more``."""
    shown = ", ".join(map(str, ids[:3]))
    return f"{shown} and {len(ids) - 3} more" if len(ids) > 3 else shown


def _resources(kind: str, rows: dict, owners: dict[str, str]) -> Iterator[str]:
    attribute = UNIQUE[kind]
    names: dict[tuple[str, str], str] = {}
    for id, doc in rows.items():
        try:
            idp, data = doc["idp"], doc["data"]
            stored_id = data["id"]
        except (KeyError, TypeError):
            yield f"{kind} {id} is not a stored resource (no idp, data or id)"
            continue
        owners[id] = idp
        if stored_id != id:
            yield f"{kind} {id} is stored under another id than its own ({stored_id})"
        name = fold(data.get(attribute))
        if name is None:
            yield f"{kind} {id} (IdP {idp}) has no {attribute}"
        elif (idp, name) in names:
            yield (
                f"{kind} {id} (IdP {idp}) has the {attribute} {data[attribute]!r} of"
                f" {kind} {names[idp, name]}"
            )
        else:
            names[idp, name] = id


def _missing_members(doc: dict, owners: dict[str, str]) -> Iterator[object]:
    idp = doc.get("idp") if isinstance(doc, dict) else None
    members = (doc.get("data") or {}).get("members") or () if isinstance(doc, dict) else ()
    for member in members:
        value = member.get("value") if isinstance(member, dict) else None
        if not isinstance(value, str) or owners.get(value) != idp:
            yield value
