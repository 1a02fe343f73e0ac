"""The management console (``console``) through the Flask test client."""
