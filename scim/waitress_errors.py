"""Waitress's own refusals, answered as SCIM error bodies on SCIM paths.

Waitress answers some requests itself, before Roster sees them: 413 when a body is over
``max_request_body_size`` (refused from its Content-Length, or as the chunks arrive, so the
body is never read in full), 400 for broken framing, 431 for headers too large and 501 for an
unknown Transfer-Encoding. Its answers are plain text; RFC 7644 §3.12 asks SCIM clients to be
answered with an error body, so on ``/scim/`` paths this task writes one instead.
"""

from __future__ import annotations

import json

from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from scim.core import errors


def _is_scim(path: str) -> bool:
    return path.lstrip("/").split("/", 1)[0] == "scim"


class ScimErrorTask(ErrorTask):
    """Waitress's error response, with a SCIM body where the request was for a SCIM path."""

    def execute(self):
        error = self.request.error
        if not _is_scim(getattr(self.request, "path", "") or ""):
            return super().execute()
        if error.code == 413:
            scim = errors.PayloadTooLarge()
        else:
            scim = errors.ScimError(f"{error.reason}: {error.body.rstrip('.')}.")
            scim.status = error.code
        body = json.dumps(scim.to_dict()).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/scim+json; charset=utf-8"))
        self.set_close_on_finish()  # the rest of the connection cannot be trusted to frame
        self.content_length = len(body)
        self.write(body)


class ScimChannel(HTTPChannel):
    """A waitress channel whose own error responses are SCIM error bodies on SCIM paths."""

    error_task_class = ScimErrorTask
