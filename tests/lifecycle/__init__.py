"""Safe deprovisioning (the package ``lifecycle``): each IdP's policy, the guard's arithmetic as
plain functions, and holds end to end (SCIM, the application API, the feed, console and CLI) on
both backends."""
