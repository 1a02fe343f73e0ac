"""A backend is imported only when the configuration names it: an app on TinyDB never loads
psycopg (a TinyDB install need not have it working), whatever it serves."""

from __future__ import annotations

import subprocess
import sys

from tests.live import ROOT

# Builds a TinyDB app, opens its store, answers a SCIM request (logged in the request log), a
# console page, the application API and the readiness probe, then prints every psycopg module
# the process has loaded.
PROBE = """
import sys

import storage
from app import create_app

app = create_app({"data_dir": sys.argv[1], "secret_key": "probe"})
storage.get_store(app)
client = app.test_client()
assert client.get("/scim/v2/someidp/Users").status_code == 401
assert client.get("/sign-in").status_code in (200, 302)
assert client.get("/api/v1/users").status_code == 401
assert client.get("/readyz").status_code == 200
storage.close_store(app)
print(sorted(name for name in sys.modules if name.split(".")[0] in ("psycopg", "psycopg_pool")))
"""


def test_a_tinydb_app_never_imports_psycopg(tmp_path):
    probe = [sys.executable, "-c", PROBE, str(tmp_path / "data")]
    result = subprocess.run(probe, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_probe_sees_psycopg_when_something_loads_it(tmp_path):
    # The same probe, with PostgreSQL's store module imported first: it does report psycopg
    # (so an empty list above means psycopg was not loaded, not that the probe is blind).
    probe = [sys.executable, "-c", "import storage.postgres.store\n" + PROBE, str(tmp_path / "d")]
    result = subprocess.run(probe, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "'psycopg'" in result.stdout
