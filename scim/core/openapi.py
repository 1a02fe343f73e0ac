"""An OpenAPI 3.1 description of the SCIM API, generated from ``scim.core.schemas`` so that it
cannot drift from what the server validates and returns. ``appapi.openapi`` adds the
application API to it, serves the whole without authentication at ``/scim/v2/openapi.json``
and ships it as ``docs/openapi.json`` (``python docs/openapi.py``).

What OpenAPI cannot say is said in descriptions: attribute names are case-insensitive
(RFC 7643 §2.1), and IdP quirks are accepted on input (booleans as "True", a bare string for a
complex value, a single value for a multi-valued attribute).
"""

from __future__ import annotations

from scim.core.attributes import Attribute, ResourceType
from scim.core.bulkrequest import BULK_REQUEST, BULK_RESPONSE
from scim.core.discovery_docs import LIST_RESPONSE
from scim.core.errors import ERROR_SCHEMA
from scim.core.messages import PATCH_OP, SEARCH_REQUEST
from scim.core.schemas import GROUP_TYPE, USER_TYPE

MEDIA = ("application/scim+json", "application/json")
SCIM_TYPES = (
    "invalidFilter", "tooMany", "uniqueness", "mutability", "invalidSyntax", "invalidPath",
    "noTarget", "invalidValue", "invalidVersion", "sensitive",
)  # fmt: skip
STATUS_TEXT = {
    400: "The request is not valid (scimType says why).",
    401: "No bearer token, or not a live token of this IdP.",
    403: "Filtering is not supported on discovery endpoints.",
    404: "No such resource in this IdP.",
    409: "userName or displayName is already taken in this IdP (scimType uniqueness).",
    412: "If-Match names another version.",
    413: "The body is larger than scim.max_payload_bytes (a /Bulk request: or has more than "
    "scim.bulk_max_operations operations).",
    415: "The body is not JSON.",
    429: "Too many failed authentications from this address: retry after Retry-After.",
    500: "An unexpected error; the details are in the server's log, never in the response.",
    501: "Not supported by this service provider.",
}
_TYPES = {
    "string": {"type": "string"},
    "reference": {"type": "string"},
    "binary": {"type": "string", "contentEncoding": "base64"},
    "dateTime": {"type": "string", "format": "date-time"},
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
}


def _attribute(attribute: Attribute, response: bool) -> dict:
    if attribute.type == "complex":
        subs = [s for s in attribute.sub_attributes if _included(s, response)]
        schema = {
            "type": "object",
            "properties": {s.name: _attribute(s, response) for s in subs},
            "additionalProperties": not response,
        }
    else:
        schema = dict(_TYPES[attribute.type])
    if attribute.canonical_values and response:
        schema["examples"] = list(attribute.canonical_values)
    if attribute.multi_valued:
        schema = {"type": "array", "items": schema}
    schema["description"] = attribute.description
    if attribute.mutability == "readOnly":
        schema["readOnly"] = True
    if attribute.mutability == "writeOnly":
        schema["writeOnly"] = True
    return schema


def _included(attribute: Attribute, response: bool) -> bool:
    if response:
        return attribute.returned != "never"
    return attribute.mutability != "readOnly"


def _resource(rtype: ResourceType, response: bool) -> dict:
    attributes = [a for a in (*rtype.common, *rtype.schema.attributes) if _included(a, response)]
    properties = {"schemas": {"type": "array", "items": {"type": "string"}, "minItems": 1}}
    properties |= {a.name: _attribute(a, response) for a in attributes}
    for extension in rtype.extensions:
        subs = [a for a in extension.attributes if _included(a, response)]
        properties[extension.id] = {
            "type": "object",
            "description": extension.description,
            "properties": {a.name: _attribute(a, response) for a in subs},
            "additionalProperties": not response,
        }
    if response:
        return {
            "type": "object",
            "description": f"A {rtype.name} as returned (RFC 7643), after attribute projection.",
            "properties": properties,
            "required": ["schemas", "id"],
            "additionalProperties": False,
        }
    required = [a.name for a in rtype.schema.attributes if a.required]
    return {
        "type": "object",
        "description": (
            f"A {rtype.name} as sent. Names are case-insensitive (RFC 7643 §2.1); unknown "
            "attributes, unknown extensions, readOnly attributes and nulls are ignored."
        ),
        "properties": properties,
        "required": ["schemas", *required],
        "additionalProperties": True,
    }


def _list(items: dict) -> dict:
    return {
        "type": "object",
        "properties": {
            "schemas": {"type": "array", "items": {"const": LIST_RESPONSE}},
            "totalResults": {"type": "integer", "minimum": 0},
            "startIndex": {"type": "integer", "minimum": 1},
            "itemsPerPage": {"type": "integer", "minimum": 0},
            "Resources": {"type": "array", "items": items},
        },
        "required": ["schemas", "totalResults", "startIndex", "itemsPerPage", "Resources"],
        "additionalProperties": False,
    }


def _components() -> dict:
    ref = "#/components/schemas/"
    document = {"type": "object", "required": ["schemas"], "additionalProperties": True}
    return {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "The IdP's provisioning token (roster_scim_…), RFC 6750.",
            }
        },
        "parameters": {
            "idp": {
                "name": "idp",
                "in": "path",
                "required": True,
                "description": "The tenant: the identity provider's id.",
                "schema": {"type": "string"},
            },
            "id": {
                "name": "id",
                "in": "path",
                "required": True,
                "description": "The resource's id (case-sensitive).",
                "schema": {"type": "string"},
            },
            **{
                name: {"name": name, "in": "query", "schema": schema, "description": text}
                for name, schema, text in (
                    ("filter", {"type": "string"}, "RFC 7644 §3.4.2.2 filter."),
                    ("sortBy", {"type": "string"}, "Attribute path to sort on."),
                    ("sortOrder", {"enum": ["ascending", "descending"]}, "Sort direction."),
                    ("startIndex", {"type": "integer"}, "1-based index of the first result."),
                    ("count", {"type": "integer"}, "Page size, capped at scim.max_results."),
                    ("attributes", {"type": "string"}, "Comma-separated attributes to return."),
                    ("excludedAttributes", {"type": "string"}, "Attributes to leave out."),
                )
            },
        },
        "schemas": {
            "User": _resource(USER_TYPE, response=True),
            "UserRequest": _resource(USER_TYPE, response=False),
            "Group": _resource(GROUP_TYPE, response=True),
            "GroupRequest": _resource(GROUP_TYPE, response=False),
            "PatchOp": {
                "type": "object",
                "properties": {
                    "schemas": {"type": "array", "items": {"type": "string"}},
                    "Operations": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "properties": {
                                "op": {
                                    "enum": ["add", "remove", "replace", "Add", "Remove", "Replace"]
                                },
                                "path": {"type": "string"},
                                "value": {},
                            },
                            "required": ["op"],
                        },
                    },
                },
                "required": ["Operations"],
                "description": f"RFC 7644 §3.5.2 ({PATCH_OP}); applied atomically.",
            },
            **_bulk_components(ref),
            "SearchRequest": {
                "type": "object",
                "description": f"RFC 7644 §3.4.3 ({SEARCH_REQUEST}).",
                "properties": {
                    "schemas": {"type": "array", "items": {"const": SEARCH_REQUEST}},
                    "filter": {"type": "string"},
                    "sortBy": {"type": "string"},
                    "sortOrder": {"enum": ["ascending", "descending"]},
                    "startIndex": {"type": "integer"},
                    "count": {"type": "integer"},
                    "attributes": {"type": "array", "items": {"type": "string"}},
                    "excludedAttributes": {"type": "array", "items": {"type": "string"}},
                },
            },
            "UserList": _list({"$ref": ref + "User"}),
            "GroupList": _list({"$ref": ref + "Group"}),
            "ResourceList": _list({"anyOf": [{"$ref": ref + "User"}, {"$ref": ref + "Group"}]}),
            "DocumentList": _list(document),
            "Document": document,
            "Error": {
                "type": "object",
                "description": "RFC 7644 §3.12; status is the HTTP status as a string.",
                "properties": {
                    "schemas": {"type": "array", "items": {"const": ERROR_SCHEMA}},
                    "status": {"type": "string", "pattern": "^[45][0-9][0-9]$"},
                    "scimType": {"enum": list(SCIM_TYPES)},
                    "detail": {"type": "string"},
                },
                "required": ["schemas", "status", "detail"],
                "additionalProperties": False,
            },
        },
    }


def _bulk_components(ref: str) -> dict:
    """BulkRequest and BulkResponse (RFC 7644 §3.7)."""
    method = {"enum": ["POST", "PUT", "PATCH", "DELETE"]}
    return {
        "BulkRequest": {
            "type": "object",
            "description": (
                f"RFC 7644 §3.7 ({BULK_REQUEST}). Each operation is carried out on its own, "
                "as the single request it stands for; a data value or path naming "
                '"bulkId:<id>" refers to the resource the POST with that bulkId creates.'
            ),
            "properties": {
                "schemas": {"type": "array", "items": {"const": BULK_REQUEST}},
                "failOnErrors": {"type": "integer", "minimum": 1},
                "Operations": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {
                            "method": method,
                            "bulkId": {"type": "string"},
                            "version": {"type": "string"},
                            "path": {"type": "string", "examples": ["/Users", "/Groups/{id}"]},
                            "data": {},
                        },
                        "required": ["method", "path"],
                    },
                },
            },
            "required": ["Operations"],
        },
        "BulkResponse": {
            "type": "object",
            "description": f"RFC 7644 §3.7.3 ({BULK_RESPONSE}): the processed operations.",
            "properties": {
                "schemas": {"type": "array", "items": {"const": BULK_RESPONSE}},
                "Operations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "method": {
                                "type": "string",
                                "description": (
                                    "The operation's method; for one refused for its method, "
                                    "the method as sent (as text if it was no string)."
                                ),
                                "examples": method["enum"],
                            },
                            "bulkId": {"type": "string"},
                            "location": {"type": "string"},
                            "version": {"type": "string"},
                            "status": {"type": "string", "pattern": "^[2-5][0-9][0-9]$"},
                            "response": {"$ref": ref + "Error"},
                        },
                        "required": ["method", "status"],
                    },
                },
            },
            "required": ["schemas", "Operations"],
        },
    }


def _body(schema: str) -> dict:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"required": True, "content": {media: {"schema": ref} for media in MEDIA}}


def _errors(*statuses: int) -> dict:
    """Error responses for ``statuses``, plus those every authenticated operation can give."""
    error = {MEDIA[0]: {"schema": {"$ref": "#/components/schemas/Error"}}}
    out = {
        str(status): {"description": STATUS_TEXT[status], "content": error}
        for status in sorted({*statuses, 401, 429, 500})
    }
    retry = {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
    out["429"]["headers"] = {"Retry-After": retry}
    return out


def _responses(ok: int, schema: str | None, *errors: int, headers=()) -> dict:
    text = {200: "OK", 201: "Created", 204: "No content"}
    success: dict = {"description": text[ok]}
    if schema is not None:
        success["content"] = {MEDIA[0]: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    if headers:
        success["headers"] = {
            name: {"required": True, "schema": {"type": "string"}} for name in headers
        }
    return {str(ok): success, **_errors(*errors)}


def _params(*names: str) -> list:
    return [{"$ref": f"#/components/parameters/{name}"} for name in names]


LIST_PARAMS = ("filter", "sortBy", "sortOrder", "startIndex", "count", "attributes")
PROJECTION = ("attributes", "excludedAttributes")


def _resource_paths(rtype: ResourceType) -> dict:
    name, endpoint = rtype.name, rtype.endpoint
    tag = [f"{name}s"]
    if_match = {"name": "If-Match", "in": "header", "schema": {"type": "string"}}
    if_none = {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}}
    return {
        endpoint: {
            "get": {
                "tags": tag,
                "summary": f"List or filter {name}s (RFC 7644 §3.4.2).",
                "parameters": _params(*LIST_PARAMS, "excludedAttributes"),
                "responses": _responses(200, f"{name}List", 400),
            },
            "post": {
                "tags": tag,
                "summary": f"Create a {name} (RFC 7644 §3.3).",
                "parameters": _params(*PROJECTION),
                "requestBody": _body(f"{name}Request"),
                "responses": _responses(
                    201, name, 400, 409, 413, 415, headers=("Location", "ETag")
                ),
            },
        },
        f"{endpoint}/.search": {
            "post": {
                "tags": tag,
                "summary": f"Search {name}s with a SearchRequest (RFC 7644 §3.4.3).",
                "requestBody": _body("SearchRequest"),
                "responses": _responses(200, f"{name}List", 400, 413, 415),
            }
        },
        f"{endpoint}/{{id}}": {
            "parameters": _params("id"),
            "get": {
                "tags": tag,
                "summary": f"Return one {name}; 304 when If-None-Match names its version.",
                "parameters": [*_params(*PROJECTION), if_none],
                "responses": {
                    **_responses(200, name, 404, headers=("ETag",)),
                    "304": {"description": "Not modified"},
                },
            },
            "put": {
                "tags": tag,
                "summary": f"Replace a {name} (RFC 7644 §3.5.1).",
                "parameters": [*_params(*PROJECTION), if_match],
                "requestBody": _body(f"{name}Request"),
                "responses": _responses(200, name, 400, 404, 409, 412, 413, 415, headers=("ETag",)),
            },
            "patch": {
                "tags": tag,
                "summary": f"Modify a {name}: every operation or none (RFC 7644 §3.5.2).",
                "parameters": [*_params(*PROJECTION), if_match],
                "requestBody": _body("PatchOp"),
                "responses": _responses(200, name, 400, 404, 409, 412, 413, 415, headers=("ETag",)),
            },
            "delete": {
                "tags": tag,
                "summary": f"Delete a {name} (RFC 7644 §3.6).",
                "parameters": [if_match],
                "responses": _responses(204, None, 404, 412),
            },
        },
    }


def _discovery_paths() -> dict:
    tag = ["Discovery"]

    def get(summary: str, schema: str, *errors: int, params=()) -> dict:
        operation = {"tags": tag, "summary": summary, "responses": _responses(200, schema, *errors)}
        if params:
            operation["parameters"] = list(params)
        return {"get": operation}

    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    urn = {"name": "urn", "in": "path", "required": True, "schema": {"type": "string"}}
    filter_ = _params("filter")
    unsupported = {"tags": tag, "responses": _errors(501)}
    return {
        "": get(
            "List or filter Users and Groups together.",
            "ResourceList",
            400,
            params=_params(*LIST_PARAMS, "excludedAttributes"),
        ),
        "/.search": {
            "post": {
                "tags": tag,
                "summary": "Search Users and Groups together (RFC 7644 §3.4.3).",
                "requestBody": _body("SearchRequest"),
                "responses": _responses(200, "ResourceList", 400, 413, 415),
            }
        },
        "/ServiceProviderConfig": get("What this server supports (RFC 7643 §5).", "Document"),
        "/ResourceTypes": get("The resource types.", "DocumentList", 403, params=filter_),
        "/ResourceTypes/{name}": get("One resource type.", "Document", 404, params=[name]),
        "/Schemas": get("The schemas (RFC 7643 §7).", "DocumentList", 403, params=filter_),
        "/Schemas/{urn}": get("One schema, by URN.", "Document", 404, params=[urn]),
        "/Bulk": {
            "post": {
                "tags": tag,
                "summary": "Carry out many operations on Users and Groups (RFC 7644 §3.7).",
                "requestBody": _body("BulkRequest"),
                "responses": _responses(200, "BulkResponse", 400, 413, 415),
            }
        },
        "/Me": {"get": {**unsupported, "summary": "/Me is not supported (RFC 7644 §3.11)."}},
    }


def describe() -> dict:
    """Return the OpenAPI 3.1 document for Roster's SCIM API."""
    paths: dict = {}
    for path, item in {
        **_resource_paths(USER_TYPE),
        **_resource_paths(GROUP_TYPE),
        **_discovery_paths(),
    }.items():
        item = dict(item)
        item["parameters"] = [*_params("idp"), *item.get("parameters", [])]
        paths[f"/scim/v2/{{idp}}{path}"] = item
    paths["/scim/v2/openapi.json"] = {
        "get": {
            "summary": "This document.",
            "security": [],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {}}}}
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Roster SCIM 2.0 API",
            "version": "2.0",
            "description": (
                "SCIM 2.0 (RFC 7643, RFC 7644) for Users and Groups, one tenant per identity "
                "provider at /scim/v2/{idp}. Every operation but this document needs the "
                "IdP's bearer token. Errors are RFC 7644 §3.12 bodies. Generated from "
                "scim/core/schemas.py by docs/openapi.py."
            ),
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": _components(),
    }
