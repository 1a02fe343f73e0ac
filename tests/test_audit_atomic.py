"""An admin action and its audit entry are one write (``Store.atomic``, ``audit.action``), on
both backends: when that write fails (injected: the journal refuses the record, or PostgreSQL
refuses the COMMIT), neither the action nor its entry is stored; when the audit part fails, the
action is not stored either; when nothing fails, both are, in one journal record with TinyDB."""

from __future__ import annotations

import json
import threading
import warnings
from contextlib import contextmanager

import pytest

import audit
import storage
from storage.errors import StoreFull, StoreUnavailable
from storage.interface import AUDIT_TABLE, RECORD_TABLES
from tests.consoletools import submit

IDPS = "/settings/identity-providers"


def _entry(n: int) -> dict:
    return {"id": f"e{n}", "time": f"2030-01-01T00:00:0{n}.000Z", "actor": "ada",
            "action": "idp.create", "object": f"idp:{n}", "outcome": "success"}  # fmt: skip


def snapshot(store) -> str:
    """Everything an admin action may change: every record, the trail, resources, events."""
    tables = {
        t: sorted(json.dumps(r, sort_keys=True) for r in store.records(t)) for t in RECORD_TABLES
    }
    idps = [r["id"] for r in store.records("idps")]
    resources = {i: (store.count("User", i), store.count("Group", i)) for i in idps}
    state = [tables, store.audit_entries(), resources, store.last_seq()]
    return json.dumps(state, sort_keys=True)


@contextmanager
def write_refused(store, backend: str, monkeypatch):
    """Make the write that holds an audit entry fail as a whole, as each backend fails."""
    if backend == "tinydb":
        # The journal refuses the record that carries an audit entry (the disk filled up just
        # then): had the action been a record of its own, it would be stored.
        journal = store._journal
        append = journal.append

        def full(ops, *, sync=True):
            if any(op[0] == AUDIT_TABLE for op in ops):
                raise StoreFull("injected: the journal's disk is full")
            return append(ops, sync=sync)

        monkeypatch.setattr(journal, "append", full)
        yield
        monkeypatch.undo()
        return
    # PostgreSQL: a deferred constraint trigger fails the COMMIT itself, after every
    # statement of the transaction (the action's and the entry's) went through, as a full
    # disk would (SQLSTATE 53100).
    with store.connection() as conn:
        conn.execute(
            "CREATE FUNCTION roster_test_refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'injected: the commit is refused'"
            " USING ERRCODE = 'disk_full'; END $$"
        )
        conn.execute(
            "CREATE CONSTRAINT TRIGGER roster_test_refuse AFTER INSERT ON audit_log"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION roster_test_refuse()"
        )
    try:
        yield
    finally:
        with store.connection() as conn:
            conn.execute("DROP TRIGGER roster_test_refuse ON audit_log")
            conn.execute("DROP FUNCTION roster_test_refuse()")


@contextmanager
def audit_refused(store, monkeypatch):
    """Make the audit part of the write fail (the action's own statements go through)."""

    def refuse(entry):
        raise StoreUnavailable("injected: the audit trail refuses the entry")

    monkeypatch.setattr(store, "append_audit", refuse)
    yield
    monkeypatch.undo()


# --- the store's block --------------------------------------------------------------------------


def test_a_block_is_one_write_that_its_own_reads_see_and_others_do_not(store):
    seen_elsewhere = []
    with store.atomic():
        store.put_record("settings", "a", {"n": 1})
        store.update_record("settings", "a", lambda r: {**r, "n": r["n"] + 1})
        store.put_record("settings", "b", {"n": 3})
        assert store.delete_record("settings", "b")
        store.append_audit(_entry(1))
        assert store.get_record("settings", "a") == {"n": 2}
        assert store.records("settings") == [{"n": 2}]
        assert store.get_record("settings", "b") is None
        reader = threading.Thread(target=lambda: seen_elsewhere.append(store.records("settings")))
        reader.start()
        reader.join()
    assert seen_elsewhere == [[]]
    assert store.records("settings") == [{"n": 2}]
    assert [e["id"] for e in store.audit_entries()[1]] == ["e1"]


def test_a_block_that_raises_writes_nothing(store):
    store.put_record("settings", "kept", {"n": 0})
    before = snapshot(store)
    with pytest.raises(RuntimeError), store.atomic():
        store.put_record("settings", "a", {"n": 1})
        store.update_record("settings", "kept", lambda r: {"n": 5})
        store.append_audit(_entry(1))
        raise RuntimeError("the action failed half way")
    assert snapshot(store) == before


@pytest.mark.backends("tinydb")  # the journal is the embedded store's
def test_the_embedded_store_journals_a_block_as_one_record(app, runner):
    store = storage.get_store(app)
    records = store._journal.number
    invoke(runner, "idp", "create", "--name", "Okta", "--kind", "okta")
    assert store._journal.number == records + 1  # the IdP, its entry (and any pruning)


# --- actions: the CLI and the console ---------------------------------------------------------


def invoke(runner, *args, input=None) -> str:
    result = runner.invoke(args=list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output.strip()


@pytest.fixture
def idp(runner, store):
    """An IdP with a user and a token, so that deleting it writes resources and events; and
    two admins, so that one may be deleted."""
    made = invoke(runner, "idp", "create", "--name", "JumpCloud", "--kind", "jumpcloud")
    invoke(runner, "token", "generate", made)
    store.create("User", made, {"schemas": [], "userName": "ann@example.com"})
    for name in ("bob", "carol"):
        invoke(runner, "admin", "create", name, "--password-stdin", input="a long password!\n")
    return made


ACTIONS = {
    "idp create": lambda idp: ["idp", "create", "--name", "Okta", "--kind", "okta"],
    "idp delete": lambda idp: ["idp", "delete", idp, "--yes"],
    "token generate": lambda idp: ["token", "generate", idp],
    "token revoke": lambda idp: ["token", "revoke", idp],
    "apikey create": lambda idp: ["apikey", "create", "--name", "Reports"],
    "admin create": lambda idp: ["admin", "create", "grace", "--password-stdin"],
    "admin password": lambda idp: ["admin", "password", "bob", "--password-stdin"],
    "admin delete": lambda idp: ["admin", "delete", "bob", "--yes"],
    "idp policy": lambda idp: ["idp", "policy", idp, "--on-delete", "deactivate"],
    "webhook add": lambda idp: ["webhook", "add", "https://93.184.216.34/roster"],
}


@pytest.mark.parametrize("failing", ["write", "audit"])
@pytest.mark.parametrize("action", list(ACTIONS))
def test_a_failed_write_stores_neither_the_action_nor_its_entry(
    runner, store, backend, idp, monkeypatch, action, failing
):
    args = ACTIONS[action](idp)
    before = snapshot(store)
    refused = write_refused(store, backend, monkeypatch) if failing == "write" else None
    with refused or audit_refused(store, monkeypatch):
        result = runner.invoke(args=args, input="a long password!\n")
    assert result.exit_code != 0, result.output
    assert "injected" in result.output or "injected" in repr(result.exception)
    assert snapshot(store) == before
    # With the store well again, the same command stores both, the entry once.
    entries = store.audit_entries()[0]
    invoke(runner, *args, input="a long password!\n")
    assert snapshot(store) != before
    assert store.audit_entries()[0] == entries + 1


@pytest.mark.parametrize("failing", ["write", "audit"])
def test_a_token_generated_in_the_console_is_stored_with_its_entry_or_not_at_all(
    signed_in, store, backend, monkeypatch, failing
):
    assert submit(signed_in, f"{IDPS}/new", {"name": "Okta", "kind": "okta"}).status_code == 303
    [idp] = [r["id"] for r in store.records("idps")]
    advanced = f"{IDPS}/{idp}/advanced"
    before = snapshot(store)
    refused = write_refused(store, backend, monkeypatch) if failing == "write" else None
    with refused or audit_refused(store, monkeypatch):
        answer = submit(signed_in, f"{IDPS}/{idp}/token", page=advanced)
    assert answer.status_code in (503, 507)  # unavailable, or full: nothing was stored
    assert snapshot(store) == before
    assert submit(signed_in, f"{IDPS}/{idp}/token", page=advanced).status_code == 200
    assert [e["action"] for e in store.audit_entries()[1]][0] == "token.generate"


def test_a_success_recorded_apart_from_its_action_warns(app):
    with app.app_context():
        with pytest.warns(RuntimeWarning, match="apart from its action"):
            audit.record("idp.create", "idp:x")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            audit.record("idp.create", "idp:(new)", "failure")  # a failure changes nothing
            audit.record("webhook.test", "webhook:x")  # nothing but the entry is written
