"""The webhook delivery backlog, kept up to date as the delivery log changes, so that a metrics
scrape reads it without scanning the log (``Store.delivery_backlog``)."""

from __future__ import annotations

# The delivery log's table and the state of a delivery still to be made (``webhooks.runner``).
DELIVERIES = "webhook_deliveries"
PENDING = "pending"


class Backlog:
    """The keys of the pending deliveries, per endpoint."""

    def __init__(self) -> None:
        self.pending: dict[str, set[str]] = {}

    def update(self, key: str, old: dict | None, new: dict | None) -> None:
        """Follow one write of the delivery log (``None``: no record before, or after)."""
        if old is not None and old.get("state") == PENDING:
            keys = self.pending.get(old["endpoint"], set())
            keys.discard(key)
            if not keys:
                self.pending.pop(old["endpoint"], None)
        if new is not None and new.get("state") == PENDING:
            self.pending.setdefault(new["endpoint"], set()).add(key)

    def summary(self) -> dict[str, tuple[int, str]]:
        """Return ``{endpoint: (pending deliveries, the lowest key)}``: O(pending), not O(log)."""
        return {endpoint: (len(keys), min(keys)) for endpoint, keys in self.pending.items() if keys}
