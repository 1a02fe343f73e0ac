"""The PostgreSQL backend, for several processes on one database: the store (``store``), its
tables and migrations (``pg_schema``), filters and sorting as SQL (``sql``), and the request log
in a shared table (``requestlog``). Imported only when ``[storage] backend = "postgres"``."""
