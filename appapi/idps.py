"""``GET /api/v1/idps``: the identity providers whose users and groups Roster holds."""

from __future__ import annotations

from flask import Blueprint

from storage import get_store

bp = Blueprint("idps", __name__)


def shape(store, record: dict) -> dict:
    """Return an IdP in the application shape: who it is and how much it provisioned."""
    return {
        "id": record["id"],
        "name": record["name"],
        "kind": record["kind"],
        "users": store.count("User", record["id"]),
        "groups": store.count("Group", record["id"]),
    }


@bp.get("/idps")
def index():
    """List every identity provider, by name."""
    store = get_store()
    records = sorted(store.records("idps"), key=lambda r: (r["name"].casefold(), r["id"]))
    return {"data": [shape(store, r) for r in records]}
