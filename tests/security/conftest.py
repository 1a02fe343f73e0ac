"""Hypothesis profiles for the property and fuzz tests, and a populated pair of tenants.

``ci`` (the default) is derandomized: the examples are a function of the test's source, so
every CI run and every developer's run tries the same cases, a failure reproduces by running
the test again, and nothing is flaky. It keeps no example database (``database=None``: no
``.hypothesis/`` folder in the work tree) and prints the blob that replays a failure.
``HYPOTHESIS_PROFILE=explore`` draws fresh random examples, ten times as many, to look for
new bugs; whatever it finds becomes an explicit regression test.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.conftest import Tenant

# Function-scoped fixtures (the app, the tenants) are shared by a test's examples on purpose:
# each example checks that it left the store as it found it, or re-reads what it changed.
_COMMON = dict(
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("ci", max_examples=200, derandomize=True, **_COMMON)
settings.register_profile("explore", max_examples=2000, derandomize=False, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


class World:
    """Two tenants, each with two users (one with a manager) and a group of both."""

    def __init__(self, client, store):
        self.a = Tenant(client, store, "Tenant A")
        self.b = Tenant(client, store, "Tenant B")
        for tenant in (self.a, self.b):
            tenant.ann = tenant.create_user(
                "ann@example.com",
                name={"givenName": "Ann", "familyName": "Lee"},
                emails=[{"value": "ann@example.com", "type": "work", "primary": True}],
                active=True,
            )
            tenant.bob = tenant.create_user(
                "bob@example.com",
                externalId="ext-bob",
                **{
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                        "department": "R&D",
                        "manager": {"value": tenant.ann["id"]},
                    }
                },
            )
            tenant.team = tenant.create_group("Team", (tenant.ann["id"], tenant.bob["id"]))


@pytest.fixture
def world(client, store) -> World:
    return World(client, store)
