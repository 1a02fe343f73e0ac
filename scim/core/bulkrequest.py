"""The BulkRequest message (RFC 7644 §3.7) and its ``bulkId`` references (§3.7.2), as plain
code: what an operation asks for, what it refers to, and its data with the references
replaced. Nothing here imports Flask or the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scim.core.errors import (
    InvalidSyntax,
    InvalidValue,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ScimError,
)
from scim.core.fields import lower_keys, require_schema

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
PREFIX = "bulkId:"
METHODS = ("POST", "PUT", "PATCH", "DELETE")
ENDPOINTS = ("/Users", "/Groups")
_CANONICAL = {endpoint.lower(): endpoint for endpoint in ENDPOINTS}
# A reference quoted inside a PATCH path's filter: members[value eq "bulkId:qwerty"].
_QUOTED = re.compile(r'"bulkId:([^"]*)"')


@dataclass
class Operation:
    """One operation of a bulk job, as sent (``method`` upper-cased).

    ``endpoint`` is ``/Users`` or ``/Groups`` and ``target`` the id (or ``bulkId:…``) its path
    names after it, None for a POST. ``problem`` is the error the operation is answered with
    without being carried out (a missing ``data``, a path to nowhere); ``refs`` are the bulkIds
    its data refers to, ``path_ref`` the one its path names.
    """

    index: int
    method: object
    bulk_id: str | None = None
    path: str | None = None
    data: object = None
    version: str | None = None
    endpoint: str | None = None
    target: str | None = None
    problem: ScimError | None = None
    refs: frozenset[str] = field(default_factory=frozenset)
    path_ref: str | None = None


@dataclass
class BulkJob:
    operations: list[Operation]
    fail_on_errors: int | None


def load_bulk(data: object, *, max_operations: int) -> BulkJob:
    """Validate a BulkRequest; return its operations. Raises the error the whole request is
    answered with: 413 past ``max_operations`` (RFC 7644 §3.7.4), 400 for a body that is no
    BulkRequest. A fault of one operation is its own ``problem``, not the request's."""
    if not isinstance(data, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    require_schema(data, BULK_REQUEST, optional=True)
    body = lower_keys(data, ("Operations", "failOnErrors"))
    raw = body.get("Operations")
    if not isinstance(raw, list) or not raw:
        raise InvalidValue("Operations: A non-empty list of operations is required.")
    if len(raw) > max_operations:
        # RFC 7644 §3.7.4: 413, and the error names the limit exceeded.
        raise PayloadTooLarge(
            f"The bulk request has {len(raw)} operations; maxOperations is {max_operations}."
        )
    fail_on_errors = body.get("failOnErrors")
    if fail_on_errors is not None and (
        not isinstance(fail_on_errors, int)
        or isinstance(fail_on_errors, bool)
        or fail_on_errors < 1
    ):
        raise InvalidValue("failOnErrors: Must be an integer of at least 1.")
    operations = [_operation(index, item) for index, item in enumerate(raw)]
    _unique_bulk_ids(operations)
    return BulkJob(operations, fail_on_errors)


def _unique_bulk_ids(operations: list[Operation]) -> None:
    seen: set[str] = set()
    for op in operations:
        if op.method == "POST" and op.bulk_id is not None:
            # RFC 7644 §3.7: a bulkId is "unique within a bulk request".
            if op.bulk_id in seen:
                raise InvalidValue(f"Operations: bulkId {op.bulk_id!r} is given more than once.")
            seen.add(op.bulk_id)


def _operation(index: int, raw: object) -> Operation:
    if not isinstance(raw, dict):
        raise InvalidSyntax(f"Operations[{index}]: Not a valid object.")
    fields = lower_keys(raw, ("method", "bulkId", "version", "path", "data"))
    method = fields.get("method")
    method = method.upper() if isinstance(method, str) else method
    op = Operation(index, method, data=fields.get("data"))
    where = f"Operations[{index}]"
    try:
        op.bulk_id = _optional_text(fields, "bulkId", where)
        op.version = _optional_text(fields, "version", where)
        if method not in METHODS:
            raise InvalidValue(f"{where}.method: Must be one of {', '.join(METHODS)}.")
        op.path = _optional_text(fields, "path", where)
        if op.path is None:
            raise InvalidValue(f"{where}.path: Required.")
        op.endpoint, op.target = _route(method, op.path)
        if method != "DELETE" and op.data is None:
            raise InvalidValue(f"{where}.data: Required for {method}.")
        op.refs = frozenset(references(op.data)) if method != "DELETE" else frozenset()
        if op.target is not None and op.target.startswith(PREFIX):
            op.path_ref = op.target[len(PREFIX) :]
    except ScimError as problem:
        op.problem = problem
    return op


def _optional_text(fields: dict, name: str, where: str) -> str | None:
    value = fields.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidValue(f"{where}.{name}: Must be a non-empty string.")
    return value


def _route(method: str, path: str) -> tuple[str, str | None]:
    """Return (endpoint, resource id or None) of an operation's path, or raise what a single
    request to that path would get (RFC 7644 §3.7.3: the status "that would have been
    returned if a single HTTP request would have been used")."""
    # RFC 7644 §3.7: the path is relative to the service provider's root: "/Users/{id}".
    parts = [part for part in path.split("/") if part]
    # Endpoint names are matched in any case, as the single requests' routes are.
    endpoint = _CANONICAL.get(f"/{parts[0]}".lower() if parts else "/")
    if endpoint is None or len(parts) > 2:
        raise NotFound(f"There is no SCIM endpoint at {path}.")
    target = parts[1] if len(parts) == 2 else None
    if (method == "POST") != (target is None):
        raise MethodNotAllowed(f"{method} is not allowed on {path}.")
    return endpoint, target


def _is_path_key(key: object) -> bool:
    return isinstance(key, str) and key.lower() == "path"


def references(value: object) -> set[str]:
    """Return the bulkIds ``value`` refers to: every string ``bulkId:…`` (a member's or a
    manager's ``value``), and each ``"bulkId:…"`` quoted in a PATCH path's filter."""
    found: set[str] = set()
    stack: list[tuple[object, object]] = [(None, value)]
    while stack:  # iterative: data may be nested as deeply as the JSON parser allowed
        key, item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.items())
        elif isinstance(item, list):
            stack.extend((None, element) for element in item)
        elif isinstance(item, str) and PREFIX in item:
            if item.startswith(PREFIX):
                found.add(item[len(PREFIX) :])
            elif _is_path_key(key):
                found.update(_QUOTED.findall(item))
    return found


def resolve(value: object, ids: dict[str, str], key: object = None) -> object:
    """Return a copy of ``value`` with each reference to a bulkId of ``ids`` replaced by the
    id of the resource it created (RFC 7644 §3.7.2: "The service provider MUST replace the
    string "bulkId:qwerty" with the permanent resource id once created")."""
    if isinstance(value, dict):
        return {k: resolve(v, ids, k) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, ids) for v in value]
    if isinstance(value, str) and PREFIX in value:
        if value.startswith(PREFIX):
            return ids.get(value[len(PREFIX) :], value)
        if _is_path_key(key):
            return _QUOTED.sub(lambda m: f'"{ids.get(m.group(1), m.group(0)[1:-1])}"', value)
    return value


def without(value: object, refs: set[str]) -> object:
    """Return a copy of ``value`` without the references to ``refs``: list elements and
    attributes that are such a reference, or whose ``value`` is one (a member, a manager).

    What a resource on a circle of references is created with first (RFC 7644 §3.7.1)."""

    def is_ref(item: object) -> bool:
        if isinstance(item, dict):
            item = next((v for k, v in item.items() if str(k).lower() == "value"), None)
        return isinstance(item, str) and item.startswith(PREFIX) and item[len(PREFIX) :] in refs

    if isinstance(value, dict):
        return {k: without(v, refs) for k, v in value.items() if not is_ref(v)}
    if isinstance(value, list):
        return [without(v, refs) for v in value if not is_ref(v)]
    return value
