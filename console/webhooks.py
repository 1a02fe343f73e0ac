"""Settings → Webhooks: endpoints (add with a description, event types and IdPs; enable,
disable, rotate the secret, delete, send a test event), each endpoint's delivery log with
Redeliver, Redeliver all failed since…, and Replay from a time or seq. The twin of
``flask --app app webhook …``; both leave the same audit entries. A banner on every page names
an endpoint Roster disabled until an admin opens it."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

import audit
from scim.core.events import TYPES
from storage import get_store
from webhooks import admin, endpoints
from webhooks.delivery import Settings

bp = Blueprint("webhooks", __name__, url_prefix="/settings/webhooks")


@bp.record_once
def _register(state) -> None:
    state.app.add_template_global(alerts, "webhook_alerts")
    state.app.add_template_filter(iso, "epoch_iso")


def alerts() -> list[dict]:
    """The endpoints Roster disabled that no admin has opened since (the banner)."""
    try:
        found = get_store().records(
            endpoints.TABLE,
            lambda r: r["disabled_reason"] and not r.get("noticed") and not r["enabled"],
        )
    except Exception:  # a store outage shows its own page; the banner is not worth a 500
        return []
    return found


def iso(seconds: float | None) -> str | None:
    """RFC 3339 UTC for an epoch time (the ``time`` macro shows it)."""
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def _settings() -> Settings:
    return Settings.from_config(current_app.config["ROSTER"])


def _get(endpoint_id: str) -> dict:
    try:
        return endpoints.get(get_store(), endpoint_id)
    except endpoints.NotFound:
        abort(404, "There is no webhook with this id. It may have been deleted.")


def _page(values: dict, errors: dict, secret: str | None = None, status: int = 200):
    store = get_store()
    page = render_template(
        "webhooks/index.html",
        hooks=endpoints.listing(store),
        idps=sorted(store.records("idps"), key=lambda r: r["name"]),
        types=sorted(TYPES),
        values=values,
        errors=errors,
        secret=secret,
    )
    return page, status


@bp.get("")
def index():
    """List webhook endpoints with the form that adds one."""
    return _page({}, {})


@bp.post("")
def create():
    """Add an endpoint and show its signing secret this once."""
    try:
        with audit.action():
            record, secret = endpoints.add(
                get_store(),
                request.form.get("url", ""),
                allow_private=_settings().allow_private,
                description=request.form.get("description", ""),
                types=request.form.getlist("types"),
                idps=request.form.getlist("idps"),
            )
            audit.record("webhook.create", f"webhook:{record['id']}", detail=record["url"])
    except endpoints.BadEndpoint as exc:
        audit.record("webhook.create", "webhook:(none)", "failure", detail=str(exc))
        return _page(request.form, {"url": str(exc)}, status=400)
    return _page({}, {}, secret=secret)


@bp.get("/<endpoint_id>")
def show(endpoint_id: str):
    """Show one endpoint and its delivery log, newest first."""
    record = _get(endpoint_id)
    if record["disabled_reason"] and not record.get("noticed"):
        record = endpoints.acknowledge(get_store(), endpoint_id)
    log = admin.deliveries(get_store(), endpoint_id, limit=200)
    return render_template("webhooks/show.html", hook=record, log=log, secret=None)


def _done(endpoint_id: str, message: str):
    flash(message)
    return redirect(url_for(".show", endpoint_id=endpoint_id), code=303)


@bp.post("/<endpoint_id>/enabled")
def set_enabled(endpoint_id: str):
    """Enable or disable an endpoint."""
    _get(endpoint_id)
    enabled = request.form.get("enabled") == "1"
    verb = "enabled" if enabled else "disabled"
    with audit.action():
        endpoints.set_enabled(get_store(), endpoint_id, enabled)
        audit.record("webhook.update", f"webhook:{endpoint_id}", detail=verb)
    return _done(endpoint_id, f"The webhook is {verb}.")


@bp.post("/<endpoint_id>/test")
def send_test(endpoint_id: str):
    """Send a signed webhook.test event now and say what the endpoint answered."""
    _get(endpoint_id)
    outcome = admin.send_test(get_store(), endpoint_id, _settings())
    audit.record("webhook.test", f"webhook:{endpoint_id}", detail=str(outcome.status))
    answer = outcome.status or outcome.error
    verdict = "succeeded" if outcome.ok else "failed"
    return _done(endpoint_id, f"The test event {verdict}: {answer} in {outcome.latency_ms:.0f} ms.")


@bp.post("/<endpoint_id>/rotate")
def rotate(endpoint_id: str):
    """Give the endpoint a new secret, shown this once; the old one signs for a grace period."""
    _get(endpoint_id)
    hours = current_app.config["ROSTER"]["webhook_rotation_grace_hours"]
    with audit.action():
        record, secret = endpoints.rotate(get_store(), endpoint_id, hours * 3600)
        audit.record("webhook.rotate_secret", f"webhook:{endpoint_id}", detail=f"grace {hours} h")
    log = admin.deliveries(get_store(), endpoint_id, limit=200)
    return render_template(
        "webhooks/show.html", hook=record, log=log, secret=secret, grace_hours=hours
    )


@bp.post("/<endpoint_id>/delete")
def delete(endpoint_id: str):
    """Delete an endpoint and its delivery log."""
    record = _get(endpoint_id)
    with audit.action():
        endpoints.delete(get_store(), endpoint_id)
        audit.record("webhook.delete", f"webhook:{endpoint_id}", detail=record["url"])
    flash(f"Deleted the webhook to {record['url']}.")
    return redirect(url_for(".index"), code=303)


@bp.post("/<endpoint_id>/redeliver")
def redeliver(endpoint_id: str):
    """Queue one event, or every dead-lettered one since a time, for delivery again."""
    _get(endpoint_id)
    try:
        with audit.action():
            if request.form.get("seq"):
                count = admin.redeliver(get_store(), endpoint_id, _whole(request.form["seq"]))
            else:
                since = admin.parse_time(request.form.get("since", ""))
                count = admin.redeliver_failed(get_store(), endpoint_id, since)
            audit.record("webhook.redeliver", f"webhook:{endpoint_id}", detail=f"{count} queued")
    except admin.NothingToDo as exc:
        abort(400, str(exc))
    return _done(endpoint_id, f"Queued {count} deliveries.")


@bp.post("/<endpoint_id>/replay")
def replay(endpoint_id: str):
    """Deliver the event log again from a seq or a time."""
    _get(endpoint_id)
    try:
        with audit.action():
            if request.form.get("after_seq"):
                seq = _whole(request.form["after_seq"])
                after = admin.replay(get_store(), endpoint_id, seq=seq)
            else:
                since = admin.parse_time(request.form.get("since", ""))
                after = admin.replay(get_store(), endpoint_id, since=since)
            audit.record("webhook.replay", f"webhook:{endpoint_id}", detail=f"after seq {after}")
    except admin.NothingToDo as exc:
        abort(400, str(exc))
    return _done(endpoint_id, f"Replaying every event after seq {after}.")


def _whole(text: str) -> int:
    if not text.strip().isdigit():
        raise admin.NothingToDo(f"{text!r} is not a seq (a whole number)")
    return int(text)
