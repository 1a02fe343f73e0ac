"""Which URLs a webhook may call. Only http and https; by default none that resolves to a
loopback, link-local, private or otherwise non-public address, so that an admin account (or a
stolen session) cannot turn Roster into a probe of the network it runs in. Checked when an
endpoint is added and again before each attempt (a name may resolve elsewhere by then). An
attempt resolves the name once, checks every address it got, and connects to one of exactly
those (``sender.post``): a second lookup at connect time could answer otherwise (DNS
rebinding)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

SETTING = "[webhooks] allow_private_networks = true"


class UnsafeURL(ValueError):
    """The URL may not be called; the message says why."""


# socket.getaddrinfo's shape; tests pass their own to play a DNS server.
Resolver = Callable[..., list]


def check(url: str, allow_private: bool, resolve: Resolver = socket.getaddrinfo) -> list[str]:
    """Return the addresses ``url``'s host resolves to, in the resolver's order, each checked;
    raise UnsafeURL when it may not be called."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("a webhook URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeURL("a webhook URL must name a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = resolve(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:
        raise UnsafeURL(f"{parts.hostname} cannot be resolved ({exc})") from None
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    if not addresses:
        raise UnsafeURL(f"{parts.hostname} cannot be resolved (no address)")
    if not allow_private:
        for address in addresses:
            if not ipaddress.ip_address(address.split("%")[0]).is_global:
                raise UnsafeURL(
                    f"{parts.hostname} resolves to {address}, a loopback, link-local or private "
                    f"address; to allow it, set {SETTING} in config.toml"
                )
    return addresses
