"""The SCIM protocol as plain code: attributes and schemas, errors, the filter parser and
evaluator, PATCH, projection and sorting, membership changes, request validation, discovery
documents and JSON. It knows no web framework and no storage (import-linter holds it to that,
see ``pyproject.toml``): the views in ``scim`` and the backends in ``storage`` build on it."""
