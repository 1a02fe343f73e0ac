"""HTTP plumbing for the SCIM API: media types, body parsing, responses, and the app-wide
error handlers that turn every failure into an RFC 7644 §3.12 error body."""

from __future__ import annotations

import json
import logging
import re

import orjson
from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

import storage
import tokens
from scim.core import errors, jsonio
from storage.errors import OutcomeUnknown, StoreFull, StoreUnavailable

log = logging.getLogger(__name__)

SCIM_MEDIA_TYPE = "application/scim+json"
SCIM_PREFIX = "/scim/"
IN_DOUBT = (
    "The store became unreachable while this change was being saved: it may or may not have"
    " been saved. Read the resource before retrying."
)


def scim_response(body: dict | None, status: int = 200, headers: dict | None = None) -> Response:
    """Return ``body`` as ``application/scim+json`` (RFC 7644 §3.1)."""
    payload = b"" if body is None else encode_json(body)
    response = Response(payload, status=status, headers=headers or {})
    if body is not None:
        response.headers["Content-Type"] = f"{SCIM_MEDIA_TYPE}; charset=utf-8"
    return response


def encode_json(body: object) -> bytes:
    """Return ``body`` as compact UTF-8 JSON (``scim.core.jsonio``: orjson, and the standard
    encoder for what orjson refuses), members rendered ahead included."""
    return jsonio.dumps(body, default=_unfragment)


def _unfragment(value: object) -> object:
    if isinstance(value, orjson.Fragment):  # JSON rendered ahead (scim.rendered)
        return json.loads(value.contents)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json_media_type(content_type: str) -> bool:
    # RFC 7644 §3.1: clients use application/scim+json; real ones also send application/json,
    # with or without a charset, or no Content-Type at all (docs/idp/behaviour.md#every-client).
    mimetype = content_type.split(";", 1)[0].strip().lower()
    return mimetype in ("", "application/json", "text/json") or mimetype.endswith("+json")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen: dict[str, object] = {}
    folded: set[str] = set()
    for key, value in pairs:
        # RFC 7643 §2.1: attribute names (and schema URNs, RFC 7644 §3.10) are case-insensitive,
        # so "userName" and "USERNAME" name one attribute twice: refuse it rather than let the
        # last one win silently.
        if key.lower() in folded:
            raise errors.InvalidSyntax(f"The JSON object has the key {key!r} more than once.")
        folded.add(key.lower())
        seen[key] = value
    return seen


# A \u0000 or \uD800-\uDFFF escape: the only ways a JSON text can carry U+0000 or a surrogate
# code point (raw, they are invalid JSON or invalid UTF-8).
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def _bad_character(value: object) -> str | None:
    """Return what is wrong with a string in ``value`` that Roster cannot keep, or None.

    RFC 7493 §2.1 (I-JSON) forbids unpaired surrogates, and RFC 7643 §2.3.1 strings are
    Unicode characters: such a string could be stored but never encoded in a response.
    U+0000 is a character, but PostgreSQL cannot store it, and a NUL in a name or an id is a
    classic truncation trick: no SCIM client needs one.
    """
    stack = [value]  # iterative: the body may be nested as deeply as the parser allowed
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and "\x00" in item:
            return "a string with a NUL character (U+0000)"
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a string with an unpaired surrogate"
    return None


def _reject_constant(name: str) -> None:
    raise errors.InvalidSyntax(f"{name} is not a valid JSON value.")


def read_json() -> object:
    """Return the request body parsed as JSON, or raise the SCIM error that says why not."""
    if not _json_media_type(request.content_type or ""):
        raise errors.UnsupportedMediaType(
            f"Content-Type {request.content_type!r} is not supported: "
            f"send {SCIM_MEDIA_TYPE} or application/json."
        )
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if not raw.strip():
        raise errors.InvalidSyntax("The request body is empty; a JSON object is required.")
    try:
        text = raw.decode("utf-8")
        body = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise errors.InvalidSyntax("The request body is not valid UTF-8.") from None
    except RecursionError:
        raise errors.InvalidSyntax("The request body is nested too deeply.") from None
    except json.JSONDecodeError as exc:
        raise errors.InvalidSyntax(f"The request body is not valid JSON: {exc}") from None
    except ValueError:
        # Python refuses to convert integers of more than 4,300 digits (CVE-2020-10735).
        raise errors.InvalidSyntax("The request body has a number too long to read.") from None
    problem = _bad_character(body) if _SUSPECT_ESCAPE.search(text) else None
    if problem:
        raise errors.InvalidSyntax(f"The request body has {problem}.")
    return body


def payload_too_large() -> errors.PayloadTooLarge:
    """The 413 for a body over ``scim.max_payload_bytes``, naming the limit (RFC 7644 §3.7.4:
    the error "MUST specify the limit exceeded")."""
    limit = current_app.config["ROSTER"]["max_payload_bytes"]
    return errors.PayloadTooLarge(
        f"The request body is larger than the maxPayloadSize ({limit} bytes)."
    )


def _is_scim_request() -> bool:
    return request.path.startswith(SCIM_PREFIX) or request.path.rstrip("/") == "/scim"


def error_body(error: errors.ScimError) -> dict:
    """Return the RFC 7644 §3.12 body ``error`` is answered with."""
    body = error.to_dict()
    # Details may quote what the client sent (a path, a filter): never a token it put there.
    body["detail"] = tokens.redact(body["detail"])
    return body


def _render(error: errors.ScimError) -> Response:
    return scim_response(error_body(error), error.status, error.headers)


def scim_error_for(error: storage.StoreError) -> errors.ScimError:
    """Return the SCIM error a store error is answered with (logging what the operator must
    see): the app's handler and each operation of a /Bulk request answer alike."""
    if isinstance(error, storage.Conflict):
        # RFC 7644 §3.3 and §3.5.1: a uniqueness clash is 409 uniqueness.
        return errors.Uniqueness(f"{error.attribute} {error.value!r} is already taken.")
    if isinstance(error, storage.NotFound):
        return errors.NotFound(f"Resource {error} not found.")
    if isinstance(error, storage.VersionMismatch):
        return errors.PreconditionFailed()
    if isinstance(error, StoreUnavailable):
        g.store_unavailable = error  # the request log does not wait for it again
    if isinstance(error, StoreFull):
        log.error("write refused: %s", error)
        return errors.InsufficientStorage()
    if isinstance(error, OutcomeUnknown):
        log.error("write outcome unknown: %s", error)
        return errors.ServiceUnavailable(IN_DOUBT, retry_after=error.retry_after or 5)
    if isinstance(error, StoreUnavailable):
        log.error("store unavailable: %s", error)
        return errors.ServiceUnavailable(retry_after=error.retry_after or 5)
    log.exception("storage failure")
    return errors.InternalError()


def register_error_handlers(app: Flask) -> None:
    """Render every error on a SCIM path as a SCIM error body, and never leak a traceback."""

    @app.errorhandler(errors.ScimError)
    def scim_error(error: errors.ScimError):
        return _render(error)

    @app.errorhandler(storage.StoreError)
    def store_error(error: storage.StoreError):
        return _render(scim_error_for(error))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not _is_scim_request():
            return error
        if isinstance(error, RequestEntityTooLarge):
            return _render(payload_too_large())
        scim = errors.ScimError(error.description)
        scim.status = error.code or 500
        if error.code == 405:
            scim = errors.MethodNotAllowed(
                f"{request.method} is not allowed on {request.path}.",
                headers={"Allow": ", ".join(getattr(error, "valid_methods", None) or ())},
            )
        elif error.code == 404:
            scim = errors.NotFound(f"There is no SCIM endpoint at {request.path}.")
        return _render(scim)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        # Log the traceback for the operator; send the client nothing of it.
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _is_scim_request():
            return _render(errors.InternalError())
        return Response("Internal Server Error", status=500, mimetype="text/plain")


# RFC 7644 §3.2 names the endpoints with this case; several IdP test collections send others
# (/users, /serviceproviderconfig). They are matched whatever the case, and Roster writes the
# canonical names (meta.location, discovery).
ENDPOINTS = {
    name.lower(): name
    for name in (
        "Users",
        "Groups",
        "ServiceProviderConfig",
        "ResourceTypes",
        "Schemas",
        "Bulk",
        "Me",
    )
}
SEARCH = ".search"  # RFC 7644 §3.4.3, at the root and under each resource endpoint


def canonical_path(path: str) -> str:
    """Return a SCIM path with doubled and trailing slashes dropped and its endpoint names
    (never an IdP or resource id) spelled as RFC 7644 §3.2 spells them."""
    parts = [p for p in path.split("/") if p]
    # /scim/v2/<idp>/<endpoint>[/<id> | /.search]
    if len(parts) >= 4 and parts[:2] == ["scim", "v2"]:
        endpoint = parts[3].lower()
        parts[3] = ENDPOINTS.get(endpoint, SEARCH if endpoint == SEARCH else parts[3])
        if len(parts) == 5 and parts[3] in ("Users", "Groups") and parts[4].lower() == SEARCH:
            parts[4] = SEARCH
    return "/" + "/".join(parts)


class NormalizePath:
    """WSGI middleware: collapse doubled slashes, drop a trailing slash and match endpoint
    names without regard to case on SCIM paths (``canonical_path``).

    Clients build URLs by concatenation (JumpCloud appends ``/Users`` to the Base URL), so
    ``/scim/v2/x//Users/`` must reach ``/scim/v2/x/Users``.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if "/scim" in path:
            environ["PATH_INFO"] = canonical_path(path)
        return self.app(environ, start_response)
