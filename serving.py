"""What ``python app.py`` adds to waitress so that slow and idle clients cannot starve it.

Waitress alone stops accepting once ``connection_limit`` connections are open, and closes a
connection only after ``channel_timeout`` seconds without a byte received or sent. So 100
idle sockets (its default limit) keep every other client waiting, and so do a few clients
sending one header line every 10 s: each line restarts the idle timer. Roster's channel adds
two rules:

- **A request must arrive in full within** ``channel_timeout`` **of its first byte.** The
  timer no longer restarts with each line; an idle connection is still closed after
  ``channel_timeout`` without activity, and one whose response the client stops reading
  after ``channel_timeout`` without progress.
- **Past** ``connection_limit`` **open connections, the quietest one is closed** to make room
  (the one idle, or receiving its request, for the longest), so the server never stops
  accepting. A connection whose request is being served is never chosen.

What is left to the reverse proxy: limits per client (connections, request rate), and
clients that read a response very slowly (see SECURITY.md).
"""

from __future__ import annotations

import logging
import resource
import time

from scim.waitress_errors import ScimChannel

log = logging.getLogger("roster")

# Files the process needs besides its connections: the store, the request log's open files,
# PostgreSQL connections, waitress's trigger pipe, standard streams.
RESERVED_FILES = 128
# Seconds between two "connection limit reached" warnings.
WARN_EVERY = 60.0


class BoundedChannel(ScimChannel):
    """A waitress connection that keeps to a request deadline and makes room when full.

    Waitress's own sweep (``BaseWSGIServer.maintenance``, every ``cleanup_interval``) closes a
    connection with no request being served whose ``last_activity`` is older than
    ``channel_timeout``. Waitress sets ``last_activity`` on every byte received; this channel
    puts it back to the first byte of the request still arriving, so that the same sweep
    enforces the request deadline. ``limit`` is set per server by :func:`channel_class`.
    """

    limit = 1000
    warned_at = -WARN_EVERY
    # The request being received (waitress's parser) and when its first byte arrived.
    receiving = None
    since = 0.0

    def __init__(self, server, sock, addr, adj, map=None):
        super().__init__(server, sock, addr, adj, map)
        if len(self._map) > self.limit:  # the map also holds the listener: cheap test first
            self.make_room()

    def received(self, data):
        result = super().received(data)
        if self.request is not self.receiving:  # a new request began in this data
            self.receiving, self.since = self.request, self.last_activity
        if self.request is not None:
            self.last_activity = self.since
        return result

    def service(self):
        super().service()
        # A request that arrived behind this one (pipelined) waited for it: its clock starts now.
        self.since = self.last_activity

    def quiet_since(self) -> float | None:
        """Return when this connection last made progress, or None while it is being served."""
        return None if self.requests else self.last_activity

    def make_room(self) -> None:
        """Close the quietest connection if more than ``limit`` are open (this one included)."""
        open_channels = [
            c for c in self._map.values() if isinstance(c, BoundedChannel) and not c.will_close
        ]
        if len(open_channels) <= self.limit:
            return
        quiet = [(since, c) for c in open_channels if (since := c.quiet_since()) is not None]
        # Every other connection busy being served: this new one is the one to go.
        victim = min(quiet, key=lambda pair: pair[0])[1] if quiet else self
        victim.will_close = True  # closed on the loop's next turn, without an answer
        now = time.monotonic()
        if now - BoundedChannel.warned_at >= WARN_EVERY:
            BoundedChannel.warned_at = now
            log.warning(
                "%d connections open (server.connection_limit): closing the quietest to "
                "accept new ones",
                len(open_channels),
            )


def channel_class(limit: int) -> type[BoundedChannel]:
    """Return the channel class for a server that keeps at most ``limit`` connections."""
    return type("BoundedChannel", (BoundedChannel,), {"limit": limit})


def open_files_for(limit: int) -> int:
    """Raise this process's open-file limit for ``limit`` connections; return the limit kept.

    Each connection is a file descriptor, and a second one (a temporary file) while it receives
    a body over 512 KiB. The soft limit is raised towards the hard one (often 1024 and 4096 or
    more); where even the hard limit is too low, fewer connections are kept, with a warning.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * limit + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (OSError, ValueError):
            pass  # keep the soft limit we have
    if soft == resource.RLIM_INFINITY or soft >= limit + RESERVED_FILES:
        return limit
    kept = max(1, soft - RESERVED_FILES)
    log.warning(
        "server.connection_limit lowered from %d to %d: this process may open only %d files "
        "(ulimit -n)",
        limit,
        kept,
        soft,
    )
    return kept
