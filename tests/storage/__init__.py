"""The storage contract on both backends, what only TinyDB or only PostgreSQL promises,
migrations between them, and crashes."""
