"""Idle and trickling connections against a real waitress server (``python app.py``): they
must neither starve other clients nor outlive ``server.channel_timeout``.

Connections are known to be accepted from the kernel's own tables (tests.live's
``loopback_sockets``), never from a pause.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time

import pytest

from tests.live import LiveServer, loopback_sockets, provision, wait_for

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/net/tcp"), reason="reads Linux's /proc/net/tcp"
)

IDLE, TRICKLERS = 500, 20
TIMEOUT = 2  # server.channel_timeout of the timeout test's server


def _serve(tmp_path, config: str = ""):
    data_dir = tmp_path / "data"
    idp, token = provision(data_dir, "A")
    path = tmp_path / "config.toml"
    path.write_text(config)
    server = LiveServer(data_dir, "--config", str(path))
    server.idp, server.token = idp, token
    return server


def timed_request(server) -> tuple[int, float]:
    """Return the status of a normal SCIM request and the seconds it took."""
    started = time.monotonic()
    status, _, _ = server.request("GET", f"/scim/v2/{server.idp}/Users", server.token)
    return status, time.monotonic() - started


def open_connections(stack, server, count: int) -> list[socket.socket]:
    address = ("127.0.0.1", server.port)
    return [stack.enter_context(socket.create_connection(address)) for _ in range(count)]


def start_trickling(sock: socket.socket, idp: str) -> None:
    """Send the first lines of a request whose end never comes."""
    sock.sendall(f"GET /scim/v2/{idp}/Users HTTP/1.1\r\nHost: roster\r\n".encode())


def all_accepted(server, count: int):
    def accepted() -> bool:
        waiting, established = loopback_sockets(server.port)
        return waiting == 0 and established >= count

    return accepted


def closed_by_server(sock: socket.socket) -> bool:
    """Return whether the server has closed ``sock`` (without waiting)."""
    poller = select.poll()  # select() cannot watch a descriptor numbered past 1023
    poller.register(sock, select.POLLIN)
    if not poller.poll(0):
        return False
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def test_idle_and_trickling_connections_leave_room_for_a_request(tmp_path):
    with _serve(tmp_path) as server, contextlib.ExitStack() as stack:  # the default limits
        idle = open_connections(stack, server, IDLE)
        tricklers = open_connections(stack, server, TRICKLERS)
        for sock in tricklers:
            start_trickling(sock, server.idp)
        wait_for(all_accepted(server, IDLE + TRICKLERS), 30, "every connection accepted")
        for sock in tricklers:
            sock.sendall(b"X-Trickle: 1\r\n")
        status, seconds = timed_request(server)
        assert status == 200
        assert seconds < 1.0
        # Nobody was pushed out to make room: the default limit holds them all.
        assert not any(closed_by_server(sock) for sock in idle + tricklers)


def test_past_the_connection_limit_the_quietest_connections_make_room(tmp_path):
    limit = 50
    with (
        _serve(tmp_path, f"[server]\nconnection_limit = {limit}\n") as server,
        contextlib.ExitStack() as stack,
    ):
        idle = open_connections(stack, server, 4 * limit)
        closed = []  # closed_by_server reads the EOF it finds: keep what it found

        def room() -> bool:
            closed.extend(s for s in idle if s not in closed and closed_by_server(s))
            return loopback_sockets(server.port)[0] == 0 and len(closed) >= 3 * limit

        wait_for(room, 30, f"{3 * limit} of {4 * limit} idle connections closed")
        # The oldest went first: the survivors are among the newest.
        assert set(idle[: 3 * limit]) <= set(closed)
        status, seconds = timed_request(server)
        assert status == 200
        assert seconds < 1.0
        assert "closing the quietest" in "".join(server.output)


@pytest.mark.parametrize("trickle", [False, True], ids=["silent", "trickling"])
def test_an_unfinished_request_is_closed_after_channel_timeout(tmp_path, trickle):
    with (
        _serve(tmp_path, f"[server]\nchannel_timeout = {TIMEOUT}\n") as server,
        socket.create_connection(("127.0.0.1", server.port)) as sock,
    ):
        started = time.monotonic()
        start_trickling(sock, server.idp)
        lines, closed = 0, False
        sock.settimeout(0.25)
        while not closed and time.monotonic() - started < TIMEOUT + 10:
            try:
                closed = sock.recv(65536) == b""  # the server answers nothing: it closes
            except TimeoutError:
                if trickle:  # one more header line: waitress's idle timer starts over
                    with contextlib.suppress(OSError):
                        sock.sendall(f"X-Trickle-{lines}: 1\r\n".encode())
                    lines += 1
            except ConnectionResetError:
                closed = True
        elapsed = time.monotonic() - started
    assert closed, f"still open after {elapsed:.1f} s"
    assert TIMEOUT <= elapsed < TIMEOUT + 5
    if trickle:
        assert lines >= TIMEOUT  # a line a second or more: never idle long enough to time out
