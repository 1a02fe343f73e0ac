"""OneLogin: probes a userName that does not exist, then provisions
(docs/idp/behaviour.md#onelogin)."""

from __future__ import annotations

import pytest

from tests.idps import scim_error


class TestOneLogin:
    NAME = "OneLogin"
    KIND = "onelogin"
    HEADERS = {"User-Agent": "OneLogin-SCIM/2.0", "Accept": "application/scim+json"}
    CONTENT_TYPE = "application/scim+json"

    @pytest.mark.parametrize(
        "filter", ['userName eq "onelogin.probe@example.com"', "userName eq onelogin.probe"]
    )
    def test_probe_for_a_missing_user_name_is_an_empty_list(self, idp, filter):
        idp.create_user("someone.else@example.com")
        body = idp.lookup("Users", filter)
        assert (body["totalResults"], body["itemsPerPage"], body["Resources"]) == (0, 0, [])

    def test_unquoted_lookup_finds_the_user(self, idp):
        created = idp.create_user("jane.doe@example.com")
        body = idp.lookup("Users", "userName eq jane.doe@example.com")
        assert [u["id"] for u in body["Resources"]] == [created["id"]]

    def test_malformed_filter_is_invalid_filter(self, idp):
        detail = scim_error(
            idp.get("/Users", query_string={"filter": "userName eq"}), 400, "invalidFilter"
        )
        assert "position" in detail

    def test_wrong_token_is_401_with_a_scim_body(self, idp):
        response = idp.get("/Users", headers={"Authorization": "Bearer not-the-token"})
        scim_error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
