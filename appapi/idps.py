"""``GET /api/v1/idps``: the identity providers whose users and groups Roster holds; and the
``idp`` parameter of the other lists."""

from __future__ import annotations

from flask import Blueprint

from appapi import params
from appapi.problems import Problem
from lifecycle.downstream import view
from storage import get_store
from storage.interface import Store

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


def scope(store: Store, idp: str | None = None) -> list[str]:
    """Return the ids of the IdPs a request reads: ``idp`` alone, or every one.

    An ``idp`` that names no identity provider is a 400 problem: an empty list would read as
    "this IdP has nobody"."""
    if idp is None:
        return sorted(record["id"] for record in store.records("idps"))
    if store.get_record("idps", idp) is None:
        raise Problem(400, "idp: there is no identity provider with this id.", parameter="idp")
    return [idp]


@bp.get("/idps")
def index():
    """List every identity provider, by name."""
    params.parse(params.Plain())
    store = get_store()
    seq = store.last_seq()  # before the data: the answer reflects at least every event to seq
    store = view(store)  # as the applications see it: held changes left out
    records = sorted(store.records("idps"), key=lambda r: (r["name"].casefold(), r["id"]))
    return {"data": [shape(store, r) for r in records], "seq": seq}
