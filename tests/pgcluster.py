"""A throwaway PostgreSQL cluster on loopback, for the tests and the benchmark.

``Cluster.start()`` runs Debian's ``initdb`` into a new temporary folder and starts
``postgres`` on 127.0.0.1 with a free port and trust authentication (nothing but this machine
can reach it). PostgreSQL refuses to run as root, so under root the folder is handed to the
``postgres`` user (which Debian's ``postgresql`` package creates) and every server command runs
through ``runuser -u postgres --``. ``stop()`` ends the server and removes the folder;
``halt()``, ``resume()`` and ``restart()`` stop and start the same server on the same port,
as an outage or a restart does to a running Roster.

Binaries are looked up in ``ROSTER_TEST_PG_BIN`` if set (only there, so
``ROSTER_TEST_PG_BIN=none`` acts out a machine without PostgreSQL), else in
``pg_config --bindir``, else in the newest ``/usr/lib/postgresql/*/bin``. Install them with
``apt-get install -y postgresql``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

# Tests need no durability across a machine crash; the benchmark passes durable=True.
FAST = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")


class Unavailable(Exception):
    """No PostgreSQL binaries here, or no user to run them as."""


def find_bindir() -> Path:
    """Return the folder holding ``initdb`` and ``pg_ctl``, or raise Unavailable."""
    if os.environ.get("ROSTER_TEST_PG_BIN"):  # an explicit choice: nothing else is tried
        return _usable([os.environ["ROSTER_TEST_PG_BIN"]])
    candidates = []
    if shutil.which("pg_config"):
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(done.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    return _usable(candidates)


def _usable(candidates: list[str]) -> Path:
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    raise Unavailable("PostgreSQL binaries not found (apt-get install -y postgresql)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """One ``postgres`` server in a temporary folder; ``dsn(dbname)`` connects to it."""

    def __init__(self, *, durable: bool = False):
        self.bindir = find_bindir()
        self.durable = durable
        self.port = _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="roster-pg-"))
        self.data = self.folder / "data"
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.folder)
                raise Unavailable("running as root and there is no 'postgres' user") from None
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self.prefix, *argv], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed:\n{done.stdout}{done.stderr}")

    def start(self) -> Cluster:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        return self.resume()

    def resume(self) -> Cluster:
        """Start the server on its port and return once it accepts connections."""
        options = ["-h", "127.0.0.1", "-p", str(self.port), "-k", str(self.folder)]
        options += ["-c", "max_connections=200"]
        if not self.durable:
            options += FAST
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
            "-o", " ".join(options), "-w", "start",
        )  # fmt: skip
        return self

    def halt(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: sessions are ended, as on a service restart;
        ``immediate``: as on a crash) and return once it is down; the data is kept."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop the server and start it again on the same port."""
        self.halt(mode)
        self.resume()

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its DSN."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
