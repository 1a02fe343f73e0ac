"""A data folder proves its own integrity: damage is refused with one clear line, a torn last
record (a crash mid-append) is dropped with a warning, ``check`` reports, ``recover`` starts
again from what is intact and keeps a copy, ``backup`` refuses to copy damage.

The faults are the ones fault injection found: a flipped byte in the middle of the journal (it
used to hide every later write of its segment), an empty, missing or flipped snapshot (it used
to start an empty store, or load the flip)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from tinydb import TinyDB

import tokens
from providers import create_idp
from storage.backup import backup
from storage.errors import StoreDamaged
from storage.tinydb import files, folder, journal
from storage.tinydb.store import TinyStore
from tests.live import ROOT, LiveServer, environment, flask_cli, free_port

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def user(name: str) -> dict:
    return {"schemas": [CORE], "userName": name}


def populate(data_dir: Path, users: int = 100) -> tuple[str, str]:
    """An IdP, its token and ``users`` Users, journaled one record each: 2 + ``users`` lines."""
    store = TinyStore(data_dir)
    try:
        idp = create_idp(store, "Acme", "generic")["id"]
        token = tokens.issue(store, idp)
        for n in range(users):
            store.create("User", idp, user(f"user{n}@example.com"))
    finally:
        store.close()
    return idp, token


def segment(data_dir: Path) -> Path:
    return files.segment_path(data_dir, files.segments(data_dir)[-1])


def flip(path: Path, line: int) -> int:
    """Flip one bit inside the body of ``line`` (1-based); return the line's offset."""
    raw = bytearray(path.read_bytes())
    lines = raw.split(b"\n")
    offset = sum(len(text) + 1 for text in lines[: line - 1])
    raw[offset + len(lines[line - 1]) - 5] ^= 0x01  # in the JSON, before the closing braces
    path.write_bytes(raw)
    return offset


def start(data_dir: Path) -> subprocess.CompletedProcess:
    """Run ``python app.py`` as an operator would; it must exit (refusing), not serve."""
    return subprocess.run(
        [sys.executable, "app.py", "--port", str(free_port())],
        cwd=ROOT,
        env=environment(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )


def listed_users(server: LiveServer, idp: str, token: str) -> set[str]:
    status, _, body = server.request("GET", f"/scim/v2/{idp}/Users?count=1000", token)
    assert status == 200
    return {r["userName"] for r in body["Resources"]}


# --- damage in the middle of the journal --------------------------------------------------------


def test_a_flipped_byte_mid_journal_refuses_the_start_with_one_line(tmp_path):
    data_dir = tmp_path / "data"
    populate(data_dir)
    journal_file = segment(data_dir)
    assert journal.count_lines(journal_file) == 102
    offset = flip(journal_file, 41)
    result = start(data_dir)
    assert result.returncode == 2
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"roster: the journal {journal_file} is damaged at byte {offset}")
    assert "61 records follow it" in message
    assert "flask --app app recover" in message


def test_check_reports_the_damage_and_recover_starts_from_what_is_intact(tmp_path):
    data_dir = tmp_path / "data"
    idp, token = populate(data_dir)
    journal_file = segment(data_dir)
    offset = flip(journal_file, 41)
    damaged = journal_file.read_bytes()

    checked = flask_cli(data_dir, "check", "--json")
    assert checked.returncode == 1, checked.stderr
    report = json.loads(checked.stdout)
    assert not report["clean"]
    assert [p for p in report["problems"] if f"at byte {offset}" in p]
    text = flask_cli(data_dir, "check")
    assert text.returncode == 1 and f"{journal_file.name} at byte {offset}" in text.stdout

    recovered = flask_cli(data_dir, "recover", "--json")
    assert recovered.returncode == 0, recovered.stderr
    report = json.loads(recovered.stdout)
    assert report["recovered"] and report["kept"]["User"] == 99
    assert [d for d in report["dropped"] if f"at byte {offset}" in d]
    copy = Path(report["copy"])
    assert copy.parent == data_dir and copy.name.startswith("damaged-")
    assert (copy / journal_file.name).read_bytes() == damaged  # the evidence, untouched
    assert json.loads((copy / "recovery.json").read_text())["kept"]["User"] == 99

    assert flask_cli(data_dir, "check").returncode == 0
    with LiveServer(data_dir) as server:  # the 61 writes after the damage are back
        names = listed_users(server, idp, token)
    assert len(names) == 99 and "user38@example.com" not in names  # line 41: the 39th user
    assert "user99@example.com" in names


def test_check_runs_beside_a_server_and_recover_waits_for_it_to_stop(tmp_path):
    data_dir = tmp_path / "data"
    populate(data_dir, users=3)
    with LiveServer(data_dir):
        checked = flask_cli(data_dir, "check")
        assert checked.returncode == 0, checked.stderr
        assert "no problems (3 User, 3 events, 1 idps, 1 settings, 1 tokens)" in checked.stdout
        refused = flask_cli(data_dir, "recover")
        assert refused.returncode == 1
        assert "in use by another Roster process" in refused.stderr


def test_recover_leaves_an_intact_folder_alone(tmp_path):
    data_dir = tmp_path / "data"
    populate(data_dir, users=3)
    result = flask_cli(data_dir, "recover")
    assert result.returncode == 0, result.stderr
    assert "nothing to recover" in result.stdout
    assert not list(data_dir.glob("damaged-*"))


def test_a_torn_last_record_is_dropped_with_a_warning_and_the_server_starts(tmp_path):
    data_dir = tmp_path / "data"
    idp, token = populate(data_dir, users=3)
    journal_file = segment(data_dir)
    size = journal_file.stat().st_size
    torn = journal.encode(105, [["User", "x", {"idp": idp, "data": {}}]])[:40]
    with open(journal_file, "ab") as handle:  # a crash in the middle of an append
        handle.write(torn)
    with LiveServer(data_dir) as server:
        assert len(listed_users(server, idp, token)) == 3
        status, _, _ = server.request("POST", f"/scim/v2/{idp}/Users", token, user("new"))
        assert status == 201
    log = "".join(server.output)
    assert f"dropped {journal_file.name} at byte {size}: a torn last record (40 bytes)" in log
    assert flask_cli(data_dir, "check").returncode == 0  # a torn record is no problem


@pytest.mark.parametrize(
    "damage, message",
    [
        ("lost newline", "two records ran together"),
        ("line removed", "record number 42 where 41 was due"),
    ],
)
def test_damage_that_looks_like_an_end_is_still_damage(tmp_path, damage, message):
    data_dir = tmp_path / "data"
    populate(data_dir, users=50)
    journal_file = segment(data_dir)
    lines = journal_file.read_bytes().split(b"\n")[:-1]
    if damage == "lost newline":  # the last two records run together
        raw = b"\n".join(lines[:-1]) + lines[-1] + b"\n"
    else:  # a record gone from the middle: every line still checks
        raw = b"".join(line + b"\n" for n, line in enumerate(lines) if n != 41)
    journal_file.write_bytes(raw)
    with pytest.raises(StoreDamaged, match=message):
        TinyStore(data_dir)


def test_a_missing_segment_is_damage(tmp_path):
    data_dir = tmp_path / "data"
    for n in range(3):  # each start opens a new segment; no compaction removes any
        store = TinyStore(data_dir)
        try:
            store.create("User", "idp", user(f"u{n}"))
        finally:
            store.close()
    assert files.segments(data_dir) == [0, 1, 2]
    files.segment_path(data_dir, 1).unlink()
    with pytest.raises(StoreDamaged, match=f"missing from {data_dir}: journal-00000001.log"):
        TinyStore(data_dir)


# --- the snapshot -------------------------------------------------------------------------------


def compacted(data_dir: Path) -> tuple[str, str]:
    """A store whose IdP and token live in the snapshot, with journal records after it."""
    store = TinyStore(data_dir)
    try:
        idp = create_idp(store, "Acme", "generic")["id"]
        token = tokens.issue(store, idp)
        store.create("User", idp, user("before@example.com"))
        store.compact()
        store.create("User", idp, user("after@example.com"))
    finally:
        store.close()
    return idp, token


@pytest.mark.parametrize(
    "damage, message",
    [
        ("empty", "is empty (0 bytes)"),
        ("missing", "is missing, but this folder held a store"),
        ("flipped", "fails its checksum"),
        ("cut in half", "cannot be read"),
    ],
)
def test_a_damaged_snapshot_refuses_the_start(tmp_path, damage, message):
    data_dir = tmp_path / "data"
    compacted(data_dir)
    snapshot = data_dir / files.SNAPSHOT
    raw = snapshot.read_bytes()
    if damage == "empty":
        snapshot.write_bytes(b"")
    elif damage == "missing":
        snapshot.unlink()
    elif damage == "flipped":  # inside a value: the JSON still parses
        snapshot.write_bytes(raw.replace(b"before@example.com", b"bedore@example.com"))
    else:
        snapshot.write_bytes(raw[: len(raw) // 2])
    result = start(data_dir)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith("roster: ") and "\n" not in line
    assert message in line
    assert "No admin yet" not in result.stdout  # never an empty store in its place


def test_a_snapshot_stays_a_tinydb_file(tmp_path):
    data_dir = tmp_path / "data"
    compacted(data_dir)
    with TinyDB(data_dir / files.SNAPSHOT, access_mode="r") as db:
        assert [r["data"]["userName"] for r in db.table("User").all()] == ["before@example.com"]


def test_recover_keeps_a_snapshot_that_fails_its_checksum_and_says_so(tmp_path):
    data_dir = tmp_path / "data"
    idp, token = compacted(data_dir)
    snapshot = data_dir / files.SNAPSHOT
    snapshot.write_bytes(snapshot.read_bytes().replace(b"before@", b"bedore@"))
    result = flask_cli(data_dir, "recover", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert any("fails its checksum" in line for line in report["dropped"])
    with LiveServer(data_dir) as server:
        assert listed_users(server, idp, token) == {"bedore@example.com", "after@example.com"}


# --- folders of the first format ------------------------------------------------------------


def legacy_folder(data_dir: Path, snapshot: bool = True) -> None:
    """A folder as Roster wrote it before manifests, checksummed snapshots and numbers."""
    data_dir.mkdir(parents=True)
    first = 0
    if snapshot:
        with TinyDB(data_dir / files.SNAPSHOT) as db:
            db.table("idps").insert({"_key": "idp", "id": "idp", "name": "Old", "kind": "generic"})
            db.table("_meta").insert({"next_segment": 3})
        first = 3
    lines = []
    for n in range(3):
        doc = {"idp": "idp", "data": {"id": f"u{n}", "userName": f"old{n}"}}
        body = json.dumps({"ops": [["User", f"u{n}", doc]]}, separators=(",", ":")).encode()
        lines.append(b"%08x %s\n" % (zlib.crc32(body), body))
    files.segment_path(data_dir, first).write_bytes(b"".join(lines))


def test_a_folder_of_the_first_format_opens_and_is_upgraded(tmp_path, caplog):
    data_dir = tmp_path / "data"
    legacy_folder(data_dir)
    caplog.set_level(logging.INFO, "storage.tinydb.store")
    store = TinyStore(data_dir)
    try:
        assert store.get_record("idps", "idp")["name"] == "Old"
        assert store.count("User", "idp") == 3
        store.create("User", "idp", user("new"))
    finally:
        store.close()
    assert files.read_manifest(data_dir)["format"] == files.FORMAT
    assert files.read_snapshot(data_dir).summed is True
    assert "upgraded the data folder" in caplog.text
    store = TinyStore(data_dir)
    try:
        assert store.count("User", "idp") == 4
    finally:
        store.close()


def test_a_first_format_folder_without_its_snapshot_is_refused(tmp_path):
    data_dir = tmp_path / "data"
    legacy_folder(data_dir)
    (data_dir / files.SNAPSHOT).unlink()
    with pytest.raises(StoreDamaged, match="journal starts at journal-00000003.log"):
        TinyStore(data_dir)


def test_a_first_format_folder_with_an_empty_snapshot_is_refused(tmp_path):
    data_dir = tmp_path / "data"
    legacy_folder(data_dir)
    (data_dir / files.SNAPSHOT).write_bytes(b"")
    with pytest.raises(StoreDamaged, match="is empty"):
        TinyStore(data_dir)


# --- backup ---------------------------------------------------------------------------------


def test_backup_refuses_a_damaged_folder(tmp_path):
    data_dir = tmp_path / "data"
    populate(data_dir, users=5)
    flip(segment(data_dir), 3)
    destination = tmp_path / "backup"
    result = flask_cli(data_dir, "backup", str(destination))
    assert result.returncode == 1
    assert "is damaged at byte" in result.stderr
    assert not destination.exists() or not any(destination.iterdir())


def test_backup_is_a_verified_data_folder(tmp_path):
    data_dir = tmp_path / "data"
    idp, token = populate(data_dir, users=5)
    counts = backup(data_dir, tmp_path / "backup")
    assert counts["User"] == 5
    assert files.read_manifest(tmp_path / "backup")["format"] == files.FORMAT
    with LiveServer(tmp_path / "backup") as server:
        assert len(listed_users(server, idp, token)) == 5


def test_reading_a_folder_never_writes_to_it(tmp_path):
    data_dir = tmp_path / "data"
    populate(data_dir, users=2)
    flip(segment(data_dir), 3)
    before = {p.name: p.read_bytes() for p in data_dir.iterdir() if p.is_file()}
    tables, found = folder.read_tables(data_dir, salvage=True)
    assert found.problems and len(tables["User"]) == 1
    assert {p.name: p.read_bytes() for p in data_dir.iterdir() if p.is_file()} == before


# --- references, on both backends ------------------------------------------------------------


def test_check_reports_references_that_lead_nowhere(runner, store):
    idp = create_idp(store, "Acme", "generic")["id"]
    tokens.issue(store, idp)
    member = store.create("User", idp, user("ann@example.com"))
    store.create("Group", idp, {"displayName": "ok", "members": [{"value": member["id"]}]})
    clean = runner.invoke(args=["check"])
    assert clean.exit_code == 0, clean.output
    assert "no problems" in clean.output
    # What no SCIM request can leave behind, written through the store's API directly.
    orphan = store.create("User", "gone", user("orphan@example.com"))
    store.create("Group", idp, {"displayName": "g", "members": [{"value": "nobody"}]})
    store.put_record("tokens", "d1g3st", {"digest": "d1g3st", "idp": "gone", "prefix": "p"})
    result = runner.invoke(args=["check", "--json"])
    assert result.exit_code == 1
    problems = json.loads(result.output)["problems"]
    assert len(problems) == 3
    assert problems[0] == f"Users of the IdP gone, which does not exist: {orphan['id']}"
    assert problems[1].endswith(f"(IdP {idp}) lists members that do not exist: nobody")
    assert "belongs to the IdP gone, which does not exist" in problems[2]


@pytest.mark.backends("postgres")
def test_recover_is_for_data_folders(runner):
    result = runner.invoke(args=["recover"])
    assert result.exit_code == 1
    assert "PostgreSQL recovers from its own write-ahead log" in result.output
