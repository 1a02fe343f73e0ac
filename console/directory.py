"""Settings → Provisioned Users: the Users and User Groups tabs and a page per user and group."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from console import listing, present
from console.idps import all_idps, find_idp
from providers import endpoint
from scim.core.errors import ScimError
from storage import Store, get_store

bp = Blueprint("directory", __name__, url_prefix="/settings/provisioned-users")
MEMBERS_PER_PAGE = 100
RAW_MEMBERS = 200  # members shown in a group's raw JSON
GROUPS_SHOWN = 3  # group names in a user's row; the rest as "+N more"
EVENTS_SHOWN = 20  # the newest change events on a user's or group's page


def _query(kind: str) -> tuple[dict, list[dict], listing.Page]:
    """Read the search form, and return (its values, every IdP, the page asked for)."""
    store = get_store()
    idps = all_idps(store)
    values = {
        "q": request.args.get("q", "")[:200],
        "idp": request.args.get("idp", ""),
        "active": request.args.get("active", "") if kind == "User" else "",
    }
    chosen = [r for r in idps if r["id"] == values["idp"]] if values["idp"] else idps
    try:
        where = listing.search_filter(kind, values["q"], values["active"])
    except ScimError:  # pragma: no cover - json.dumps quoting always parses
        abort(400, "This search cannot be run.")
    page = listing.page_of(
        store, kind, chosen, where, listing.page_number(request.args.get("page"))
    )
    if not page.rows and page.number > page.pages:  # past the end (rows were deleted)
        page = listing.page_of(store, kind, chosen, where, page.pages)
    return values, idps, page


def _user_row(store: Store, idp: dict, user: dict) -> dict:
    groups = store.groups_of(idp["id"], user["id"])
    names = sorted((g.get("displayName") or "" for g in groups), key=str.casefold)
    return {
        "idp": idp,
        "user": user,
        "name": present.full_name(user),
        "email": present.primary_email(user),
        "active": present.active_label(user),
        "groups": names[:GROUPS_SHOWN],
        "more_groups": max(len(names) - GROUPS_SHOWN, 0),
    }


@bp.get("")
def users():
    """List provisioned users with search, IdP and active-state filters."""
    values, idps, page = _query("User")
    store = get_store()
    rows = [_user_row(store, idp, user) for idp, user in page.rows]
    return render_template("directory/users.html", values=values, idps=idps, page=page, rows=rows)


@bp.get("/groups")
def groups():
    """List provisioned groups with search and IdP filters."""
    values, idps, page = _query("Group")
    return render_template("directory/groups.html", values=values, idps=idps, page=page)


def _location(idp: str, kind: str, id: str) -> str:
    return f"{endpoint(current_app.config['ROSTER'], idp)}/{kind}s/{id}"


def _resource(kind: str, idp: str, id: str) -> tuple[dict, dict]:
    record = find_idp(idp)
    resource = get_store().get(kind, idp, id)
    if resource is None:
        abort(
            404, f"There is no such {kind.lower()} in {record['name']}. It may have been deleted."
        )
    return record, resource


@bp.get("/<idp>/users/<id>")
def user(idp: str, id: str):
    """Show a user's attributes, groups and raw SCIM JSON."""
    record, found = _resource("User", idp, id)
    groups = sorted(
        get_store().groups_of(idp, id), key=lambda g: str(g.get("displayName", "")).casefold()
    )
    return render_template(
        "directory/user.html",
        idp=record,
        user=found,
        name=present.full_name(found),
        active=present.active_label(found),
        attributes=present.attribute_rows(found, skip=("id",)),
        groups=groups,
        raw=present.raw_json(present.public(found, _location(idp, "User", id))),
        events=_events("User", idp, id),
        # What the applications see of the user, when a held or discarded change makes it
        # differ from what the IdP said.
        downstream=get_store().get_record("downstream", id),
    )


def _events(kind: str, idp: str, id: str) -> list[dict]:
    return present.event_rows(get_store().events_for(kind, idp, id, EVENTS_SHOWN))


def _member_rows(store: Store, idp: str, members: list[dict]) -> list[dict]:
    rows = []
    for member in members:
        value = member.get("value", "")
        kind = member.get("type") if member.get("type") in ("User", "Group") else None
        found = None
        for candidate in (kind,) if kind else ("User", "Group"):
            found = store.get(candidate, idp, value)
            if found is not None:
                kind = candidate
                break
        label = member.get("display") or ""
        if found is not None:
            label = found.get("userName") if kind == "User" else found.get("displayName")
        rows.append({"value": value, "kind": kind, "label": label or value, "found": found})
    return rows


@bp.get("/<idp>/groups/<id>")
def group(idp: str, id: str):
    """Show a group's attributes, members (a page at a time) and raw SCIM JSON."""
    record, found = _resource("Group", idp, id)
    members = [m for m in found.get("members", ()) if isinstance(m, dict)]
    pages = max(1, -(-len(members) // MEMBERS_PER_PAGE))
    number = min(listing.page_number(request.args.get("page")), pages)
    begin = (number - 1) * MEMBERS_PER_PAGE
    shown = _member_rows(get_store(), idp, members[begin : begin + MEMBERS_PER_PAGE])
    raw = present.public(found, _location(idp, "Group", id))
    if len(members) > RAW_MEMBERS:
        # A group of 100,000 members would make a page of megabytes: the table pages them.
        raw["members"] = members[:RAW_MEMBERS]
    return render_template(
        "directory/group.html",
        idp=record,
        group=found,
        attributes=present.attribute_rows(found, skip=("id", "members")),
        members=shown,
        page=listing.Page(shown, len(members), number, MEMBERS_PER_PAGE),
        raw=present.raw_json(raw),
        raw_cut=len(members) > RAW_MEMBERS,
        raw_members=RAW_MEMBERS,
        events=_events("Group", idp, id),
    )
