"""The SCIM protocol as plain code: attributes and schemas, errors, the filter parser and
evaluator, PATCH, projection and sorting, membership changes, request validation, discovery
documents, JSON, the application shape and the OpenAPI description of the SCIM API. It knows
no web framework and no storage (import-linter holds it to that, see ``pyproject.toml``): the
views in ``scim`` and ``appapi`` and the backends in ``storage`` build on it."""
