"""One delivery attempt: a POST with timeouts that follows no redirect and keeps the first 4 KB
of the answer. The standard library's http.client, so that nothing follows a redirect behind
Roster's back and no connection outlives the attempt.

The connection goes to an address checked before (``urls.check``), never to what a second
lookup of the name would answer; the Host header, and for https the server name sent (SNI)
and the certificate's check, still name the URL's host."""

from __future__ import annotations

import functools
import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

# What the delivery log keeps of an answer.
ANSWER_BYTES = 4096
USER_AGENT = "Roster-Webhooks/1"


@dataclass
class Outcome:
    """What an attempt came to: ``status`` None when no answer arrived (``error`` says why)."""

    status: int | None
    latency_ms: float
    answer: str = ""
    error: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@functools.lru_cache(maxsize=4)
def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """The system's trusted CAs, and those of ``ca_file`` when one is given; certificates and
    host names always checked. Made once (loading the CAs is slow); shared by every attempt."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def _connect_to(addresses: list[str]):
    """A ``create_connection`` for http.client that dials the checked ``addresses`` in turn
    (as socket.create_connection tries each address of a name), whatever host it is given."""

    def create(target, timeout, source_address=None):
        error: OSError | None = None
        for address in addresses:
            try:
                return socket.create_connection((address, target[1]), timeout, source_address)
            except OSError as exc:
                error = exc
        raise error or OSError("no address to connect to")

    return create


def post(
    url: str,
    headers: dict[str, str],
    payload: bytes,
    timeout: float,
    addresses: list[str],
    ca_file: str = "",
) -> Outcome:
    """POST ``payload`` to ``url``, connecting to one of ``addresses`` (its host's, checked);
    never raises for a network or certificate failure."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=tls_context(ca_file)
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    # http.client's own hook for making the socket: the TLS layer and the Host header above it
    # still use the host name.
    conn._create_connection = _connect_to(addresses)  # type: ignore[attr-defined]
    started = time.monotonic()
    sent = {
        **headers,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "connection": "close",
    }
    try:
        conn.request("POST", path, body=payload, headers=sent)
        response = conn.getresponse()
        answer = response.read(ANSWER_BYTES)
        latency = (time.monotonic() - started) * 1000
        return Outcome(
            response.status,
            latency,
            answer.decode("utf-8", "replace"),
            retry_after=retry_after(response.getheader("retry-after")),
        )
    except (OSError, http.client.HTTPException) as exc:
        latency = (time.monotonic() - started) * 1000
        return Outcome(None, latency, error=describe(exc))
    finally:
        conn.close()


def describe(exc: Exception) -> str:
    """A short reason for a failed attempt, without a traceback."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError):
        return "connection closed without an answer"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not trusted: {exc.verify_message}"[:200]
    return f"{type(exc).__name__}: {exc}"[:200]


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (RFC 9110 §10.2.3: seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
