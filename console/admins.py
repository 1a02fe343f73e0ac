"""Console admins and the one-time setup link that creates the first one.

Admins live in the store's ``admins`` table under their folded username:
``{"key", "username", "password", "created", "sessions"}``, the password as a scrypt hash
(``tokens.passwords``), ``sessions`` the digests of their live console sessions
(``console.sessions``). Usernames are case-insensitive, like the IdP names admins type.
Changing a password or deleting an admin ends that admin's sessions; there is always at
least one admin once the first exists.

A setup link is ``/setup/<signed nonce>``: the nonce is random and kept in the ``settings``
table under ``setup``; the link is signed with the app's secret key under the salt
``roster.setup`` and expires after ``SETUP_MAX_AGE``. Using it deletes the nonce, so it works
once; printing a new link replaces the nonce, so only the newest link works.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Flask
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

import storage
from console import sessions
from tokens.passwords import check_password, hash_password

SETUP_SALT = "roster.setup"
SETUP_MAX_AGE = timedelta(hours=24)
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024


@functools.cache
def _decoy() -> str:
    # Checked against when the username is unknown, so that a wrong username costs the same
    # time as a wrong password and timing does not tell which usernames exist.
    return hash_password(secrets.token_urlsafe(16))


class AdminError(ValueError):
    """A problem with an admin or a setup link, worded for the page or the terminal.

    ``field`` names the form field at fault (``username`` or ``password``), if one is."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def check_username(username: str) -> str:
    """Return ``username`` stripped, or raise AdminError saying what is wrong with it."""
    username = username.strip()
    if not USERNAME.match(username):
        raise AdminError(
            "A username is 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter"
            " or digit.",
            "username",
        )
    return username


def check_new_password(password: str) -> str:
    """Return ``password`` if it is long enough to be a password, else raise AdminError."""
    if len(password) < MIN_PASSWORD:
        raise AdminError(
            f"The password must be at least {MIN_PASSWORD} characters long.", "password"
        )
    if len(password) > MAX_PASSWORD:
        raise AdminError(
            f"The password must be at most {MAX_PASSWORD} characters long.", "password"
        )
    return password


def has_admin(store: storage.Store) -> bool:
    return bool(store.records("admins"))


def get_admin(key: str) -> dict | None:
    return storage.get_store().get_record("admins", key)


def create_admin(store: storage.Store, username: str, password: str) -> dict:
    """Create an admin; raise AdminError if the name is taken or either value is unfit."""
    username = check_username(username)
    check_new_password(password)
    key = username.casefold()
    if store.get_record("admins", key) is not None:
        raise AdminError(f"An admin named {username!r} already exists.", "username")
    record = {
        "key": key,
        "username": username,
        "password": hash_password(password),
        "created": _now(),
    }
    store.put_record("admins", key, record)
    # A setup link is for a Roster without admins: once there is one, no link may create more.
    store.delete_record("settings", "setup")
    return record


def authenticate(store: storage.Store, username: str, password: str) -> dict | None:
    """Return the admin whose username and password these are, or None."""
    record = store.get_record("admins", username.strip().casefold())
    stored = record["password"] if record else _decoy()
    if check_password(stored, password) and record is not None:
        return record
    return None


def find_admin(store: storage.Store, username: str) -> dict:
    """Return the admin named ``username`` (in any case), or raise AdminError."""
    record = store.get_record("admins", username.strip().casefold())
    if record is None:
        raise AdminError(f"There is no admin named {username.strip()!r}.", "username")
    return record


def change_password(
    store: storage.Store, username: str, password: str, keep: str | None = None
) -> int:
    """Set an admin's password and end their sessions but ``keep`` (a session digest, the
    one making the change); return how many sessions ended."""
    check_new_password(password)
    find_admin(store, username)
    hashed = hash_password(password)  # scrypt outside the store's write lock
    ended = 0

    def change(record: dict) -> dict:
        nonlocal ended
        entries = record.get("sessions", {})
        kept = {k: v for k, v in entries.items() if k == keep}
        ended = sessions.live_count({k: v for k, v in entries.items() if k != keep})
        return {**record, "password": hashed, "sessions": kept}

    if store.update_record("admins", username.strip().casefold(), change) is None:
        raise AdminError(f"There is no admin named {username.strip()!r}.", "username")
    return ended


def _others(store: storage.Store, key: str) -> list[dict]:
    return store.records("admins", lambda r: r["key"] != key and not r.get("deleting"))


def refuse_last(store: storage.Store, record: dict) -> None:
    """Raise AdminError if ``record`` is the only admin: deleting it would lock everyone out."""
    if not _others(store, record["key"]):
        raise AdminError(
            f"{record['username']} is the only admin: create another one first"
            " (flask --app app admin create USERNAME), or no one could sign in to the console."
        )


def delete_admin(
    store: storage.Store, username: str, then: Callable[[], object] | None = None
) -> int:
    """Delete an admin, ending their sessions; return how many ended. Refuse (AdminError,
    nothing changed) to delete the last admin.

    Two deletions at once (two terminals on one PostgreSQL database) must not take away the
    last two admins together, and no transaction spans two records. So each deletion first
    marks its admin ``deleting`` (one atomic write), then looks for another unmarked admin,
    and takes its mark back if there is none: the later of two racing marks sees the earlier,
    so at least one admin always stays. (The mark is its own write, not part of the deletion's
    transaction: uncommitted, the other deletion would not see it.) ``then()`` writes in the
    same write as the deletion itself (its audit entry).
    """
    record = find_admin(store, username)
    key = record["key"]
    refuse_last(store, record)
    marked = store.update_record("admins", key, lambda r: {**r, "deleting": True})
    if marked is None:  # deleted meanwhile
        raise AdminError(f"There is no admin named {record['username']!r}.", "username")
    try:
        refuse_last(store, record)
    except AdminError:
        store.update_record("admins", key, _unmark)
        raise
    try:
        with store.atomic():
            store.delete_record("admins", key)
            if then is not None:
                then()
    except Exception:
        # Not deleted: the admin counts again (if the store takes even this back).
        with contextlib.suppress(storage.StoreError):
            store.update_record("admins", key, _unmark)
        raise
    return sessions.live_count(marked.get("sessions", {}))


def _unmark(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "deleting"}


# --- setup links ---------------------------------------------------------------------------


def _serializer(app: Flask) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app.secret_key, salt=SETUP_SALT)


def _base_url(values: dict) -> str:
    if values["public_url"]:
        return values["public_url"]
    # A wildcard listen address is no address a browser can open.
    host = values["host"]
    host = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    return f"http://{host}:{values['port']}"


def setup_link(app: Flask) -> str | None:
    """Return a new one-time setup link when Roster has no admin yet, else None.

    Each call replaces the previous link's nonce: only the newest link printed works."""
    store = storage.get_store(app)
    if has_admin(store):
        return None
    nonce = secrets.token_urlsafe(24)
    store.put_record("settings", "setup", {"nonce": nonce, "created": _now()})
    token = _serializer(app).dumps(nonce)
    return f"{_base_url(app.config['ROSTER'])}/setup/{token}"


def check_setup_token(app: Flask, store: storage.Store, token: str) -> str:
    """Return the nonce a live setup link carries, or raise AdminError saying why it is dead."""
    if has_admin(store):
        raise AdminError("Roster already has an admin. Sign in instead.")
    try:
        nonce = _serializer(app).loads(token, max_age=int(SETUP_MAX_AGE.total_seconds()))
    except SignatureExpired:
        raise AdminError(
            "This setup link has expired (links last 24 hours). Restart Roster to print a new"
            " one, or create an admin with: flask --app app admin create USERNAME"
        ) from None
    except BadSignature:
        raise AdminError(
            "This setup link is not valid. Copy the whole link Roster printed when it started."
        ) from None
    record = store.get_record("settings", "setup")
    if (
        not isinstance(nonce, str)
        or record is None
        or not hmac.compare_digest(record["nonce"], nonce)
    ):
        raise AdminError(
            "This setup link has already been used, or a newer one replaced it when Roster"
            " restarted."
        )
    return nonce


def use_setup_link(
    app: Flask, store: storage.Store, token: str, username: str, password: str
) -> dict:
    """Create the first admin through a setup link and spend the link; return the admin.

    The form's values are checked before the link is spent, so a typo does not burn it."""
    check_setup_token(app, store, token)
    check_username(username)
    check_new_password(password)
    # delete_record is atomic: of two racing submissions exactly one sees the nonce go. (Only
    # a server start writes a new nonce, so the one checked above is the one deleted here.)
    if not store.delete_record("settings", "setup"):
        raise AdminError("This setup link has already been used.")
    return create_admin(store, username, password)
