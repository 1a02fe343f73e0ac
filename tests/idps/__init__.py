"""Replays of what each identity provider sends (docs/idp/behaviour.md), one test class per IdP.

Each class names its IdP's ``HEADERS`` (sent on every request) and ``CONTENT_TYPE`` (sent
with a body); the ``idp`` fixture in this package's conftest builds a tenant from them.
"""

from __future__ import annotations

from tests.conftest import Tenant

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class IdP(Tenant):
    """A tenant that talks like one identity provider: its headers, its Content-Type."""

    def __init__(self, client, store, name: str, kind: str, headers: dict, content_type: str):
        super().__init__(client, store, name, kind)
        self.headers = {**self.headers, **headers}
        self.content_type = content_type

    def request(self, method: str, path: str, body=None, headers=None, **kwargs):
        if body is not None:
            headers = {"Content-Type": self.content_type, **(headers or {})}
        response = super().request(method, path, body, headers, **kwargs)
        if response.data:
            # RFC 7644 §3.1, and Entra rejects anything else: every answer is scim+json.
            assert response.mimetype == "application/scim+json", response.data
        return response

    def lookup(self, resource: str, filter: str, **params) -> dict:
        """GET a filtered list, as every IdP does before it creates; return the ListResponse."""
        response = self.get(f"/{resource}", query_string={"filter": filter, **params})
        return list_response(response)


def list_response(response) -> dict:
    """Assert ``response`` is a 200 ListResponse with integer counts (RFC 7644 §3.4.2)."""
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["schemas"] == [LIST_RESPONSE]
    for key in ("totalResults", "startIndex", "itemsPerPage"):
        assert type(body[key]) is int, (key, body[key])
    assert body["itemsPerPage"] == len(body["Resources"])
    return body


def scim_error(response, status: int, scim_type: str | None = None) -> str:
    """Assert ``response`` is an RFC 7644 §3.12 error; return its detail."""
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert body["detail"]
    return body["detail"]


def member_ids(group: dict) -> list[str]:
    return [member["value"] for member in group.get("members", [])]
