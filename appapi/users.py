"""``GET /api/v1/users`` (filtered by IdP, active, group, email and text) and
``GET /api/v1/users/{id}``, in the application shape (``scim.core.shape.user``)."""

from __future__ import annotations

from flask import Blueprint
from marshmallow import fields

from appapi import idps, params, reading
from appapi.paging import listing
from appapi.problems import Problem
from lifecycle.downstream import view
from scim.core import shape
from scim.core.filter import AttrPath, Compare, Expr, Not, Or
from storage import get_store
from storage.interface import Store

bp = Blueprint("users", __name__)
LIST = "users"

# What ``q`` looks in: every name a person is known by. None of these is caseExact
# (RFC 7643 §4.1.1), so ``co`` compares case-insensitively (RFC 7644 §3.4.2.2).
SEARCHED = (
    ("userName", None),
    ("displayName", None),
    ("name", "formatted"),
    ("name", "givenName"),
    ("name", "familyName"),
    ("emails", "value"),
)


class UserQuery(params.Page):
    cursor = params.Cursor(LIST)
    idp = params.text("an identity provider's id")
    active = fields.Boolean(
        truthy={"true"}, falsy={"false"}, error_messages={"invalid": "give true or false."}
    )
    group = params.text("a group's id")
    email = params.text("an email address")
    q = params.text("the text to look for")


def user_filter(args: dict) -> Expr | None:
    """Return the SCIM filter for the ``active``, ``email`` and ``q`` parameters."""
    parts: list[Expr] = []
    if "active" in args:
        # A user is active unless the IdP said otherwise (scim.core.shape.user): "not false"
        # also holds for a user stored without ``active``.
        inactive = Compare(AttrPath(None, "active"), "eq", False)
        parts.append(Not(inactive) if args["active"] else inactive)
    if "email" in args:
        # emails.value is not caseExact (RFC 7643 §4.1.2): the address matches in any case.
        parts.append(reading.equals("emails.value", args["email"]))
    if "q" in args:
        found = [Compare(AttrPath(None, a, s), "co", args["q"]) for a, s in SEARCHED]
        text = found[0]
        for expr in found[1:]:
            text = Or(text, expr)
        parts.append(text)
    return reading.both(*parts)


def shaped(store: Store, items: list[tuple[str, dict]]) -> list[dict]:
    """Return users in the application shape, each IdP's groups read in one step."""
    by_idp: dict[str, list[str]] = {}
    for idp, user in items:
        by_idp.setdefault(idp, []).append(user["id"])
    groups = {idp: store.groups_of_each(idp, ids) for idp, ids in by_idp.items()}
    return [shape.user(user, idp, groups[idp][user["id"]]) for idp, user in items]


def _page(store: Store, args: dict) -> reading.Page:
    among = idps.scope(store, args.get("idp"))
    filter, after, limit = user_filter(args), args.get("cursor"), args["limit"]
    if "group" not in args:
        return reading.page(store, "User", among, filter, after, limit)
    found = reading.locate(store, "Group", among, args["group"])
    if found is None:
        where = " of this identity provider" if "idp" in args else ""
        raise Problem(400, f"group: there is no group with this id{where}.", parameter="group")
    idp, group = found
    return reading.users_in(store, idp, group, filter, after, limit)


@bp.get("/users")
def index():
    """List users, in id order, a page at a time."""
    args = params.parse(UserQuery())
    store = get_store()
    seq = store.last_seq()  # before the data: the page reflects at least every event to seq
    store = view(store)  # as the applications see it: held changes left out
    page = _page(store, args)
    last = page.items[-1][1]["id"] if page.items else None
    return listing(LIST, shaped(store, page.items), page.has_more, last, seq)


@bp.get("/users/<id>")
def show(id: str):
    """Return one user, whichever identity provider holds it."""
    params.parse(params.Plain())
    store = get_store()
    seq = store.last_seq()
    store = view(store)  # as the applications see it: held changes left out
    found = reading.locate(store, "User", idps.scope(store), id)
    if found is None:
        raise Problem(404, "There is no user with this id.")
    return {"data": shaped(store, [found])[0], "seq": seq}
