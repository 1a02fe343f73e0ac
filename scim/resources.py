"""The behaviour Users and Groups share: create, read, replace, patch, delete, list and search
(RFC 7644 §3.3 to §3.6), parameterised by a ``Kind`` that says what differs per type.

Views stay thin: each builds a request from the edge (marshmallow ``load_*``), calls one of the
functions here, and returns what it gives back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from flask import Blueprint, current_app, g, request

import clock
from lifecycle import kept
from lifecycle import screen as downstream
from monitoring.requestid import source
from scim import rendered, requestlog
from scim.core import errors, membership
from scim.core.attributes import ResourceType
from scim.core.discovery_docs import list_response
from scim.core.filter import attribute_paths, parse_filter
from scim.core.messages import load_patch, load_query, load_search
from scim.core.models import load_resource
from scim.core.patch import apply_patch
from scim.core.projection import Shown, project, sort_key, split_attribute_list
from scim.http import read_json, scim_response
from storage import get_store

Hook = Callable[..., dict]
Seal = Callable[[dict], dict]


def _same(new: dict, current: dict | None, added: list | None = None) -> dict:
    return new


def _unsealed(resource: dict) -> dict:
    return resource


@dataclass(frozen=True)
class Kind:
    """What differs between resource types.

    ``prepare(new, current, added=None)`` runs under the store's write lock just before a write
    (``current`` is None on create): it validates references and carries internal fields over.
    ``added`` is given when only those members of ``new`` are new objects and the rest are
    ``current``'s own, unchanged (a membership PATCH): only they need checking.
    ``decorate(resource, shown)`` returns ``resource`` with derived attributes added (a
    User's ``groups``, members' ``$ref``) before projection, leaving ``resource`` itself
    unmodified; ``shown`` (``scim.core.projection.Shown``) says which attributes the response
    carries, so that what it leaves out is not derived. ``seal(new)`` runs before the lock is
    taken, for slow work that needs nothing from the store (hashing a password): every writer
    of every tenant waits on the lock, so it must be held for as short a time as possible.
    ``seal_operations(operations)`` does the same for a PATCH, before its operations are
    applied, and returns the seal of the patched resource, which runs under the lock (it
    takes what was prepared ahead for whichever operation proved to set a password).
    ``prefetch(resources, shown)`` is told a page is about to be decorated, so that
    it can look up for all of them at once what ``decorate`` derives (a User's groups).
    ``created(resource)`` is told ``resource`` was just created: nothing can refer to it yet
    (no Group names a User that did not exist), so ``decorate`` need look nothing up.
    """

    rtype: ResourceType
    prepare: Hook = _same
    decorate: Callable[[dict, Shown], dict] = field(default=lambda resource, shown: resource)
    seal: Seal = _unsealed
    seal_operations: Callable[[list[dict]], Seal] = field(default=lambda operations: _unsealed)
    prefetch: Callable[[list[dict], Shown], None] = field(default=lambda resources, shown: None)
    created: Callable[[dict], None] = field(default=lambda resource: None)


def base_url() -> str:
    """Return the tenant's SCIM base URL, honouring ``public_url`` (RFC 7644 §3.1 Location)."""
    url = g.get("scim_base_url")
    if url is None:  # once per request: a page of 100 Users asks 200 times
        public = current_app.config["ROSTER"]["public_url"] or _host_url()
        url = g.scim_base_url = f"{public}/scim/v2/{g.idp}"
    return url


# The host URL by what it is made of: werkzeug builds it anew for every request (IRI
# decoding included), about 50 µs of a POST. Bounded: the Host header is the client's.
_HOST_PARTS = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME")
_host_urls: dict[tuple, str] = {}


def _host_url() -> str:
    key = tuple(request.environ.get(name) for name in _HOST_PARTS)
    url = _host_urls.get(key)
    if url is None:
        url = request.host_url.rstrip("/")
        if len(_host_urls) < 64:
            _host_urls[key] = url
    return url


def _limits() -> dict:
    return current_app.config["ROSTER"]


def location(kind: Kind, id: str) -> str:
    """Return the URL of the resource ``id`` of ``kind`` (RFC 7644 §3.1 Location)."""
    return f"{base_url()}{kind.rtype.endpoint}/{id}"


def render(kind: Kind, resource: dict, attributes=None, excluded=None) -> dict:
    """Return ``resource`` as a client sees it: derived attributes, location, projection.

    ``resource`` is not modified (it may be the store's own, read-only document)."""
    resource = kind.decorate(resource, Shown(kind.rtype, attributes, excluded))
    # Internal fields (a password hash) start with "_" and never leave the server.
    public = {k: v for k, v in resource.items() if not k.startswith("_")}
    public["meta"] = {**resource["meta"], "location": location(kind, resource["id"])}
    ahead = rendered.names(public)  # a large group's members, rendered for this projection
    return project(public, kind.rtype, attributes, excluded, rendered=ahead)


def _projection_args() -> tuple[list[str] | None, list[str] | None]:
    if not request.query_string:  # most writes: parsing an empty query string costs 40 µs
        return None, None
    return (
        split_attribute_list(request.args.get("attributes")),
        split_attribute_list(request.args.get("excludedAttributes")),
    )


def _single(kind: Kind, resource: dict, status: int = 200) -> object:
    attributes, excluded = _projection_args()
    headers = {"ETag": resource["meta"]["version"]}
    if status == 201:
        headers["Location"] = location(kind, resource["id"])
    return scim_response(render(kind, resource, attributes, excluded), status, headers)


def required_version(value: str | None) -> str | None:
    """Return the version an ``If-Match`` value (or a bulk operation's ``version``) requires,
    or None when any version will do."""
    # RFC 7644 §3.14 / RFC 7232 §3.1: "*" matches any current version.
    if value is None or value.strip() == "*":
        return None
    return value.split(",")[0].strip()


def _if_match() -> str | None:
    return required_version(request.headers.get("If-Match"))


def _internal(resource: dict | None) -> dict:
    return {k: v for k, v in (resource or {}).items() if k.startswith("_")}


# --- the writes, one function each, shared by the views below and by /Bulk (scim.bulk) -----


# ``origin``: what the write's change events name as their source
# (``monitoring.requestid.source``: the request's method, path and id); a /Bulk operation
# names itself.


def _screen(origin: dict):
    """What the applications learn of this write (``lifecycle.screen``)."""
    return downstream.for_request(get_store(), g.idp, clock.now(), origin)


def create_one(kind: Kind, body: object, origin: dict | None = None) -> dict:
    """Store a new resource from a request body; return it as stored (RFC 7644 §3.3)."""
    new = kind.seal(load_resource(kind.rtype, body))
    store, origin = get_store(), origin or source()
    given = None
    if kind.rtype.name == "User":
        # A /Bulk request reads the users an IdP may give back once (``scim.bulk``).
        known = g.get("adoptable") or kept.Adoptable(store, g.idp)
        given = known.id_for(new)
        if given is not None:
            known.forget()  # given back now: no longer the IdP's to give
    return store.create(
        kind.rtype.name,
        g.idp,
        new,
        prepare=lambda data: kind.prepare(data, None),
        source=origin,
        screen=_screen(origin),
        id=given,
    )


def replace_one(
    kind: Kind, id: str, body: object, if_version: str | None, origin: dict | None = None
) -> dict:
    """Replace every client-writable attribute of a resource; return it as stored
    (RFC 7644 §3.5.1)."""
    new = kind.seal(load_resource(kind.rtype, body))

    def change(current: dict) -> dict:
        _check_immutable(kind.rtype, current, new)
        # Internal fields carry over unless the new body sealed its own (a new password hash).
        return kind.prepare({**_internal(current), **new}, current)

    return _update(kind, id, change, if_version, origin)


def patch_one(
    kind: Kind, id: str, body: object, if_version: str | None, origin: dict | None = None
) -> dict:
    """Apply a PatchOp's operations, all or none; return the resource as stored
    (RFC 7644 §3.5.2)."""
    operations = load_patch(body, max_operations=_limits()["max_operations"])
    steps = membership.plan(operations, kind.rtype)
    seal = kind.seal_operations(operations)

    def change(current: dict) -> dict:
        internal = _internal(current)
        public = {k: v for k, v in current.items() if not k.startswith("_")}
        # Membership adds and removes touch only the members they name (a group may have
        # 100,000); everything else goes through the general engine.
        applied = membership.apply(public, steps, kind.rtype) if steps else None
        if applied is not None:
            new, added = applied
            return kind.prepare(seal({**new, **internal}), current, added)
        new = load_resource(kind.rtype, apply_patch(public, operations, kind.rtype))
        return kind.prepare(seal({**new, **internal}), current)

    return _update(kind, id, change, if_version, origin)


def _update(
    kind: Kind,
    id: str,
    change: Callable[[dict], dict],
    if_version: str | None,
    origin: dict | None,
) -> dict:
    """The store write a PUT and a PATCH share: ``change`` applied to the stored resource."""
    origin = origin or source()
    return get_store().update(
        kind.rtype.name,
        g.idp,
        id,
        change,
        if_version=if_version,
        source=origin,
        screen=_screen(origin),
    )


def delete_one(kind: Kind, id: str, if_version: str | None, origin: dict | None = None) -> None:
    """Delete a resource (RFC 7644 §3.6)."""
    origin = origin or source()
    get_store().delete(
        kind.rtype.name, g.idp, id, if_version=if_version, source=origin, screen=_screen(origin)
    )


# --- the views ------------------------------------------------------------------------------


def create(kind: Kind) -> object:
    """POST: store a new resource, 201 with Location (RFC 7644 §3.3)."""
    resource = create_one(kind, read_json())
    kind.created(resource)
    requestlog.created(resource["id"])
    return _single(kind, resource, 201)


def get(kind: Kind, id: str) -> object:
    """GET one resource; 304 when If-None-Match names its version (RFC 7644 §3.14)."""
    resource = get_store().get(kind.rtype.name, g.idp, id)
    if resource is None:
        raise errors.NotFound(f"{kind.rtype.name} {id} not found.")
    if_none_match = request.headers.get("If-None-Match", "")
    tags = {t.strip() for t in if_none_match.split(",")}
    if resource["meta"]["version"] in tags or "*" in tags:
        return scim_response(None, 304, {"ETag": resource["meta"]["version"]})
    return _single(kind, resource)


def replace(kind: Kind, id: str) -> object:
    """PUT: replace every client-writable attribute (RFC 7644 §3.5.1)."""
    return _single(kind, replace_one(kind, id, read_json(), _if_match()))


def _check_immutable(rtype: ResourceType, current: dict, new: dict) -> None:
    """RFC 7644 §3.5.1: an immutable attribute that has a value may not be changed by PUT."""
    for attribute in rtype.schema.attributes:
        if attribute.mutability != "immutable":
            continue
        old = current.get(attribute.name)
        if old is not None and attribute.name in new and new[attribute.name] != old:
            raise errors.Mutability(f"{attribute.name} is immutable and cannot be changed.")


def patch(kind: Kind, id: str) -> object:
    """PATCH: apply every operation or none (RFC 7644 §3.5.2); 200 with the resource."""
    return _single(kind, patch_one(kind, id, read_json(), _if_match()))


def delete(kind: Kind, id: str) -> object:
    """DELETE: 204, and the resource is gone (RFC 7644 §3.6)."""
    delete_one(kind, id, _if_match())
    return scim_response(None, 204)


def search(kinds: list[Kind], query: dict) -> object:
    """Run a query over one or more kinds; answer a ListResponse (RFC 7644 §3.4.2)."""
    expr = parse_filter(query["filter"]) if query["filter"] else None
    if expr is not None and any(p.attr.lower() == "groups" for p in attribute_paths(expr)):
        # A User's groups is derived from memberships, not stored: say so rather than match
        # nothing (RFC 7644 §3.4.2.2: an unsupported filter is 400 invalidFilter).
        raise errors.InvalidFilter(
            "Filtering on groups is not supported; filter Groups on members.value instead."
        )
    store = get_store()
    descending = query["sort_order"] == "descending"
    sorts = _sort_per_kind(kinds, query["sort_by"])
    # RFC 7644 §3.4.2.3: resources without the sortBy value come last when ascending, first
    # when descending; at the root that includes every resource of a type that lacks it.
    kinds = sorted(kinds, key=lambda k: (sorts[k.rtype.name] is None) != descending)
    matched: list[tuple[Kind, dict]] = []
    total = 0
    for kind in kinds:
        found, page = store.query(
            kind.rtype.name,
            g.idp,
            filter=expr,
            sort_by=sorts[kind.rtype.name],
            descending=descending,
            start_index=1 if len(kinds) > 1 else query["start_index"],
            count=None if len(kinds) > 1 else query["count"],
        )
        total += found
        matched += [(kind, resource) for resource in page]
    if len(kinds) > 1:
        begin = query["start_index"] - 1
        matched = matched[begin : begin + query["count"]]
    for kind in kinds:
        shown = Shown(kind.rtype, query["attributes"], query["excluded_attributes"])
        kind.prefetch([r for k, r in matched if k is kind], shown)
    resources = [
        render(kind, r, query["attributes"], query["excluded_attributes"]) for kind, r in matched
    ]
    return scim_response(list_response(resources, total, query["start_index"]))


def _sort_per_kind(kinds: list[Kind], sort_by: str | None) -> dict[str, str | None]:
    """Return the sortBy each kind sorts by: None where the attribute is not one of its own.

    Raises InvalidValue when no kind has the attribute."""
    sorts: dict[str, str | None] = {}
    failure: errors.ScimError | None = None
    for kind in kinds:
        sorts[kind.rtype.name] = sort_by
        if sort_by:
            try:
                sort_key(kind.rtype, sort_by)
            except errors.InvalidValue as exc:
                sorts[kind.rtype.name], failure = None, exc
    if failure is not None and not any(sorts.values()):
        raise failure
    return sorts


def list_get(kinds: list[Kind]) -> object:
    """GET with query parameters (RFC 7644 §3.4.2)."""
    return search(kinds, load_query(request.args, max_count=_limits()["max_results"]))


def list_post(kinds: list[Kind]) -> object:
    """POST /.search (RFC 7644 §3.4.3)."""
    return search(kinds, load_search(read_json(), max_count=_limits()["max_results"]))


def add_routes(bp: Blueprint, kind: Kind) -> None:
    """Register the RFC 7644 §3 endpoints of one resource type on its blueprint."""
    one = {"get": get, "replace": replace, "patch": patch, "delete": delete}
    methods = {"get": "GET", "replace": "PUT", "patch": "PATCH", "delete": "DELETE"}
    bp.add_url_rule("", "create", partial(create, kind), methods=["POST"])
    bp.add_url_rule("", "list", partial(list_get, [kind]), methods=["GET"])
    bp.add_url_rule("/.search", "search", partial(list_post, [kind]), methods=["POST"])
    for name, view in one.items():
        bp.add_url_rule("/<id>", name, partial(view, kind), methods=[methods[name]])
