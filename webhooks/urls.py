"""Which URLs a webhook may call. Only http and https; by default none that resolves to a
loopback, link-local, private or otherwise non-public address, so that an admin account (or a
stolen session) cannot turn Roster into a probe of the network it runs in. Checked when an
endpoint is added and again before each attempt (a name may resolve elsewhere by then: DNS
rebinding)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

SETTING = "[webhooks] allow_private_networks = true"


class UnsafeURL(ValueError):
    """The URL may not be called; the message says why."""


def check(url: str, allow_private: bool) -> list[str]:
    """Return the addresses ``url``'s host resolves to; raise UnsafeURL when it may not be
    called."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("a webhook URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeURL("a webhook URL must name a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:
        raise UnsafeURL(f"{parts.hostname} cannot be resolved ({exc})") from None
    addresses = sorted({info[4][0] for info in found})
    if not allow_private:
        for address in addresses:
            if not ipaddress.ip_address(address.split("%")[0]).is_global:
                raise UnsafeURL(
                    f"{parts.hostname} resolves to {address}, a loopback, link-local or private "
                    f"address; to allow it, set {SETTING} in config.toml"
                )
    return addresses
