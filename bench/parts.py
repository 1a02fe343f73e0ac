"""Timers around the parts of a POST /Users, installed in a Roster server started for the
benchmark only (``bench/unsynced/sitecustomize.py`` with ``BENCH_PARTS`` naming a file):
how long each part takes per POST, measured in the server rather than sampled, written to
that file as JSON when the server stops.

Each part is a function the request path looks up at call time (a module's global, a hook
registered by name, a store method), wrapped; parts never nest, so their times add up. Only
POSTs count: the server's other requests (the benchmark's readiness probes) are left out.
"""

from __future__ import annotations

import atexit
import importlib
import json
import threading
import time
from collections import defaultdict
from functools import wraps

VALIDATION = "validation (marshmallow)"
# (label, module, attribute path): what each part of a POST /Users is, in the request's order.
PARTS = (
    ("request id", "monitoring.requestid", "start"),
    ("token check", "scim.api", "authenticate"),
    ("JSON body parsing", "scim.resources", "read_json"),
    (VALIDATION, "scim.resources", "load_resource"),
    ("give-back look (lifecycle)", "lifecycle.kept", "Adoptable.id_for"),
    ("store: the write and its events", "storage.tinydb.resources", "Resources.create"),
    ("rendering the answer", "scim.resources", "_single"),
    ("request log", "scim.requestlog", "_record"),
    ("process log line", "monitoring.logs", "log_request"),
    ("security headers", "console.security", "add_headers"),
)
TOTAL = "Roster's app (Flask.__call__)"

_spent: defaultdict[str, float] = defaultdict(float)
_posts = [0]
_local = threading.local()


def _timed(label: str, function):
    @wraps(function)
    def timed(*args, **kwargs):
        if not getattr(_local, "post", False):
            return function(*args, **kwargs)
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _spent[label] += time.perf_counter() - started

    return timed


def _app(call):
    @wraps(call)
    def app(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST":
            return call(self, environ, start_response)
        _local.post, started = True, time.perf_counter()
        try:
            return call(self, environ, start_response)
        finally:
            _local.post = False
            _spent[TOTAL] += time.perf_counter() - started
            _posts[0] += 1

    return app


def install(output: str) -> None:
    """Wrap every part, and write the times per POST to ``output`` at exit."""
    import flask

    flask.Flask.__call__ = _app(flask.Flask.__call__)  # type: ignore[method-assign]
    for label, module, path in PARTS:
        owner = importlib.import_module(module)
        *outer, name = path.split(".")
        for attribute in outer:
            owner = getattr(owner, attribute)
        setattr(owner, name, _timed(label, getattr(owner, name)))
    atexit.register(_write, output)


def _write(output: str) -> None:
    posts = max(_posts[0], 1)
    per_post = {label: seconds * 1000 / posts for label, seconds in _spent.items()}
    with open(output, "w") as out:
        json.dump({"posts": _posts[0], "ms": per_post}, out)
