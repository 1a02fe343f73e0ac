"""A webhook receiver on loopback for the tests: it verifies every delivery's signature with
the ``standardwebhooks`` package and answers as the test's ``script`` says (a fault injector).

Tests wait on ``until(condition, seconds)``: the condition variable every delivery notifies,
never a sleep."""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    webhook_id: str
    body: dict
    headers: dict
    verified: bool
    path: str
    raw: bytes = b""
    status: int | None = None  # what the receiver answered (None: no answer)

    @property
    def event(self) -> dict:
        return self.body["data"]


@dataclass
class Answer:
    """What to answer: a status and headers, or ``close`` (hang up without an answer), or
    ``hold`` (wait on the receiver's release event first: a slow endpoint)."""

    status: int = 200
    headers: dict = field(default_factory=dict)
    close: bool = False
    hold: bool = False
    slow: float = 0.0


class Backlogged(ThreadingHTTPServer):
    # The default listen backlog of 5 drops connections when 8 attempts arrive at once, and a
    # dropped SYN is retried after a second: the receiver, not the sender, would be measured.
    request_queue_size = 128


class Receiver:
    """``tls``: serve https with this context, at ``https://{host}:{port}/hook``."""

    def __init__(self, secrets: list[str] = (), tls: ssl.SSLContext | None = None, host=None):
        self.secrets = list(secrets)
        self.deliveries: list[Delivery] = []
        self.changed = threading.Condition()
        self.released = threading.Event()
        self.script = lambda delivery, count: Answer()
        self.in_flight: dict[str, int] = {}
        self.arrivals: dict[str, int] = {}
        self.arrived: list[Delivery] = []  # in the order requests came in
        self.overlaps = 0
        self.server = Backlogged(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        scheme = "http"
        if tls is not None:
            scheme = "https"
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.url = f"{scheme}://{host or '127.0.0.1'}:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def verify(self, body: bytes, headers: dict) -> bool:
        """Whether any known secret verifies the delivery (Standard Webhooks)."""
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                return True
            except WebhookVerificationError:
                continue
        return False

    def until(self, condition, seconds: float = 20.0, what: str = "deliveries") -> None:
        """Wait until ``condition(receiver)`` holds: woken by each delivery, and every 50 ms
        for conditions on the store (written just after the receiver answered)."""
        deadline = time.monotonic() + seconds
        with self.changed:
            while not condition(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{what}: not so after {seconds} s ({len(self.deliveries)})"
                    )
                self.changed.wait(min(left, 0.05))

    def ids(self) -> list[str]:
        with self.changed:
            return [d.webhook_id for d in self.deliveries]

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                wid = headers.get("webhook-id", "")
                delivery = Delivery(
                    wid, json.loads(raw), headers, receiver.verify(raw, headers), self.path, raw
                )
                with receiver.changed:
                    if receiver.in_flight.get(wid):
                        receiver.overlaps += 1
                    receiver.in_flight[wid] = receiver.in_flight.get(wid, 0) + 1
                    count = receiver.arrivals.get(wid, 0)
                    receiver.arrivals[wid] = count + 1
                    receiver.arrived.append(delivery)
                    answer = receiver.script(delivery, count)
                try:
                    self._answer(answer, delivery)
                finally:
                    with receiver.changed:
                        receiver.in_flight[wid] -= 1
                        receiver.deliveries.append(delivery)
                        receiver.changed.notify_all()

            def _answer(self, answer: Answer, delivery: Delivery):
                if answer.slow:  # a slow endpoint: the fault injected, not a synchronisation
                    receiver.released.wait(answer.slow)
                if answer.hold:
                    receiver.released.wait(30)  # past the sender's timeout: the fault itself
                if answer.close:
                    self.close_connection = True
                    self.connection.close()
                    return
                if answer.hold:
                    return  # the sender gave up long ago
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                delivery.status = answer.status

        return Handler
