"""The SCIM protocol core (``scim.core``) as plain functions: no app, no client, no store."""
