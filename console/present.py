"""How the console shows SCIM resources: names, emails, attribute rows, raw JSON. No Flask.

Everything here returns plain strings and lists; templates escape them (IdPs choose every
value, so a value is never trusted to be markup).
"""

from __future__ import annotations

import json

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def full_name(user: dict) -> str:
    """Return the best human name a User has: formatted, given + family, or displayName."""
    name = user.get("name") if isinstance(user.get("name"), dict) else {}
    if isinstance(name.get("formatted"), str) and name["formatted"].strip():
        return name["formatted"]
    parts = [name.get(k) for k in ("givenName", "familyName")]
    joined = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    return joined or str(user.get("displayName") or "")


def _values(resource: dict, attribute: str) -> list[dict]:
    values = resource.get(attribute)
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def primary_email(user: dict) -> str:
    """Return the primary email, else the first one, else an empty string."""
    emails = _values(user, "emails")
    chosen = next((e for e in emails if e.get("primary") is True), emails[0] if emails else {})
    return str(chosen.get("value") or "")


def active_label(user: dict) -> str:
    """Return "Active", "Inactive" or "—" (the IdP never said)."""
    active = user.get("active")
    return "Active" if active is True else "Inactive" if active is False else "—"


def public(resource: dict, location: str) -> dict:
    """Return the resource as SCIM clients see it, minus derived attributes: internal fields
    (a password hash) dropped, ``meta.location`` added."""
    shown = {k: v for k, v in resource.items() if not k.startswith("_")}
    if isinstance(shown.get("meta"), dict):
        shown["meta"] = {**shown["meta"], "location": location}
    return shown


def raw_json(resource: dict) -> str:
    return json.dumps(resource, indent=2, ensure_ascii=False)


def _flat(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flat(v)}" for k, v in value.items() if k != "$ref")
    if isinstance(value, list):
        return "; ".join(_flat(v) for v in value)
    return "" if value is None else str(value)


def attribute_rows(resource: dict, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Return (label, text) rows for a resource's attributes, nested ones flattened one level:
    ``name.givenName``, ``emails`` as ``value (type, primary)`` lines, the enterprise
    extension's attributes under their own names."""
    rows: list[tuple[str, str]] = []
    for key, value in resource.items():
        if key.startswith("_") or key in ("schemas", "meta", *skip):
            continue
        if key == ENTERPRISE and isinstance(value, dict):
            rows += [(f"enterprise.{k}", _flat(v)) for k, v in value.items()]
        elif isinstance(value, dict):
            rows += [(f"{key}.{k}", _flat(v)) for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            rows.append((key, "\n".join(_element(v) for v in value)))
        else:
            rows.append((key, _flat(value)))
    return rows


def _element(element: dict) -> str:
    # emails, phoneNumbers, addresses…: the value first, its qualifiers after it.
    head = element.get("value", element.get("formatted"))
    rest = {k: v for k, v in element.items() if k not in ("value", "$ref") and v is not head}
    qualifiers = ", ".join(
        str(k) if v is True else f"{k}: {_flat(v)}" for k, v in rest.items() if v is not False
    )
    text = _flat(head) if head is not None else qualifiers
    return f"{text} ({qualifiers})" if head is not None and qualifiers else text


def event_rows(events: list[dict]) -> list[dict]:
    """Return a resource's change events as rows: the type, when, and what changed (the
    attributes an update changed, or how many members came and went)."""
    rows = []
    for event in events:
        ids = event.get("member_ids") or ()
        if event["type"] == "group.members_added":
            detail = f"{len(ids):,} member{'s' if len(ids) != 1 else ''} added"
        elif event["type"] == "group.members_removed":
            detail = f"{len(ids):,} member{'s' if len(ids) != 1 else ''} removed"
        else:
            detail = ", ".join(event.get("changed") or ())
        rows.append({"type": event["type"], "time": event["occurred_at"], "detail": detail})
    return rows
