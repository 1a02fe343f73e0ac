"""Where the console may send a browser: the ``next`` page after sign-in, and every Location.

Two ways a redirect could leave the site:

- ``/sign-in?next=…`` went back to anything that looked like a path. But a browser removes
  tabs and newlines from a URL and reads ``\\`` as ``/`` (the WHATWG URL standard), and so
  does werkzeug on its way out, so ``/<tab>/evil.example`` arrived as ``//evil.example``:
  another site. ``safe_next`` accepts only a plain path of this site, checking the path's
  percent-decoded forms too, and anything else goes to the console's home.
- werkzeug writes the Location of its own redirects (``/settings//x`` → ``/settings/x``) as
  an absolute URL built from the request's ``Host``, which the client chooses.
  ``same_site_location`` rewrites every redirect to ``public_url`` when it is set, else to a
  bare path, which a browser resolves against the address it actually asked.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit, urlunsplit

from flask import Response, current_app, request
from werkzeug.urls import iri_to_uri

MAX_NEXT = 2048
# Percent-encoding peeled off by the browser, a proxy or a second redirect: a path Roster
# makes itself is never encoded more than twice.
MAX_LAYERS = 3


def _suspicious(text: str) -> bool:
    # Controls, format characters and every kind of space or line break (Unicode categories
    # C* and Z*): browsers strip or trim some of them, and none is in a path Roster links to.
    return "\\" in text or any(unicodedata.category(char)[0] in "CZ" for char in text)


def safe_next(value: object) -> str | None:
    """Return ``value`` if it is a path of this site that stays one in a browser, else None."""
    if not isinstance(value, str) or len(value) > MAX_NEXT:
        return None
    if not value.startswith("/") or _suspicious(value):
        return None
    path = value.split("?", 1)[0].split("#", 1)[0]
    for _ in range(MAX_LAYERS):
        # "//host" is a link to another site; "/%2F/host" one decoding away from it.
        if "//" in path or _suspicious(path):
            return None
        decoded = unquote(path)
        if decoded == path:
            return value
        path = decoded
    return None


def same_site_location(response: Response) -> Response:
    """Point a redirect at this site: at ``public_url`` when it is set, else at a bare path."""
    location = response.headers.get("Location")
    if location is None or not 300 <= response.status_code < 400:
        return response
    # As the response would be sent: iri_to_uri quotes, and drops tabs and newlines.
    parts = urlsplit(iri_to_uri(location))
    path = "/" + parts.path.lstrip("/")  # never "//host"
    public = current_app.config["ROSTER"]["public_url"]
    if public:
        # public_url is the address of the app's root, any proxy prefix included.
        root = request.script_root
        if root and (path == root or path.startswith(root + "/")):
            path = path[len(root) :] or "/"
        base = urlsplit(public.rstrip("/"))
        parts = (base.scheme, base.netloc, base.path + path, parts.query, parts.fragment)
    else:
        parts = ("", "", path, parts.query, parts.fragment)
    response.headers["Location"] = urlunsplit(parts)
    return response
