"""Webhooks: change events pushed to the endpoints admins register, signed per Standard Webhooks.

- ``signing``: the secret, the body and the three headers (plain functions).
- ``urls``: which URLs may be called (no private networks unless the config allows them).
- ``endpoints``: the endpoint records (``webhooks`` table): add, enable, rotate a secret.
- ``sender``: one HTTP attempt with timeouts, no redirects, the answer's first 4 KB.
- ``worker``: the delivery threads inside the server, each endpoint on its own durable cursor.
"""

from __future__ import annotations

from flask import Flask


def start(app: Flask):
    """Start this process's delivery worker when ``[webhooks] deliver`` is on; return it."""
    import storage
    from webhooks.delivery import Settings
    from webhooks.worker import Worker

    values = app.config["ROSTER"]
    if not values["webhook_deliver"]:
        return None
    return Worker(storage.get_store(app), Settings.from_config(values)).start()
