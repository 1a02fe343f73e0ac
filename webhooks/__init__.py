"""Webhooks: change events pushed to the endpoints admins register, signed per Standard Webhooks.

- ``signing``: the secret, the body and the three headers (plain functions).
- ``urls``: which URLs may be called (no private networks unless the config allows them).
- ``endpoints``: the endpoint records (``webhooks`` table): add, enable, rotate a secret.
- ``sender``: one HTTP attempt with timeouts, no redirects, the answer's first 4 KB.
- ``worker``: the delivery threads inside the server, each endpoint on its own durable cursor.
- ``metrics``: delivery attempts, the queue and its age on ``/metrics``.
"""

from __future__ import annotations

from flask import Flask


def start(app: Flask):
    """Start this process's delivery worker when ``[webhooks] deliver`` is on; return it."""
    import storage
    from webhooks.delivery import Settings
    from webhooks.metrics import tally
    from webhooks.worker import Worker

    values = app.config["ROSTER"]
    if not values["webhook_deliver"]:
        return None
    return Worker(storage.get_store(app), Settings.from_config(values), tally(app)).start()


def init_app(app: Flask) -> None:
    """Put the delivery figures on the app's ``/metrics`` (when metrics are on)."""
    from webhooks import metrics

    metrics.init_app(app)
