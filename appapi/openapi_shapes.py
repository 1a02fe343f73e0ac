"""JSON Schemas of the application API's answers (``scim.core.shape``, the list envelope of
``appapi.paging``, RFC 9457 problems and change-feed events), for the OpenAPI document
(``appapi.openapi``)."""

from __future__ import annotations

REF = "#/components/schemas/"
TEXT = {"type": ["string", "null"]}
TIME = {"type": ["string", "null"], "format": "date-time"}
EVENT_TYPES = (
    "user.created", "user.updated", "user.deleted", "group.created", "group.updated",
    "group.deleted", "group.members_added", "group.members_removed",
)  # fmt: skip


def _object(properties: dict, *, closed: bool = True, optional: tuple = ()) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": not closed,
    }


def ref(name: str) -> dict:
    return {"$ref": REF + name}


def schemas() -> dict:
    """Return the components/schemas entries of the application API."""
    email = _object({"value": TEXT, "type": TEXT, "primary": {"type": "boolean"}})
    user = _object(
        {
            "id": {"type": "string"},
            "idp": {"type": "string", "description": "The identity provider that owns it."},
            "external_id": TEXT,
            "username": TEXT,
            "active": {"type": "boolean", "description": "True unless the IdP set it false."},
            "name": _object({"given": TEXT, "family": TEXT, "formatted": TEXT}),
            "display_name": TEXT,
            "primary_email": TEXT,
            "emails": {"type": "array", "items": email},
            "groups": {
                "type": "array",
                "items": _object({"id": {"type": "string"}, "name": TEXT}),
                "description": "The groups it belongs to directly.",
            },
            "created": TIME,
            "updated": TIME,
            "scim": {**ref("User"), "description": "The SCIM resource as stored."},
        }
    )
    group = _object(
        {
            "id": {"type": "string"},
            "idp": {"type": "string"},
            "external_id": TEXT,
            "name": TEXT,
            "member_count": {"type": "integer", "minimum": 0},
            "created": TIME,
            "updated": TIME,
            "scim": {**ref("Group"), "description": "The SCIM resource without members."},
        }
    )
    member = _object(
        {
            "id": {"type": "string"},
            "type": {"enum": ["user", "group"]},
            "display": {**TEXT, "description": "As the IdP sent it, else the member's name."},
        }
    )
    idp = _object(
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "kind": {"type": "string"},
            "users": {"type": "integer", "minimum": 0},
            "groups": {"type": "integer", "minimum": 0},
        }
    )
    return {
        "AppUser": user,
        "AppGroup": group,
        "AppMember": member,
        "AppIdp": idp,
        "AppUserPage": _page("AppUser"),
        "AppGroupPage": _page("AppGroup"),
        "AppMemberPage": _page("AppMember"),
        "AppIdpList": _object({"data": {"type": "array", "items": ref("AppIdp")}, "seq": SEQ}),
        "AppUserOne": _object({"data": ref("AppUser"), "seq": SEQ}),
        "AppGroupOne": _object({"data": ref("AppGroup"), "seq": SEQ}),
        "AppEvent": _event(),
        "AppEventPage": _object(
            {
                "data": {"type": "array", "items": ref("AppEvent")},
                "next_after": {"type": "integer", "minimum": 0},
                "has_more": {"type": "boolean"},
            }
        ),
        "Problem": {
            **_object(
                {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer", "minimum": 400, "maximum": 599},
                    "detail": {"type": "string"},
                    "parameter": {"type": "string", "description": "The parameter at fault."},
                },
                closed=False,
                optional=("parameter",),
            ),
            "description": "RFC 9457 problem details.",
        },
    }


SEQ = {
    "type": "integer",
    "minimum": 0,
    "description": (
        "The change feed's position this answer reflects, at least: follow /api/v1/events "
        "from after=seq to miss nothing."
    ),
}


def _page(item: str) -> dict:
    return _object(
        {
            "data": {"type": "array", "items": ref(item)},
            "has_more": {"type": "boolean"},
            "next_cursor": {**TEXT, "description": "Pass as cursor for the next page."},
            "seq": SEQ,
        }
    )


def _event() -> dict:
    resource = _object(
        {
            "type": {"enum": ["user", "group"]},
            "id": {"type": "string"},
            "version": TEXT,
            "external_id": TEXT,
            "username": TEXT,
            "display_name": TEXT,
        },
        closed=False,
        optional=("username", "display_name"),
    )
    return {
        **_object(
            {
                "id": {"type": "string", "description": "Deduplicate on it."},
                "seq": {"type": "integer", "minimum": 1},
                "type": {"type": "string", "examples": list(EVENT_TYPES)},
                "occurred_at": {"type": "string", "format": "date-time"},
                "idp": _object(
                    {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "kind": {"type": "string"},
                    },
                    closed=False,
                ),
                "resource": resource,
                "data": {
                    "anyOf": [ref("AppUser"), ref("AppGroup")],
                    "description": "The resource after the change; for a deletion its last state.",
                },
                "changed": {"type": "array", "items": {"type": "string"}},
                "member_ids": {"type": "array", "items": {"type": "string"}, "maxItems": 1000},
                "source": _object({"method": TEXT, "path": TEXT, "request_id": TEXT}, closed=False),
            },
            closed=False,
            optional=("changed", "member_ids"),
        ),
        "description": (
            "One change, in order of seq. changed: the attributes a *.updated changed; "
            "member_ids: the members a group.members_added/removed names (at most 1,000)."
        ),
    }
