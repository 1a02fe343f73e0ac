"""Per-IdP provisioning tokens: issue, hash, verify, rotate, revoke.

A token is ``roster_scim_`` followed by 256 random bits (``secrets``); the prefix lets secret
scanners recognise a leaked one. Only its SHA-256 digest is stored, as the key of its record,
so verifying finds it without scanning and without the plaintext ever touching the disk. A
fast hash is right here (unlike for passwords): the token is random, not guessable.

Records live in the store's ``tokens`` table under their digest:
``{"digest", "id", "idp", "label", "prefix", "created", "last_used", "expires", "revoked",
"replaced_by", "serial"}``. ``id`` is a short public handle for listing and revoking one token.

Rotation without a minute of failed sync: a new token may leave the previous one live for a
grace period (``GRACE``), during which both authenticate; the old one's ``expires`` is then
the end of the period and its ``replaced_by`` names the new one. Any other live token is
revoked at once, so an IdP never has more than two. A token may also expire on its own
(``expires`` set when it is issued). Every function takes ``now`` (an aware ``datetime``)
rather than reading a clock, so that callers and tests decide what time it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from functools import partial

from durations import iso, parse_iso, say, until
from storage.errors import StoreUnavailable
from storage.interface import Store

PREFIX = "roster_scim_"
# Provisioning tokens and API keys (tokens/apikeys.py) alike, so neither is ever written down.
_SHAPE = re.compile(r"(roster_scim_|roster_key_)[A-Za-z0-9_-]+")
# Persist "last used" at most this often per token, so that every read does not become a write.
TOUCH_EVERY = timedelta(seconds=60)
# How long the previous token may keep working after a new one is issued: the choices offered.
GRACE = (timedelta(hours=1), timedelta(hours=24), timedelta(days=7))
# The shortest and longest lifetime a token may be given when it is issued.
LIFETIME = (timedelta(hours=1), timedelta(days=730))
# The Identity Providers table warns this long before a token stops working.
WARN_BEFORE = timedelta(days=7)
LABEL_MAX = 100


class TokenError(ValueError):
    """A request about tokens that cannot be carried out; the message says why."""


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return iso(moment)


def redact(text: str) -> str:
    """Return ``text`` with anything shaped like a token replaced, for logs and error messages.

    A client may put its token where it does not belong (a URL, a User-Agent, a body); the
    prefix makes it recognisable, so it is never written down or echoed back."""
    return _SHAPE.sub(r"\1[redacted]", text)


def digest(token: str) -> str:
    """Return the hex SHA-256 digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def public_id(record: dict) -> str:
    """Return a token's public handle (records made before handles existed use their
    digest's first characters, which tell nothing about the token itself)."""
    return record.get("id") or record["digest"][:12]


def is_live(record: dict, now: datetime) -> bool:
    """Return whether the token authenticates at ``now``: not revoked, not expired."""
    if record["revoked"] is not None:
        return False
    expires = parse_iso(record.get("expires"))
    return expires is None or now < expires


def check_label(label: str | None, default: str) -> str:
    """Return the label stripped (``default`` when empty), or raise TokenError saying why it
    cannot label a token."""
    label = (label or "").strip() or default
    if len(label) > LABEL_MAX:
        raise TokenError(f"a label has at most {LABEL_MAX} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in label):
        raise TokenError("a label cannot hold control characters")
    return label


def check_grace(keep_old: timedelta | None) -> None:
    """Raise TokenError unless ``keep_old`` is None (revoke now) or one of ``GRACE``."""
    if keep_old is not None and keep_old not in GRACE:
        choices = ", ".join(say(g) for g in GRACE)
        raise TokenError(f"the old token can be kept for {choices}; not {say(keep_old)}")


def check_lifetime(expires_in: timedelta | None) -> None:
    """Raise TokenError unless ``expires_in`` is None (no expiry) or within ``LIFETIME``."""
    least, most = LIFETIME
    if expires_in is not None and not least <= expires_in <= most:
        raise TokenError(f"a token lives from {say(least)} to {say(most)}; not {say(expires_in)}")


def rotate(
    store: Store,
    idp: str,
    *,
    now: datetime | None = None,
    label: str | None = None,
    keep_old: timedelta | None = None,
    expires_in: timedelta | None = None,
) -> tuple[dict, str]:
    """Issue a token for ``idp``; return its record and the plaintext (show it once).

    With ``keep_old``, the newest live token keeps working for that long (its ``expires`` is
    brought forward to the end of the grace period if it was later); every other live token
    is revoked at once. Raises TokenError for a bad label, grace period or lifetime, before
    anything is written."""
    now = now or _now()
    history = tokens_of(store, idp)
    label = check_label(label, f"Token {len(history) + 1}")
    check_grace(keep_old)
    check_lifetime(expires_in)
    token = PREFIX + secrets.token_urlsafe(32)  # 32 bytes = 256 bits
    record: dict = {
        "digest": digest(token),
        "id": secrets.token_hex(6),
        "idp": idp,
        "label": label,
        "prefix": token[: len(PREFIX) + 4],
        "created": _iso(now),
        "last_used": None,
        "expires": _iso(now + expires_in) if expires_in else None,
        "revoked": None,
        "replaced_by": None,
        # Orders tokens issued within the same second (``created`` has whole seconds).
        "serial": len(history) + 1,
    }
    live = [r for r in history if is_live(r, now)]
    kept = live[0] if live and keep_old is not None else None
    # The old tokens first: a crash in between leaves fewer live tokens than asked, never more.
    for old in live:
        if old is kept and keep_old is not None:  # kept only when there is a grace period
            retire = partial(_retire, successor=record, stop=now + keep_old)
            store.update_record("tokens", old["digest"], retire)
        else:
            store.update_record("tokens", old["digest"], lambda cur: _revoked(cur, now))
    store.put_record("tokens", record["digest"], record)
    return record, token


def _retire(current: dict, successor: dict, stop: datetime) -> dict:
    expires = parse_iso(current.get("expires"))
    end = min(stop, expires) if expires else stop
    return {**current, "expires": _iso(end), "replaced_by": successor["id"]}


def _revoked(current: dict, now: datetime) -> dict:
    return current if current["revoked"] else {**current, "revoked": _iso(now)}


def issue(store: Store, idp: str, *, now: datetime | None = None) -> str:
    """Create a token for ``idp``, revoke its previous ones at once, and return the plaintext.

    The plaintext exists only in the return value: show it once."""
    return rotate(store, idp, now=now)[1]


def revoke(
    store: Store, idp: str, token_id: str | None = None, *, now: datetime | None = None
) -> int:
    """Revoke the live token of ``idp`` whose public id is ``token_id`` (every live one when
    None); return how many were revoked."""
    now = now or _now()
    live = [r for r in tokens_of(store, idp) if is_live(r, now)]
    if token_id is not None:
        live = [r for r in live if hmac.compare_digest(public_id(r), token_id)]
    for record in live:
        store.update_record("tokens", record["digest"], lambda cur: _revoked(cur, now))
    return len(live)


def tokens_of(
    store: Store, idp: str, *, live_only: bool = False, now: datetime | None = None
) -> list[dict]:
    """Return the token records of ``idp`` (never a plaintext), newest first; with
    ``live_only``, only those that authenticate at ``now``."""
    found = store.records("tokens", lambda r: r["idp"] == idp)
    if live_only:
        moment = now or _now()
        found = [r for r in found if is_live(r, moment)]
    return sorted(found, key=lambda r: (r["created"], r.get("serial", 0)), reverse=True)


def status(record: dict, now: datetime) -> str:
    """Return ``"active"``, ``"expired"`` or ``"revoked"`` for one token."""
    if record["revoked"] is not None:
        return "revoked"
    return "active" if is_live(record, now) else "expired"


def state(store: Store, idp: str, now: datetime | None = None) -> str:
    """Return ``"active"``, ``"expired"``, ``"revoked"`` or ``"none"`` for the console and the
    CLI: whether the IdP can authenticate now, else what became of its newest token."""
    now = now or _now()
    records = tokens_of(store, idp)
    if any(is_live(r, now) for r in records):
        return "active"
    return status(records[0], now) if records else "none"


def warnings(records: list[dict], now: datetime) -> list[str]:
    """Return what the Identity Providers table warns about an IdP's tokens (newest first):
    a live token that stops within ``WARN_BEFORE``, and which one the IdP still uses.

    An old token in its grace period that was used after its successor was issued means the
    IdP has not been given the new one yet: it will fail when the old one stops."""
    found = []
    live = [r for r in records if is_live(r, now)]
    by_id = {public_id(r): r for r in records}
    for record in live:
        stops = parse_iso(record.get("expires"))
        if stops is None or stops - now > WARN_BEFORE:
            continue
        when = until(stops, now)
        successor = by_id.get(record.get("replaced_by") or "")
        if successor is not None:
            used = parse_iso(record["last_used"])
            if used is not None and used >= parse_iso(successor["created"]):
                found.append(
                    f"Still uses {record['label']} ({record['prefix']}…), which stops {when}:"
                    f" paste {successor['label']} into the IdP."
                )
        elif record is live[0]:  # the newest: nothing replaces it yet
            found.append(
                f"{record['label']} ({record['prefix']}…) stops {when}: generate a new token."
            )
    return found


def describe(idp_name: str, record: dict, keep_old: timedelta | None) -> str:
    """A new token as the audit trail names it (never the token, nor its prefix): the same
    words from the console and the CLI."""
    text = f"{idp_name}: {record['label']} (id {public_id(record)})"
    if record.get("expires"):
        text += f", expires {record['expires']}"
    previous = f"kept for {say(keep_old)}" if keep_old else "revoked"
    return f"{text}; the previous token {previous}"


def verify(store: Store, idp: str, token: str, *, now: datetime | None = None) -> bool:
    """Return whether ``token`` is a live token of ``idp`` at ``now``; record when it was last
    used.

    The lookup is by digest (no scan); the comparisons that decide are constant-time, and a
    token of another IdP is refused exactly like an unknown one.
    """
    if not token.startswith(PREFIX):
        return False
    now = now or _now()
    key = digest(token)
    record = store.get_record("tokens", key)
    if record is None or not is_live(record, now):
        return False
    same_idp = hmac.compare_digest(record["idp"].encode(), idp.encode("utf-8", "surrogatepass"))
    if not (hmac.compare_digest(record["digest"], key) and same_idp):
        return False
    _touch(store, record, now)
    return True


def _touch(store: Store, record: dict, moment: datetime) -> None:
    last = parse_iso(record["last_used"])
    if last is None or moment - last >= TOUCH_EVERY:
        # "Last used" is a hint: a read must keep working while the disk is full or read-only
        # (writes are refused then, and say so themselves).
        with contextlib.suppress(StoreUnavailable):
            # Read-modify-write in one step, so that a revocation made meanwhile is kept.
            store.update_record(
                "tokens", record["digest"], lambda cur: {**cur, "last_used": _iso(moment)}
            )
