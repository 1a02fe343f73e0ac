"""SCIM errors: one class per RFC 7644 §3.12 ``scimType``, each carrying its HTTP status.

Views and protocol functions raise these; a single app-level handler (``scim.http``) renders
them as ``application/scim+json`` error bodies. Nothing here imports Flask.
"""

from __future__ import annotations

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """Base SCIM error: an HTTP status, an optional ``scimType`` and a human-readable detail."""

    status: int = 400
    scim_type: str | None = None
    default_detail: str = "The request is not valid."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        self.detail = detail or self.default_detail
        self.headers = headers or {}
        super().__init__(self.detail)

    def to_dict(self) -> dict:
        """Return the RFC 7644 §3.12 error body; ``status`` is a string, as the RFC's examples."""
        body = {"schemas": [ERROR_SCHEMA], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


# --- 400 with a scimType (RFC 7644 §3.12, table 9) -------------------------------------------


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"
    default_detail = "The specified filter syntax is invalid or the attribute is not supported."


class TooMany(ScimError):
    scim_type = "tooMany"
    default_detail = "The filter yields too many results for the server to process."


class Uniqueness(ScimError):
    status = 409
    scim_type = "uniqueness"
    default_detail = "One or more of the attribute values are already in use or are reserved."


class Mutability(ScimError):
    scim_type = "mutability"
    default_detail = "The attempted modification is not compatible with the attribute's mutability."


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"
    default_detail = "The request body structure was invalid."


class InvalidPath(ScimError):
    scim_type = "invalidPath"
    default_detail = "The path attribute was invalid or malformed."


class NoTarget(ScimError):
    scim_type = "noTarget"
    default_detail = "The specified path did not yield an attribute that could be operated on."


class InvalidValue(ScimError):
    scim_type = "invalidValue"
    default_detail = "A required value was missing, or the value specified was not compatible."


class InvalidVersion(ScimError):
    scim_type = "invalidVersion"
    default_detail = "The specified SCIM protocol version is not supported."


class Sensitive(ScimError):
    status = 403
    scim_type = "sensitive"
    default_detail = "The request cannot be completed because it contains sensitive information."


# --- statuses without a scimType (RFC 7644 §3.12, table 8) -----------------------------------


class Unauthorized(ScimError):
    status = 401
    default_detail = "Authorization failure: a valid bearer token is required."

    def __init__(self, detail: str | None = None):
        # RFC 6750 §3: a 401 for a bearer-protected resource names the scheme.
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="SCIM"'})


class Forbidden(ScimError):
    status = 403
    default_detail = "The operation is not permitted."


class NotFound(ScimError):
    status = 404
    default_detail = "The specified resource does not exist."


class MethodNotAllowed(ScimError):
    status = 405
    default_detail = "The method is not allowed on this endpoint."


class PreconditionFailed(ScimError):
    status = 412
    default_detail = "The resource has changed: the If-Match version does not match."


class UnresolvedReference(ScimError):
    # RFC 7644 §3.7.1: a bulk job's references that could not be resolved are 409 (Conflict).
    status = 409
    default_detail = "A bulkId reference of this bulk request could not be resolved."


class PayloadTooLarge(ScimError):
    status = 413
    default_detail = "The request body is larger than the server accepts."


class UnsupportedMediaType(ScimError):
    status = 415
    default_detail = "Send application/scim+json or application/json."


class TooManyRequests(ScimError):
    status = 429
    default_detail = "Too many requests: retry later."


class InsufficientStorage(ScimError):
    # RFC 4918 §11.5: 507, the server cannot store what the request needs.
    status = 507
    default_detail = "The server has no space left to store this change; nothing was changed."


class InternalError(ScimError):
    status = 500
    default_detail = "The server could not complete the request. The error has been logged."


class ServiceUnavailable(ScimError):
    status = 503
    default_detail = "The store is unavailable; nothing was changed. Retry later."

    def __init__(self, detail: str | None = None, *, retry_after: int = 5):
        # RFC 9110 §10.2.3: Retry-After tells the client when to come back.
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class NotImplementedFeature(ScimError):
    status = 501
    default_detail = "The requested operation is not supported by this service provider."
