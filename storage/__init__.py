"""Roster's storage: the only package that knows how data is kept.

``storage.interface.Store`` is the contract. ``storage.tinydb`` implements it in a data folder
(the default); ``storage.postgres`` in a PostgreSQL database that several processes share
(``[storage] backend = "postgres"``). Each backend keeps its store, its request log and its
helpers in its own subpackage; what they share lives here beside the contract. Views reach
the store through ``get_store()`` and the request log through ``get_request_log()``.

A backend is imported only when the configuration names it: a TinyDB install never loads
psycopg.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, cast

from flask import Flask, current_app

from storage.behind import AppendBehind
from storage.errors import (  # noqa: F401  (re-exported)
    Conflict,
    NotFound,
    OutcomeUnknown,
    StoreDamaged,
    StoreError,
    StoreFull,
    StoreLocked,
    StoreUnavailable,
    VersionMismatch,
)
from storage.interface import Store
from storage.tinydb.requestlog import RequestLog

if TYPE_CHECKING:
    from storage.postgres.requestlog import DatabaseRequestLog
    from storage.postgres.store import PostgresStore

_EXTENSION = "roster.store"
_LOG_EXTENSION = "roster.requestlog"
_opening = threading.Lock()
# Whether stores record change events. Only the benchmark turns it off (bench/no_events.py),
# to measure what recording them costs; Roster itself always records them.
RECORD_EVENTS = True


def open_store(config: dict) -> Store:
    """Open the store the configuration names: the TinyDB data folder or a PostgreSQL DSN."""
    feed = {"retention_days": config["event_retention_days"], "record_events": RECORD_EVENTS}
    if config["backend"] == "postgres":
        from storage.postgres.store import PostgresStore

        # One connection per waitress thread and a spare (the request log has its own pool).
        return PostgresStore(config["database_url"], pool_size=config["threads"] + 1, **feed)
    from storage.tinydb.store import TinyStore

    return TinyStore(config["data_dir"], **feed)


def init_app(app: Flask) -> None:
    """Register the store with ``app``; it is opened on first use (so that CLI commands that do
    not touch it, like ``--help``, never take the data folder's lock)."""
    app.extensions[_EXTENSION] = None
    values = app.config["ROSTER"]
    log: RequestLog | DatabaseRequestLog
    if values["backend"] == "postgres":
        from storage.postgres.requestlog import DatabaseRequestLog

        # Processes sharing a database share the log too.
        log = DatabaseRequestLog(
            lambda: cast("PostgresStore", get_store(app)), values["request_log_size"]
        )
    else:
        log = RequestLog(Path(values["data_dir"]) / "requestlog", values["request_log_size"])
    # Written behind the requests: a request never waits for its own log entry.
    app.extensions[_LOG_EXTENSION] = AppendBehind(log)


def get_request_log(app: Flask | None = None) -> AppendBehind:
    """Return the app's request log."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy
    return app.extensions[_LOG_EXTENSION]


def get_store(app: Flask | None = None) -> Store:
    """Return the app's store, opening it on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy
    store = app.extensions.get(_EXTENSION)
    if store is None:
        with _opening:
            store = app.extensions.get(_EXTENSION)
            if store is None:
                store = open_store(app.config["ROSTER"])
                app.extensions[_EXTENSION] = store
    return store


def close_store(app: Flask) -> None:
    """Write what the request log has queued and close its files, then close the app's store
    if it was opened."""
    log = app.extensions.get(_LOG_EXTENSION)
    if log is not None:
        log.close()
    store = app.extensions.get(_EXTENSION)
    if store is not None:
        store.close()
        app.extensions[_EXTENSION] = None
