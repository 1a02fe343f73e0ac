"""The embedded backend (the default): the store in memory, made durable in a data folder by a
TinyDB snapshot and a journal (``store``, ``files``, ``indexes``), and the request log in files
beside it (``requestlog``). ``storage/README.md`` explains the design."""
