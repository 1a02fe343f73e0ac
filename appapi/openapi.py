"""The OpenAPI 3.1 document of both of Roster's APIs: the SCIM API (``scim.core.openapi``) and the
application API, ``/api/v1/`` (described here, change feed included). Served without
credentials at ``/scim/v2/openapi.json`` and ``/api/v1/openapi.json`` (it holds no data) and
shipped as ``docs/openapi.json`` (``python docs/openapi.py``).
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from appapi import paging
from appapi.openapi_shapes import EVENT_TYPES, ref, schemas
from scim.core import openapi as scim_openapi

bp = Blueprint("openapi", __name__)

JSON, PROBLEM = "application/json", "application/problem+json"
STATUS_TEXT = {
    400: "A parameter is not valid; the problem's `parameter` names it.",
    401: "No API key, or not a live one (a SCIM token is not one).",
    404: "No such user or group.",
    410: "The cursor is older than the feed keeps: read the state again, then follow the feed.",
    429: "Too many failed authentications from this address: retry after Retry-After.",
    500: "An unexpected error; the details are in the server's log, never in the response.",
    503: "The store is unavailable: retry after Retry-After.",
}

# --- operations ---------------------------------------------------------------------------------


def _problems(*statuses: int) -> dict:
    """Problem responses for ``statuses``, plus those every operation can give."""
    body = {PROBLEM: {"schema": ref("Problem")}}
    retry = {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
    out = {}
    for status in sorted({*statuses, 401, 429, 500, 503}):
        out[str(status)] = {"description": STATUS_TEXT[status], "content": body}
        if status in (429, 503):
            out[str(status)]["headers"] = retry
    challenge = {"required": True, "schema": {"type": "string", "pattern": "^Bearer"}}
    out["401"]["headers"] = {"WWW-Authenticate": challenge}
    return out


def _get(summary: str, schema: str, parameters: list, *errors: int) -> dict:
    ok = {"description": "OK", "content": {JSON: {"schema": ref(schema)}}}
    return {
        "get": {
            "tags": ["Application API"],
            "summary": summary,
            "security": [{"apiKey": []}],
            "parameters": parameters,
            "responses": {"200": ok, **_problems(400, *errors)},
        }
    }


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "schema": schema, "description": description}


ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
LIMIT = _query(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": paging.LIMIT_MAX, "default": paging.LIMIT_DEFAULT},
    "Items per page.",
)
CURSOR = _query("cursor", {"type": "string"}, "next_cursor of the previous page (opaque).")
IDP = _query("idp", {"type": "string"}, "Only this identity provider's (400 if unknown).")


def _paths() -> dict:
    users = [
        LIMIT,
        CURSOR,
        IDP,
        _query("active", {"enum": ["true", "false"]}, "Only active or only inactive users."),
        _query("group", {"type": "string"}, "Only direct members of this group (400 if unknown)."),
        _query("email", {"type": "string"}, "Only users with this email (any case)."),
        _query("q", {"type": "string"}, "Text in the username, names or emails (any case)."),
    ]
    groups = [
        LIMIT,
        CURSOR,
        IDP,
        _query("member", {"type": "string"}, "Only groups this user or group is directly in."),
    ]
    events = [
        _query("after", {"type": "integer", "minimum": 0}, "The seq to continue after."),
        _query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
            "Events per answer.",
        ),
        _query(
            "types", {"type": "string"}, f"Comma-separated event types: {', '.join(EVENT_TYPES)}."
        ),
        IDP,
        _query(
            "wait",
            {"type": "integer", "minimum": 0, "maximum": 30},
            "Seconds to wait for an event when none follows after (long poll). At most half"
            " the server's threads wait at once: a reader beyond that gets 429.",
        ),
    ]
    return {
        "/api/v1/idps": _get("List the identity providers.", "AppIdpList", []),
        "/api/v1/users": _get("List users in id order, a page at a time.", "AppUserPage", users),
        "/api/v1/users/{id}": _get("Return one user.", "AppUserOne", [ID], 404),
        "/api/v1/groups": _get(
            "List groups in id order, a page at a time.", "AppGroupPage", groups
        ),
        "/api/v1/groups/{id}": _get("Return one group, without members.", "AppGroupOne", [ID], 404),
        "/api/v1/groups/{id}/members": _get(
            "List a group's members in id order, a page at a time.",
            "AppMemberPage",
            [ID, LIMIT, CURSOR],
            404,
        ),
        "/api/v1/events": _get("Follow the change feed.", "AppEventPage", events, 410),
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document.",
                "security": [],
                "responses": {"200": {"description": "OK", "content": {JSON: {"schema": {}}}}},
            }
        },
    }


def describe() -> dict:
    """Return the OpenAPI 3.1 document of the SCIM API and the application API."""
    document = scim_openapi.describe()
    document["info"] = {
        "title": "Roster API",
        "version": "1",
        "description": (
            f"{document['info']['description']}\n\nThe application API, /api/v1/, is what "
            "applications read: identity providers, users and groups in a flat JSON shape, "
            "paged by cursor, and the change feed. It needs an API key (roster_key_…), never "
            "a SCIM token; errors are RFC 9457 problems."
        ),
    }
    document["paths"] |= _paths()
    components = document["components"]
    components["securitySchemes"]["apiKey"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (roster_key_…), RFC 6750; Settings → API Keys.",
    }
    components["schemas"] |= schemas()
    return document


@bp.get("/scim/v2/openapi.json")
@bp.get("/api/v1/openapi.json")
def openapi_json():
    """Return the OpenAPI document (no credentials needed: it holds no data)."""
    return jsonify(describe())
