"""Safe deprovisioning: each IdP's policy for deletions (``policy``), the guard against mass
deprovisioning (``guard``: the arithmetic; ``screen``: what each write does downstream) and the
holds an admin applies or discards (``holds``)."""
