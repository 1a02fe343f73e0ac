"""The discovery documents (RFC 7643 §5-7) and the list envelope (RFC 7644 §3.4.2).

Plain functions returning dicts; ``base_url`` is the SCIM base without a trailing slash, and
each document's ``meta.location`` is built from it. Nothing here imports Flask.
"""

from __future__ import annotations

from scim.core.attributes import ResourceType, Schema

SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def service_provider_config(
    base_url: str,
    *,
    max_results: int,
    bulk_max_operations: int,
    bulk_max_payload: int,
    documentation_uri: str | None = None,
) -> dict:
    """Return ``/ServiceProviderConfig`` (RFC 7643 §5).

    Roster's PATCH-operation limit has no place here: RFC 7643 §5 has room only for the limits
    of ``bulk`` (RFC 7644 §3.7.4: the most operations and bytes one /Bulk request may carry).
    """
    doc: dict = {"schemas": [SERVICE_PROVIDER_CONFIG]}
    if documentation_uri:
        doc["documentationUri"] = documentation_uri
    doc |= {
        "patch": {"supported": True},
        "bulk": {
            "supported": True,
            "maxOperations": bulk_max_operations,
            "maxPayloadSize": bulk_max_payload,
        },
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication with a bearer token issued by Roster's console.",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base_url}/ServiceProviderConfig",
        },
    }
    return doc


def resource_type_doc(rtype: ResourceType, base_url: str) -> dict:
    """Return the ``/ResourceTypes/{name}`` document for ``rtype`` (RFC 7643 §6)."""
    doc: dict[str, object] = {
        "schemas": [RESOURCE_TYPE],
        "id": rtype.name,
        "name": rtype.name,
        "endpoint": rtype.endpoint,
        "description": rtype.description,
        "schema": rtype.schema.id,
    }
    if rtype.extensions:
        # Roster never requires an extension: most IdPs send none for most users.
        doc["schemaExtensions"] = [{"schema": e.id, "required": False} for e in rtype.extensions]
    doc["meta"] = {
        "resourceType": "ResourceType",
        "location": f"{base_url}/ResourceTypes/{rtype.name}",
    }
    return doc


def schema_doc(schema: Schema, base_url: str) -> dict:
    """Return the ``/Schemas/{urn}`` document for ``schema`` (RFC 7643 §7)."""
    return {
        "schemas": [SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": [a.to_scim() for a in schema.attributes],
        "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{schema.id}"},
    }


def list_response(resources: list[dict], total: int, start_index: int) -> dict:
    """Wrap one page of results in a ListResponse (RFC 7644 §3.4.2).

    ``total`` counts every match, not just this page; ``Resources`` is present even when empty,
    which Entra's and JumpCloud's connection tests require.
    """
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
