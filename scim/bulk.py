"""``/Bulk`` (RFC 7644 §3.7): many operations on Users and Groups in one request.

Each operation is carried out on its own, atomically, by the very functions the single-resource
views use (``scim.resources``), and is recorded in the request log as the single request it
stands for. ``scim.core.bulkrequest`` reads the message, ``scim.core.bulkorder`` decides the order.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from flask import Blueprint, current_app, g

from lifecycle import kept
from monitoring.requestid import source
from scim import groups, requestlog, resources, users
from scim.core.bulkorder import Schedule, Step
from scim.core.bulkrequest import BULK_RESPONSE, BulkJob, Operation, load_bulk
from scim.core.errors import InternalError, InvalidValue, ScimError, ServiceUnavailable
from scim.http import error_body, read_json, scim_error_for, scim_response
from storage import StoreError, get_store

bp = Blueprint("bulk", __name__)
log = logging.getLogger(__name__)

KINDS = {"/Users": users.KIND, "/Groups": groups.KIND}
STATUS = {"POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}
NOT_DURABLE = (
    "The operations were carried out, but the store failed to save them to disk: some or all "
    "may be lost. Read the resources before retrying."
)


@dataclass
class Outcome:
    """How one step went: the resource it left (None for a DELETE, or on failure), the error."""

    resource: dict | None = None
    error: ScimError | None = None


@bp.post("/Bulk")
def bulk():
    """Carry out a BulkRequest's operations and answer a BulkResponse (RFC 7644 §3.7)."""
    limit = current_app.config["ROSTER"]["bulk_max_operations"]
    job = load_bulk(read_json(), max_operations=limit)
    try:
        # Each operation is atomic and visible as it is done; all are made durable together
        # before the one answer (one fsync or WAL flush, not one per operation).
        with get_store().batch():
            answers = run(job)
    except StoreError as exc:  # they were carried out, but making them durable failed
        log.error("bulk request not made durable: %s", exc)
        raise ServiceUnavailable(NOT_DURABLE) from exc
    body = {"schemas": [BULK_RESPONSE], "Operations": [answers[i] for i in sorted(answers)]}
    # RFC 7644 §3.7: 200 when the job was processed, whatever its operations' statuses.
    return scim_response(body)


def run(job: BulkJob) -> dict[int, dict]:
    """Carry out ``job``; return each processed operation's answer by its index."""
    g.adoptable = kept.Adoptable(get_store(), g.idp)  # read once for the request's POSTs
    schedule = Schedule(job.operations)
    answers: dict[int, dict] = {}
    errors = 0
    while (step := schedule.next()) is not None:
        outcome = _carry_out(step)
        schedule.settle(step, _created(step, outcome))
        if step.action == "break" and outcome.error is None:
            continue  # answered once it is complete
        answers[step.operation.index] = _answer(step, outcome)
        errors += outcome.error is not None
        # RFC 7644 §3.7: "failOnErrors" errors end the job. A server-side failure (the store
        # unavailable or full) ends it too: every operation after it would fail alike.
        if outcome.error is not None and outcome.error.status >= 500:
            break
        if job.fail_on_errors is not None and errors >= job.fail_on_errors:
            break
    for step in schedule.abandon():
        answers[step.operation.index] = _answer(step, _carry_out(step))
    return answers


def _created(step: Step, outcome: Outcome) -> str | None:
    if outcome.error is not None or outcome.resource is None:
        return None
    return outcome.resource["id"]


def _carry_out(step: Step) -> Outcome:
    """Do what ``step`` says; a completion that fails deletes what its break created."""
    if step.action == "fail":
        _record(step.operation, step.operation.method, step.target, step.operation.data, step.error)
        return Outcome(error=step.error)
    if step.action == "undo":
        _call(step, "DELETE", None)
        return Outcome(error=step.error)
    if step.action == "complete":
        outcome = _call(step, "PUT", step.data)
        if outcome.error is not None:
            _call(step, "DELETE", None)
        return outcome
    method = "POST" if step.action == "break" else step.operation.method
    return _call(step, method, step.data)


def _call(step: Step, method: str, data: object) -> Outcome:
    """Carry out one single-resource request through ``scim.resources``, and log it."""
    op, started = step.operation, time.perf_counter()
    kind = KINDS[op.endpoint]
    version = resources.required_version(op.version) if step.action == "run" else None
    # The change events of an operation name it, not the /Bulk request, as their source.
    path = op.endpoint if method == "POST" else f"{op.endpoint}/{step.target}"
    origin = {**source(), "method": method, "path": f"/scim/v2/{g.idp}{path}"}
    try:
        if method == "POST":
            outcome = Outcome(resources.create_one(kind, data, origin))
        elif method == "PUT":
            outcome = Outcome(resources.replace_one(kind, step.target, data, version, origin))
        elif method == "PATCH":
            outcome = Outcome(resources.patch_one(kind, step.target, data, version, origin))
        else:
            resources.delete_one(kind, step.target, version, origin)
            outcome = Outcome()
    except ScimError as exc:
        outcome = Outcome(error=exc)
    except StoreError as exc:
        outcome = Outcome(error=scim_error_for(exc))
    except RecursionError:
        outcome = Outcome(error=InvalidValue("The operation's data is nested too deeply."))
    except Exception:  # the job goes on; the operator reads the traceback, the client never
        log.exception("bulk operation %s %s failed", method, op.path)
        outcome = Outcome(error=InternalError())
    if method != "POST":  # a deletion (or a change) may leave a user the IdP can give back
        g.adoptable.forget()
    target = outcome.resource["id"] if outcome.resource is not None else step.target
    _record(op, method, target, data, outcome.error, started)
    return outcome


def _record(
    op: Operation,
    method: object,
    target: str | None,
    data: object,
    error: ScimError | None,
    started: float | None = None,
) -> None:
    """Log the single request an operation's step stands for: POST /Users, PUT /Users/{id}."""
    status = error.status if error is not None else STATUS.get(str(method), 200)
    kind = KINDS[op.endpoint].rtype.name if op.endpoint in KINDS else None
    if kind is None or (target is None and method != "POST"):
        path = op.path if isinstance(op.path, str) else ""
    else:
        path = op.endpoint if method == "POST" else f"{op.endpoint}/{target}"
    # As for a single request: the resource a request names, or the one a POST created.
    named = target if method != "POST" or error is None else None
    requestlog.record_operation(
        str(method),
        path,
        status,
        time.perf_counter() if started is None else started,
        resource=f"{kind} {named}" if kind and named else None,
        request_body=data,
        response_body=error_body(error) if error is not None else None,
    )


def _answer(step: Step, outcome: Outcome) -> dict:
    """The operation's entry in the BulkResponse (RFC 7644 §3.7.3)."""
    op = step.operation
    # RFC 7644 §3.7.3: "method" is REQUIRED in every answer, a string. An operation refused for
    # its method gets back what it sent (as text if it was no string), to tell it apart.
    method = op.method if isinstance(op.method, str) else json.dumps(op.method)
    answer: dict = {"method": method}
    if op.bulk_id is not None:
        answer["bulkId"] = op.bulk_id  # RFC 7644 §3.7: "MUST return the same bulkId"
    target = outcome.resource["id"] if outcome.resource is not None else step.target
    failed_post = op.method == "POST" and outcome.error is not None
    # RFC 7644 §3.7.3: a location for every operation but a failed POST; a path that names no
    # resource (yet) is given back as it was sent.
    if target is not None and op.endpoint in KINDS and not failed_post:
        answer["location"] = resources.location(KINDS[op.endpoint], target)
    elif not failed_post and isinstance(op.path, str):
        answer["location"] = f"{resources.base_url()}/{op.path.lstrip('/')}"
    if outcome.resource is not None:
        answer["version"] = outcome.resource["meta"]["version"]
    if outcome.error is not None:
        # RFC 7644 §3.7: a status that is not 2xx comes with the error body (§3.12).
        answer["status"] = str(outcome.error.status)
        answer["response"] = error_body(outcome.error)
    else:
        status = 201 if op.method == "POST" else STATUS[op.method]
        answer["status"] = str(status)
    return answer
