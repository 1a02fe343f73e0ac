"""The ``idp`` fixture: a fresh tenant speaking as the test class's identity provider."""

from __future__ import annotations

import pytest

from tests.idps import IdP


@pytest.fixture
def idp(request, client, store):
    cls = request.cls
    return IdP(client, store, cls.NAME, cls.KIND, cls.HEADERS, cls.CONTENT_TYPE)
