"""The application API (``appapi``, ``/api/v1/``) over HTTP, through the Flask test client, on
both backends."""
