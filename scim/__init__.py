"""Roster's SCIM protocol: errors, schemas, filters, PATCH and the HTTP views."""
