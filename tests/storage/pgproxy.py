"""A TCP proxy between Roster and PostgreSQL that loses a connection at the worst moment: in
the middle of a COMMIT, before the server has it or after the server applied it.

It forwards bytes both ways and reads just enough of the PostgreSQL protocol to spot one
message: the simple query ``COMMIT`` going up (psycopg commits that way; a write sends it
inside one simple query with its other statements), or its CommandComplete ``COMMIT`` coming
back. ``lose_next_commit("before")`` drops the first and
closes both sides, so the server never commits; ``"after"`` lets the COMMIT through and drops
the answer, so the server commits and the client never learns it. ``cut=True`` also refuses
every connection afterwards, until ``restore()``: the client cannot even ask what happened.

It also counts round trips (``round_trips``): on each connection, every time the client
speaks after the server has (or first), which is when a client that waits for an answer
before going on pays the network's latency and the server's wake-up once more. Bytes a
pipeline sends while answers stream back are one trip with them, however TCP splits them.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading

QUERY_COMMIT = b"Q" + struct.pack("!i", 11) + b"COMMIT\x00"
COMMITTED = b"C" + struct.pack("!i", 11) + b"COMMIT\x00"
# Parse (extended protocol), unnamed statement: b"P", length, b"\0", the query, b"\0"…
PARSE_COMMIT = re.compile(rb"P....\x00COMMIT\x00", re.DOTALL)
# A write's transaction as one simple query (``storage.postgres.pg_tx.Held``), or its end
# after a read sent the beginning: b"Q", length, then "…;\nCOMMIT" and what follows, b"\0".
HELD_COMMIT = re.compile(rb"Q....[^\x00]*;\nCOMMIT(?:;\n|\x00)", re.DOTALL)


class Proxy:
    """Listens on a free loopback port and forwards to ``127.0.0.1:target``."""

    def __init__(self, target: int):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.tripped = threading.Event()
        self._lock = threading.Lock()
        self._fault: str | None = None
        self._cut = False
        self._refusing = False
        self._open: set[socket.socket] = set()
        self.round_trips = 0
        self._spoke: dict[socket.socket, str] = {}  # client socket -> who spoke last
        threading.Thread(target=self._accept, daemon=True).start()

    def dsn(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def lose_next_commit(self, when: str, *, cut: bool = False) -> None:
        """Lose the connection of the next COMMIT, ``"before"`` or ``"after"`` the server has
        it; with ``cut``, refuse every connection from then on, until ``restore()``."""
        assert when in ("before", "after")
        with self._lock:
            self._fault, self._cut = when, cut
            self.tripped.clear()

    def restore(self) -> None:
        with self._lock:
            self._refusing = False

    def close(self) -> None:
        self.listener.close()
        with self._lock:
            for sock in list(self._open):
                _close(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            with self._lock:
                refusing = self._refusing
            if refusing:
                _close(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                _close(client)
                continue
            pair = (client, server)
            with self._lock:
                self._open.update(pair)
                self._spoke[client] = "down"  # the client's first message is a trip
            for args in ((client, server, "up", pair), (server, client, "down", pair)):
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(self, source, sink, direction: str, pair) -> None:
        try:
            while chunk := source.recv(65536):
                if self._trips(direction, chunk):
                    break
                self._count(direction, pair[0])
                sink.sendall(chunk)
        except OSError:
            pass
        for sock in pair:
            _close(sock)
        with self._lock:
            self._open.difference_update(pair)
            self._spoke.pop(pair[0], None)

    def _count(self, direction: str, client: socket.socket) -> None:
        with self._lock:
            if direction == "up" and self._spoke.get(client) == "down":
                self.round_trips += 1
            self._spoke[client] = direction

    def _trips(self, direction: str, chunk: bytes) -> bool:
        """Whether ``chunk`` is where the armed fault strikes (then it is dropped)."""
        wanted = {"before": ("up", QUERY_COMMIT), "after": ("down", COMMITTED)}
        with self._lock:
            if self._fault is None or wanted[self._fault] != (direction, _message(chunk)):
                return False
            self._fault = None
            # Set before any socket closes: the client may see the close, give up and answer
            # before this thread runs again.
            self.tripped.set()
            if self._cut:
                self._refusing = True
                for sock in list(self._open):
                    _close(sock)
        return True


def _message(chunk: bytes) -> bytes | None:
    """Return the COMMIT message ``chunk`` carries, if any: as a simple query, as the Parse
    message of the unnamed statement ``COMMIT`` that a pipeline sends with the write's last
    statements, or inside the simple query that carries a write's whole transaction (both
    counted as the simple query: it is the same COMMIT going up)."""
    for message in (QUERY_COMMIT, COMMITTED):
        if message in chunk:
            return message
    if PARSE_COMMIT.search(chunk) or HELD_COMMIT.search(chunk):
        return QUERY_COMMIT
    return None


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the other side
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
