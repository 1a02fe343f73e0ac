"""Hostile input, abuse and isolation: property tests of the protocol code, an HTTP fuzz
suite, tenant isolation, secrets, limits and the OpenAPI description.

The helpers here are what every module of the package asserts with: a snapshot of the whole
store taken through the storage contract, and the shape of an RFC 7644 §3.12 error.
"""

from __future__ import annotations

import json

from hypothesis import settings

from storage.interface import RECORD_TABLES, RESOURCE_KINDS

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def http_examples() -> int:
    """Examples for a test that makes HTTP requests: a quarter of the profile's."""
    return max(1, settings.default.max_examples // 4)


def snapshot(store) -> dict:
    """Return everything the store holds, read through the public ``Store`` interface.

    Every records table, and every IdP's Users and Groups as ``query`` returns them (with
    ``meta.version``, so that a rewrite with the same content still shows). A token's
    ``last_used`` is left out: it moves on a successful request (at most once a minute), which
    is bookkeeping, not a change a rejected request could make.
    """
    tables = {}
    for table in RECORD_TABLES:
        rows = store.records(table)
        if table == "tokens":
            rows = [{k: v for k, v in r.items() if k != "last_used"} for r in rows]
        tables[table] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
    for idp in sorted(r["id"] for r in store.records("idps")):
        for kind in RESOURCE_KINDS:
            tables[f"{kind}/{idp}"] = store.query(kind, idp)
    return tables


def assert_scim_error(response, status: int | None = None, scim_type: str | None = None) -> dict:
    """Assert ``response`` is an RFC 7644 §3.12 error (4xx unless ``status`` says otherwise)."""
    body = response.get_json(silent=True)
    assert body is not None, (response.status_code, response.get_data()[:300])
    assert response.mimetype == "application/scim+json", response.headers
    assert body["schemas"] == [ERROR], body
    assert body["status"] == str(response.status_code), body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    assert "Traceback" not in body["detail"]
    if status is None:
        assert 400 <= response.status_code < 500, body
    else:
        assert response.status_code == status, body
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body
