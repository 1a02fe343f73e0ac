"""Google Workspace: probes ``GET /Users?count=1``
(docs/idp/behaviour.md#google-workspace)."""

from __future__ import annotations

from tests.idps import list_response, scim_error


class TestGoogle:
    NAME = "Google Workspace"
    KIND = "google"
    HEADERS = {"User-Agent": "Google-Workspace-SCIM", "Accept": "application/scim+json"}
    CONTENT_TYPE = "application/json"

    def test_probe_with_count_1_when_empty(self, idp):
        body = list_response(idp.get("/Users", query_string={"count": 1}))
        assert (body["totalResults"], body["startIndex"], body["Resources"]) == (0, 1, [])

    def test_probe_with_count_1_returns_one_and_counts_all(self, idp):
        first = idp.create_user("first@example.com")
        idp.create_user("second@example.com")
        body = list_response(idp.get("/Users", query_string={"count": 1}))
        assert body["totalResults"] == 2
        assert [u["id"] for u in body["Resources"]] == [first["id"]]

    def test_non_numeric_count_is_invalid_value(self, idp):
        detail = scim_error(idp.get("/Users", query_string={"count": "one"}), 400, "invalidValue")
        assert "count" in detail
