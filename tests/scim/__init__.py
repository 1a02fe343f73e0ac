"""The SCIM API over HTTP (the views in ``scim``), through the Flask test client, on both
backends."""
