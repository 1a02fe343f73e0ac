"""``GET /api/v1/groups`` (filtered by IdP and member), ``GET /api/v1/groups/{id}`` and its
members a page at a time, ``GET /api/v1/groups/{id}/members``, in the application shape
(``scim.core.shape.group``: a group without its members, which may number 100,000)."""

from __future__ import annotations

import bisect

from flask import Blueprint

from appapi import idps, params, reading
from appapi.paging import listing
from appapi.problems import Problem
from lifecycle.downstream import view
from scim.core import shape
from storage import get_store
from storage.interface import Store

bp = Blueprint("groups", __name__)
LIST, MEMBERS = "groups", "members"


class GroupQuery(params.Page):
    cursor = params.Cursor(LIST)
    idp = params.text("an identity provider's id")
    member = params.text("a user's or group's id")


class MemberQuery(params.Page):
    cursor = params.Cursor(MEMBERS)


def _page(store: Store, args: dict) -> reading.Page:
    among = idps.scope(store, args.get("idp"))
    after, limit = args.get("cursor"), args["limit"]
    if "member" not in args:
        return reading.page(store, "Group", among, None, after, limit)
    member = args["member"]
    holders = [idp for idp in among if store.existing_ids(idp, [member])]
    if not holders:
        where = " of this identity provider" if "idp" in args else ""
        raise Problem(
            400, f"member: there is no user or group with this id{where}.", parameter="member"
        )
    return reading.groups_with(store, holders, member, after, limit)


@bp.get("/groups")
def index():
    """List groups, in id order, a page at a time."""
    args = params.parse(GroupQuery())
    store = get_store()
    seq = store.last_seq()  # before the data: the page reflects at least every event to seq
    store = view(store)  # as the applications see it: held changes left out
    page = _page(store, args)
    last = page.items[-1][1]["id"] if page.items else None
    data = [shape.group(group, idp) for idp, group in page.items]
    return listing(LIST, data, page.has_more, last, seq)


def _group(store: Store, id: str) -> tuple[str, dict]:
    found = reading.locate(store, "Group", idps.scope(store), id)
    if found is None:
        raise Problem(404, "There is no group with this id.")
    return found


@bp.get("/groups/<id>")
def show(id: str):
    """Return one group (without its members), whichever identity provider holds it."""
    params.parse(params.Plain())
    store = get_store()
    seq = store.last_seq()
    store = view(store)  # as the applications see it: held changes left out
    idp, group = _group(store, id)
    return {"data": shape.group(group, idp), "seq": seq}


def _members(store: Store, idp: str, members: list[dict]) -> list[dict]:
    """Return members as ``{"id", "type", "display"}``; ``display`` is what the IdP sent with
    the membership, else the member's own name (read for the whole page at once)."""
    kinds = ["Group" if m.get("type") == "Group" else "User" for m in members]
    unnamed: dict[str, list[str]] = {}
    for member, kind in zip(members, kinds, strict=True):
        if not member.get("display"):
            unnamed.setdefault(kind, []).append(member["value"])
    found = {kind: store.get_each(kind, idp, ids) for kind, ids in unnamed.items()}
    out = []
    for member, kind in zip(members, kinds, strict=True):
        named = found.get(kind, {}).get(member["value"]) or {}
        display = member.get("display") or named.get("displayName") or named.get("userName")
        out.append({"id": member["value"], "type": kind.lower(), "display": display})
    return out


@bp.get("/groups/<id>/members")
def members(id: str):
    """List a group's members, in id order, a page at a time."""
    args = params.parse(MemberQuery())
    store = get_store()
    seq = store.last_seq()
    store = view(store)  # as the applications see it: held changes left out
    idp, group = _group(store, id)
    by_id = {m["value"]: m for m in group.get("members") or () if isinstance(m.get("value"), str)}
    ids = sorted(by_id)
    after, limit = args.get("cursor"), args["limit"]
    start = bisect.bisect_right(ids, after) if after is not None else 0
    chosen = ids[start : start + limit]
    data = _members(store, idp, [by_id[m] for m in chosen])
    more = start + limit < len(ids)
    return listing(MEMBERS, data, more, chosen[-1] if chosen else None, seq)
