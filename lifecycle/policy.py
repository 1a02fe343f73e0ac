"""An IdP's deprovisioning policy: what a SCIM DELETE of a user means, and the threshold of the
mass-deprovisioning guard. Kept on the IdP's record (``deprovisioning``); shared by the console
(the IdP's General tab) and the CLI (``idp policy``), which check input with ``check``.

Plain functions over dicts: no web, no storage.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ON_DELETE = ("delete", "deactivate")
# Bounds of what an admin may set, with the message that names them.
KEEP_DAYS = (1, 3650)
GUARD_USERS = (0, 1_000_000)
GUARD_PERCENT = (0, 100)
GUARD_MINUTES = (1, 7 * 24 * 60)


class BadPolicy(ValueError):
    """A policy field is out of range or unknown; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Policy:
    """What Roster does when an IdP deprovisions users.

    ``on_delete``: ``"delete"`` removes the user at once (RFC 7644 §3.6); ``"deactivate"``
    deactivates it for the applications and keeps it ``keep_days`` days before deleting it.
    The guard holds an IdP's deactivations and deletions once more than ``guard_users`` users
    and more than ``guard_percent`` % of its active users were deprovisioned within
    ``guard_minutes`` minutes; ``guard`` False turns it off."""

    on_delete: str = "delete"
    keep_days: int = 30
    guard: bool = True
    guard_users: int = 10
    guard_percent: int = 10
    guard_minutes: int = 15

    def to_record(self) -> dict:
        return asdict(self)


def of(record: dict | None) -> Policy:
    """Return the policy of an IdP's record (the defaults where it says nothing)."""
    saved = (record or {}).get("deprovisioning") or {}
    known = {k: v for k, v in saved.items() if k in Policy.__dataclass_fields__}
    return Policy(**known)


def _number(values: dict, field: str, bounds: tuple[int, int], what: str) -> int:
    raw = values.get(field)
    text = str(raw).strip() if raw is not None else ""
    low, high = bounds
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise BadPolicy(field, f"{what} must be a whole number from {low:,} to {high:,}.")
    return int(text)


def check(values: dict, current: Policy | None = None) -> Policy:
    """Return the policy ``values`` describe (strings, as forms and options give them; a field
    left out keeps its ``current`` value), or raise BadPolicy naming the first bad field."""
    base = asdict(current or Policy())
    given = {k: v for k, v in values.items() if v is not None}
    merged = {**base, **given}
    on_delete = str(merged["on_delete"]).strip()
    if on_delete not in ON_DELETE:
        raise BadPolicy("on_delete", "A deletion either deletes the user or deactivates it.")
    guard = merged["guard"]
    if isinstance(guard, str):
        if guard not in ("on", "off"):
            raise BadPolicy("guard", "The guard is either on or off.")
        guard = guard == "on"
    return Policy(
        on_delete=on_delete,
        keep_days=_number(merged, "keep_days", KEEP_DAYS, "The days to keep a user"),
        guard=bool(guard),
        guard_users=_number(merged, "guard_users", GUARD_USERS, "The number of users"),
        guard_percent=_number(merged, "guard_percent", GUARD_PERCENT, "The percentage"),
        guard_minutes=_number(merged, "guard_minutes", GUARD_MINUTES, "The minutes"),
    )


def summary(policy: Policy) -> str:
    """The policy in one line, as the audit trail keeps it (console and CLI alike)."""
    deletion = (
        "a deletion deletes"
        if policy.on_delete == "delete"
        else f"a deletion deactivates for {policy.keep_days} days"
    )
    guard = (
        f"guard on (more than {policy.guard_users} users and {policy.guard_percent} % in"
        f" {policy.guard_minutes} min)"
        if policy.guard
        else "guard off"
    )
    return f"deprovisioning: {deletion}; {guard}"


def describe(policy: Policy) -> dict[str, str]:
    """Return the policy in sentences, for the console and ``idp policy``."""
    if policy.on_delete == "delete":
        deletion = "A SCIM DELETE deletes the user at once."
    else:
        deletion = (
            f"A SCIM DELETE deactivates the user for the applications and deletes it"
            f" {policy.keep_days} days later."
        )
    if policy.guard:
        guard = (
            f"Deactivations and deletions are held for review once more than"
            f" {policy.guard_users} users and more than {policy.guard_percent} % of the active"
            f" users are deprovisioned within {policy.guard_minutes} minutes."
        )
    else:
        guard = "The mass-deprovisioning guard is off."
    return {"on_delete": deletion, "guard": guard}
