"""The console's defences: the session cookie, sign-in required, CSRF tokens, response headers.

- Sessions are Flask's signed cookie under their own salt, HttpOnly, SameSite=Lax, Secure
  when Roster is reached over HTTPS, and live on the server too (``sessions``): a session
  ends when its admin signs out, changes their password elsewhere or is deleted, and at the
  latest ``SESSION_LIFETIME`` after sign-in whatever the activity.
- Every POST carries a CSRF token: a random value kept in the session, sent in the form
  signed under the salt ``roster.csrf``, compared in constant time.
- The console and SCIM never share credentials: a bearer token is not read here, and the SCIM
  blueprint reads nothing but the bearer token.
"""

from __future__ import annotations

import hmac
import secrets

from flask import (
    Flask,
    Request,
    Response,
    abort,
    current_app,
    g,
    redirect,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

import storage
from console import admins, sessions
from console.sessions import SESSION_LIFETIME

CSRF_SALT = "roster.csrf"
CSRF_FIELD = "csrf_token"
# Endpoints reachable without a session: signing in, first-admin setup, and the stylesheet
# and script those two pages need.
PUBLIC = {"console.auth.sign_in", "console.auth.setup", "console.static"}

# RFC-free but strict: only this origin's own scripts, styles and images; no framing, no
# plugins, forms post only here. Nothing inline: the pages have no inline script or style.
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Setup links carry a secret in their path: never send it anywhere as a Referer.
    "Referrer-Policy": "no-referrer",
}


def https() -> bool:
    """Return whether admins reach Roster over HTTPS (a proxy's https public URL counts)."""
    return current_app.config["ROSTER"]["public_url"].startswith("https://") or request.is_secure


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, under the console's own salt, Secure over HTTPS."""

    salt = "roster.session"

    def get_cookie_secure(self, app: Flask) -> bool:
        return https()

    def open_session(self, app: Flask, request: Request):
        # The SCIM API and the application API authenticate each request by its token or key:
        # they have no session, and a cookie a client sends there is not even read (Flask then
        # gives it a null session), so a signed-in admin's browser opens neither.
        if is_scim_path() or request.path.startswith("/api/"):
            return None
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Configure the session cookie and add the security headers to every response."""
    app.session_interface = ConsoleSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME="roster_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        # The lifetime counts from sign-in, so re-sending the cookie on every page is pointless.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    app.after_request(add_headers)


def is_scim_path() -> bool:
    """Return whether the request is for the SCIM API (which has its own errors and headers)."""
    return request.path.startswith("/scim/") or request.path.rstrip("/") == "/scim"


def add_headers(response: Response) -> Response:
    """Add the framing, sniffing and referrer headers everywhere; the CSP to console pages."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if is_scim_path():
        return response
    response.headers["Content-Security-Policy"] = CSP
    if https():
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "console.static":
        # Pages show users, tokens and logs: keep them out of shared and back-button caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# --- sessions ------------------------------------------------------------------------------


def sign_in(admin: dict) -> bool:
    """Start a fresh session for ``admin`` (a new CSRF secret: nothing carries over); return
    False if the admin was deleted meanwhile."""
    session.clear()
    sid = sessions.start(storage.get_store(), admin["key"])
    if sid is None:
        return False
    session.permanent = True
    session["admin"] = admin["key"]
    session["sid"] = sid
    session["csrf"] = secrets.token_urlsafe(32)
    return True


def sign_out() -> None:
    """End this session on the server, then forget the cookie's contents."""
    key, sid = session.get("admin"), session.get("sid")
    if isinstance(key, str) and isinstance(sid, str):
        sessions.end(storage.get_store(), key, sid)
    session.clear()


def session_digest() -> str | None:
    """Return the stored form of this request's session id (to keep it when others end)."""
    sid = session.get("sid")
    return sessions.digest(sid) if isinstance(sid, str) else None


def current_admin() -> dict | None:
    """Return the signed-in admin's record, or None when the session is absent, ended or
    expired, or its admin deleted."""
    key = session.get("admin")
    if not isinstance(key, str):
        return None
    record = admins.get_admin(key)
    if record is None or not sessions.is_live(record, session.get("sid")):
        return None
    return record


def require_admin():
    """Send every request without a live session to the sign-in page."""
    if request.endpoint == "console.static":
        return None
    admin = current_admin()
    if admin is None and "admin" in session:
        # Signed out elsewhere, expired or deleted: drop the whole session, CSRF secret
        # included, so that a copy of this cookie cannot even post the sign-in form.
        session.clear()
    if request.endpoint in PUBLIC:  # shown without the navigation, signed in or not
        return None
    g.admin = admin
    if admin is not None:
        return None
    target = request.full_path if request.query_string else request.path
    # Only a GET can be replayed after signing in; a POST starts over from the console's home.
    if request.method != "GET":
        target = "/"
    return redirect(url_for("console.auth.sign_in", next=target), code=303)


# --- CSRF ----------------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=CSRF_SALT)


def csrf_token() -> str:
    """Return the token a form carries (creating the session's CSRF secret if needed)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return _serializer().dumps(session["csrf"])


def csrf_valid(sent: str | None) -> bool:
    """Return whether ``sent`` is this session's CSRF token."""
    expected = session.get("csrf")
    if not sent or not isinstance(expected, str):
        return False
    try:
        value = _serializer().loads(sent, max_age=int(SESSION_LIFETIME.total_seconds()))
    except BadSignature:
        return False
    return isinstance(value, str) and hmac.compare_digest(value, expected)


def check_csrf():
    """Refuse every POST whose form does not carry this session's CSRF token."""
    if request.method == "POST" and not csrf_valid(request.form.get(CSRF_FIELD)):
        abort(400, "The form has expired or did not come from this page. Reload it and try again.")
    return None
