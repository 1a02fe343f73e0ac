"""Record every SCIM request in the IdP's request log (``storage.get_request_log``): when,
what, the answer, how long, which client, which resource, why it failed, and the request id
(``monitoring.requestid``). Never the token (the Authorization header is not read here) and
never a password. The process log's line for each request is ``monitoring.logs``'s.

Recording runs after the answer is decided, and never changes it: a write that is committed
is answered as such even when its log entry cannot be written."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

import tokens
from scim.core.attributes import last_name
from storage import get_request_log, get_store
from storage.behind import AppendBehind

KINDS = {"scim.users": "User", "scim.groups": "Group"}
REDACTED = "[redacted]"
SECRET_KEYS = {"password", "token", "authorization", "secret"}


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_record)


def _is_scim() -> bool:
    return any(name == "scim" for name in request.blueprints)


def _start() -> None:
    g.request_started = time.perf_counter()


def scrub(text: str) -> str:
    """Return ``text`` with tokens replaced, and storable: a lone surrogate becomes "?" and
    U+0000 (which PostgreSQL cannot store) becomes U+FFFD."""
    text = tokens.redact(text).replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8")


def _secret_path(path: object) -> bool:
    """Whether a PATCH ``path`` names a secret (``password``, ``urn:…:User:password``)."""
    return last_name(path) in SECRET_KEYS


def redact(value: object) -> object:
    """Return ``value`` with every secret-looking key's value replaced, and strings scrubbed.

    RFC 7644 §3.5.2: a PATCH operation names its attribute in ``path`` and carries the new
    value under ``value``, so an operation whose path names a secret has its value hidden too.
    """
    if isinstance(value, dict):
        keys = {str(k).lower(): v for k, v in value.items()}
        hidden = SECRET_KEYS | ({"value"} if _secret_path(keys.get("path")) else set())
        return {
            scrub(str(k)): REDACTED if str(k).lower() in hidden else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def _redacted_body(raw: bytes) -> object:
    try:
        return redact(_json(raw))
    except RecursionError:  # a body nested about as deeply as the JSON parser allows
        return REDACTED


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return raw[:2000].decode("utf-8", "replace")


def _request_body() -> bytes:
    try:
        return request.get_data(cache=True)
    except HTTPException:  # over the size limit: it was never read, and is not now
        return b""


def created(resource_id: str) -> None:
    """Tell the request's log entry the id of the resource it created (no need to read it
    back out of the answer)."""
    g.created_id = resource_id


def _resource(response: Response, body: object) -> str | None:
    kind = KINDS.get(request.blueprint or "")
    resource_id = (request.view_args or {}).get("id")
    if resource_id is None and response.status_code == 201:
        resource_id = g.get("created_id")
        if resource_id is None and isinstance(body, dict):
            resource_id = body.get("id")
    return scrub(f"{kind} {resource_id}") if kind and resource_id else None


def _entry(response: Response, with_body: bool) -> tuple[dict, object]:
    # The body is parsed only when something is taken from it (an error's scimType, a new
    # resource's id unless the view said it, log_bodies): a 10,000-member group's answer is
    # 1.6 MB of JSON.
    told = response.status_code == 201 and g.get("created_id") is not None
    wanted = with_body or response.status_code >= 400 or (response.status_code == 201 and not told)
    body = _json(response.get_data()) if wanted and response.mimetype.endswith("json") else None
    path = request.full_path if request.query_string else request.path
    started = g.get("request_started", time.perf_counter())
    entry = _fields(request.method, path, response.status_code, started)
    entry["resource"] = _resource(response, body)
    if response.status_code >= 400 and isinstance(body, dict):
        _add_error(entry, body)
    return entry, body


def _fields(method: str, path: str, status: int, started: float) -> dict:
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "idp": _tenant(),
        "method": method,
        "path": scrub(path),
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "user_agent": scrub(request.headers.get("User-Agent", "")),
        "request_id": g.get("request_id"),
    }


def _add_error(entry: dict, body: dict) -> None:
    entry["scim_type"] = body.get("scimType")
    detail = body.get("detail")
    entry["detail"] = scrub(detail) if isinstance(detail, str) else detail


def record_operation(
    method: str,
    path: str,
    status: int,
    started: float,
    *,
    resource: str | None = None,
    request_body: object = None,
    response_body: dict | None = None,
) -> None:
    """Record one operation of a /Bulk request (RFC 7644 §3.7) as the single request it stands
    for: ``path`` below the tenant's base (``/Users/{id}``), its status, ``resource`` as
    ``User {id}``, the error body it was answered with. Marked ``"bulk": true``."""
    idp, request_log = g.idp, get_request_log()
    try:
        entry = _fields(method, f"/scim/v2/{idp}{path}", status, started)
        entry["resource"] = scrub(resource) if resource else None
        entry["bulk"] = True
        if status >= 400 and response_body is not None:
            _add_error(entry, response_body)
        if current_app.config["ROSTER"]["log_bodies"]:
            entry["request_body"] = _redacted_body_of(request_body)
            entry["response_body"] = redact(response_body)
        unavailable = g.get("store_unavailable")
        if unavailable is not None and request_log.in_store:
            request_log.failures.record(unavailable)  # as for a single request (_keep)
        else:
            request_log.append(idp, entry)
    except Exception as exc:  # as for a single request: the operation's outcome stands
        request_log.failures.record(exc)


def _redacted_body_of(value: object) -> object:
    try:
        return redact(value)
    except RecursionError:
        return REDACTED


def _tenant() -> str | None:
    """Return the IdP a SCIM request is addressed to, also when no route matched it."""
    if _is_scim():
        return g.get("idp")
    parts = request.path.split("/")
    if len(parts) > 3 and parts[1] == "scim" and parts[2] == "v2":
        return parts[3]
    return None


def _record(response: Response) -> Response:
    idp = _tenant()
    if not idp or "\x00" in idp:  # no IdP's id holds a NUL (and PostgreSQL cannot look one up)
        return response
    request_log = get_request_log()
    try:
        _keep(idp, response, request_log)
    except Exception as exc:
        # The answer is decided (a write may be committed): failing to log it must not turn it
        # into an error. The request log counts and logs the failure.
        request_log.failures.record(exc)
    return response


def _keep(idp: str, response: Response, request_log: AppendBehind) -> None:
    # A store that has just failed this request is not asked again (it would make the client
    # wait for it twice), nor a request log kept in it.
    unavailable = g.get("store_unavailable")
    # Requests for IdPs that do not exist are not kept: anyone could fill the disk with them.
    # (An authenticated request's IdP exists: no need to ask the store again.)
    if g.get("authenticated_idp") != idp and (
        unavailable is not None or get_store().get_record("idps", idp) is None
    ):
        return
    log_bodies = current_app.config["ROSTER"]["log_bodies"]
    entry, body = _entry(response, log_bodies)
    if log_bodies:
        entry["request_body"] = _redacted_body(_request_body())
        entry["response_body"] = redact(body)
    g.scim_type = entry.get("scim_type")  # for the process log's line (monitoring.logs)
    if unavailable is not None and request_log.in_store:
        request_log.failures.record(unavailable)  # not tried: it is kept in that store
    else:
        request_log.append(idp, entry)
