"""Per-kind setup hints: where in each IdP the endpoint and the token are pasted.

Short on purpose: the full walkthroughs are the setup guides ``docs/idp/<kind>.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Hint:
    where: str  # the IdP's menu path to its SCIM settings
    endpoint_field: str  # the IdP's label for the base URL
    token_field: str  # the IdP's label for the bearer token
    then: str  # what to do after pasting


HINTS = {
    "jumpcloud": Hint(
        "SSO Applications → your application → Identity Management → Configuration"
        " (API Type: SCIM API, SCIM Version: SCIM 2.0)",
        "Base URL",
        "Token Key",
        "Enter a Test User Email that is not provisioned yet, then Test Connection and Activate.",
    ),
    "okta": Hint(
        "your application → Provisioning tab → Settings → Integration → Edit"
        " (Authentication Mode: HTTP Header)",
        "SCIM connector base URL",
        "the Bearer token of the HTTP Header",
        "Save, then Provisioning → To App → Edit: enable Create Users, Update User Attributes"
        " and Deactivate Users.",
    ),
    "entra": Hint(
        "Enterprise applications → your application → Provisioning"
        " (Provisioning Mode: Automatic) → Admin Credentials",
        "Tenant URL",
        "Secret Token",
        "Test Connection, Save, then Start provisioning.",
    ),
    "onelogin": Hint(
        "Applications → your SCIM Provisioner with SAML (SCIM v2 Enterprise) app → Configuration",
        "SCIM Base URL",
        "SCIM Bearer Token",
        "Enable the API connection, then turn provisioning on in the Provisioning tab.",
    ),
    "google": Hint(
        "Admin console → Apps → Web and mobile apps → your application's auto-provisioning"
        " settings (where your edition offers them for your own endpoint)",
        "the field asking for the SCIM endpoint",
        "the field asking for the token (sent as Authorization: Bearer)",
        "Turn auto-provisioning on; Google probes GET /Users?count=1 first.",
    ),
    "pingfederate": Hint(
        "SP Connections → your connection → Outbound Provisioning → Configure Channels → Target"
        " (SCIM Version 2.0, Authentication Method: OAuth 2 Bearer Token)",
        "SCIM URL",
        "Access Token",
        "Map the attributes, choose the source groups, then activate the channel.",
    ),
    "generic": Hint(
        "your SCIM client's settings",
        "the base URL (the client appends /Users and /Groups)",
        "the bearer token (sent as Authorization: Bearer <token>)",
        "Start with a GET of /Users: an empty list answers a working setup.",
    ),
}


def guide_path(kind: str) -> str:
    """Return the setup guide's path in the repository, e.g. ``docs/idp/okta.md``.

    A generic SCIM client has no guide of its own: the guides' README covers every client."""
    return f"docs/idp/{'README' if kind == 'generic' else kind}.md"


def guide_file(kind: str) -> Path | None:
    """Return the setup guide's file when it has been written, else None."""
    if kind not in HINTS:
        return None
    path = ROOT / guide_path(kind)
    return path if path.is_file() else None
