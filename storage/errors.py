"""Errors a storage backend raises. They name what went wrong, not an HTTP status: the SCIM
layer maps them (``scim.http``)."""

from __future__ import annotations


class StoreError(Exception):
    """Base class for storage errors."""


class NotFound(StoreError):
    """The record does not exist (or belongs to another tenant, which is the same thing)."""


class Conflict(StoreError):
    """A uniqueness rule would be broken; ``attribute`` names the rule (e.g. ``userName``)."""

    def __init__(self, attribute: str, value: object):
        self.attribute = attribute
        self.value = value
        super().__init__(f"{attribute} {value!r} is already in use")


class VersionMismatch(StoreError):
    """An ``if_version`` precondition failed: the record changed since the caller read it."""


class StoreLocked(StoreError):
    """Another process holds the data folder."""


class StoreUnavailable(StoreError):
    """The store cannot be used: its data folder is unwritable, unreadable or damaged, or its
    database cannot be reached.

    Raised by a write that was not made: nothing of it is stored. ``retry_after`` (seconds) is
    set when the condition may pass on its own (a database restarting, a folder remounted).
    """

    def __init__(self, message: str = "", *, retry_after: int | None = None):
        self.retry_after = retry_after
        super().__init__(message)


class StoreDamaged(StoreUnavailable):
    """The data folder's files fail their own checks (a checksum, the framing of the journal, a
    file missing from a folder that held a store): loading what is left would silently drop
    acknowledged writes, so it is refused. ``flask --app app recover`` starts from what is
    intact, explicitly."""


class StoreFull(StoreUnavailable):
    """The write was refused because the disk (or the database's) is out of space."""


class CursorExpired(StoreError):
    """A change-feed cursor is older than the oldest event kept: events after it were pruned.
    ``pruned_through`` is the newest seq pruned; the reader must read the state again."""

    def __init__(self, pruned_through: int):
        self.pruned_through = pruned_through
        super().__init__(f"events up to {pruned_through} were pruned")


class OutcomeUnknown(StoreUnavailable):
    """The connection to the database was lost while a write was being committed, and whether
    the write was stored could not be learnt: it may have been. Unlike its base class, this
    error does not promise that nothing was stored; a client should read before it retries."""
