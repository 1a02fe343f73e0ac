"""scim2-server, the reference Python SCIM server, under waitress: the peer the benchmark drives
beside Roster with the same client and the same bodies.

    .venv/bin/python bench/peer.py --port 8090 --token secret

Built as its ``scim2-server`` command builds it (RFC 7643's schemas, User and Group, its
default service provider configuration, a static bearer token), but served by waitress with
Roster's thread count rather than by ``wsgiref``, so that the two differ only in the
application. It keeps everything in memory: no write waits for a disk. Its SCIM base is
``/v2``.
"""

from __future__ import annotations

import argparse
import secrets

from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)
from waitress import serve

BASE = "/v2"


def application(token: str) -> BearerTokenApplication:
    """Return scim2-server's WSGI application with one bearer token, as its command builds it."""
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config
    )
    service = ScimService(provider, secret=secrets.token_urlsafe(32))
    return BearerTokenApplication(
        InMemoryStorage(), provider, service=service, bearer_tokens=[token]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--threads", type=int, default=8, help="as Roster's server.threads")
    args = parser.parse_args()
    serve(application(args.token), host="127.0.0.1", port=args.port, threads=args.threads)


if __name__ == "__main__":
    main()
