"""Discovery endpoints (RFC 7644 §4): what this service provider supports, truthfully."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from scim.core import errors
from scim.core.discovery_docs import (
    list_response,
    resource_type_doc,
    schema_doc,
    service_provider_config,
)
from scim.core.schemas import RESOURCE_TYPES, SCHEMAS, find_schema
from scim.http import scim_response
from scim.resources import base_url

bp = Blueprint("discovery", __name__)


def _no_filter() -> None:
    # RFC 7644 §4: filtering discovery resources is not supported; say so instead of ignoring.
    if "filter" in request.args:
        raise errors.Forbidden("Filtering is not supported on discovery endpoints.")


@bp.get("/ServiceProviderConfig")
def provider_config():
    """Describe the features this server supports (RFC 7643 §5)."""
    limits = current_app.config["ROSTER"]
    return scim_response(
        service_provider_config(
            base_url(),
            max_results=limits["max_results"],
            bulk_max_operations=limits["bulk_max_operations"],
            bulk_max_payload=limits["max_payload_bytes"],
        )
    )


@bp.get("/ResourceTypes")
def resource_types():
    """List the resource types (RFC 7643 §6)."""
    _no_filter()
    docs = [resource_type_doc(rtype, base_url()) for rtype in RESOURCE_TYPES.values()]
    return scim_response(list_response(docs, len(docs), 1))


@bp.get("/ResourceTypes/<name>")
def resource_type(name):
    """Return one resource type."""
    rtype = next((r for r in RESOURCE_TYPES.values() if r.name.lower() == name.lower()), None)
    if rtype is None:
        raise errors.NotFound(f"There is no resource type {name!r}.")
    return scim_response(resource_type_doc(rtype, base_url()))


@bp.get("/Schemas")
def schemas():
    """List the schemas (RFC 7643 §7)."""
    _no_filter()
    docs = [schema_doc(schema, base_url()) for schema in SCHEMAS.values()]
    return scim_response(list_response(docs, len(docs), 1))


@bp.get("/Schemas/<path:urn>")
def schema(urn):
    """Return one schema by its URN."""
    found = find_schema(urn)
    if found is None:
        raise errors.NotFound(f"There is no schema {urn!r}.")
    return scim_response(schema_doc(found, base_url()))


@bp.route("/Me", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def me():
    """/Me is not supported: a provisioning token is not a user (RFC 7644 §3.11)."""
    raise errors.NotImplementedFeature("/Me is not supported by this service provider.")
