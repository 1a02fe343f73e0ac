"""``flask --app app webhook …``: the console's Settings → Webhooks as commands, each with
``--json`` and the same audit entries."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup

import audit
import storage
from webhooks import admin, endpoints
from webhooks.delivery import Settings

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


class WebhookGroup(AppGroup):
    """Report a store failure, an unknown endpoint or a refused request in one line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (storage.StoreError, endpoints.NotFound, admin.NothingToDo) as exc:
            raise click.ClickException(str(exc).strip("'\"")) from None


group = WebhookGroup("webhook", help="Manage webhook endpoints and their deliveries.")


def _emit(as_json: bool, data, text: str) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else text)


def _values() -> dict:
    return current_app.config["ROSTER"]


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@group.command("add")
@click.argument("url")
@click.option("--description", default="", help="What the endpoint is for.")
@click.option("--types", default="", help="Event types, comma-separated (default all).")
@click.option("--idp", "idps", multiple=True, help="Only this IdP's events (repeatable).")
@json_option
def add(url: str, description: str, types: str, idps: tuple[str, ...], as_json: bool) -> None:
    """Add an endpoint and print its id and signing secret (shown this once)."""
    wanted = [t.strip() for t in types.split(",") if t.strip()]
    try:
        with audit.action():
            record, secret = endpoints.add(
                storage.get_store(),
                url,
                allow_private=_values()["webhook_allow_private_networks"],
                description=description,
                types=wanted,
                idps=list(idps),
            )
            audit.record("webhook.create", f"webhook:{record['id']}", detail=record["url"])
    except endpoints.BadEndpoint as exc:
        audit.record("webhook.create", "webhook:(none)", "failure", detail=str(exc))
        raise click.ClickException(str(exc)) from None
    data = {**endpoints.public(record), "secret": secret}
    _emit(as_json, data, f"id: {record['id']}\nsecret: {secret}")


@group.command("list")
@json_option
def listing(as_json: bool) -> None:
    """List endpoints (never their secrets)."""
    rows = [endpoints.public(r) for r in endpoints.listing(storage.get_store())]
    if as_json:
        _emit(True, rows, "")
        return
    for r in rows:
        state = "enabled" if r["enabled"] else f"disabled ({r['disabled_reason'] or 'by an admin'})"
        click.echo(f"{r['id']}  {r['url']}  {state}  cursor={r['cursor']}")


def _toggle(endpoint_id: str, enabled: bool, as_json: bool) -> None:
    verb = "enabled" if enabled else "disabled"
    with audit.action():
        record = endpoints.set_enabled(storage.get_store(), endpoint_id, enabled)
        audit.record("webhook.update", f"webhook:{endpoint_id}", detail=verb)
    _emit(as_json, endpoints.public(record), f"{verb} {endpoint_id}")


@group.command("enable")
@click.argument("endpoint_id")
@json_option
def enable(endpoint_id: str, as_json: bool) -> None:
    """Enable an endpoint: delivery resumes where it stopped."""
    _toggle(endpoint_id, True, as_json)


@group.command("disable")
@click.argument("endpoint_id")
@json_option
def disable(endpoint_id: str, as_json: bool) -> None:
    """Disable an endpoint: nothing is sent until it is enabled again."""
    _toggle(endpoint_id, False, as_json)


@group.command("delete")
@click.argument("endpoint_id")
@json_option
def delete(endpoint_id: str, as_json: bool) -> None:
    """Delete an endpoint and its delivery log."""
    with audit.action():
        endpoints.delete(storage.get_store(), endpoint_id)
        audit.record("webhook.delete", f"webhook:{endpoint_id}")
    _emit(as_json, {"deleted": endpoint_id}, f"deleted {endpoint_id}")


@group.command("rotate-secret")
@click.argument("endpoint_id")
@click.option("--grace-hours", type=click.FloatRange(min=0), default=None, help="Default 24.")
@json_option
def rotate_secret(endpoint_id: str, grace_hours: float | None, as_json: bool) -> None:
    """Give an endpoint a new secret (printed once); the old one signs too for a grace period."""
    hours = _values()["webhook_rotation_grace_hours"] if grace_hours is None else grace_hours
    with audit.action():
        record, secret = endpoints.rotate(storage.get_store(), endpoint_id, hours * 3600)
        audit.record("webhook.rotate_secret", f"webhook:{endpoint_id}", detail=f"grace {hours} h")
    data = {**endpoints.public(record), "secret": secret}
    _emit(as_json, data, f"id: {endpoint_id}\nsecret: {secret}")


@group.command("test")
@click.argument("endpoint_id")
@json_option
def send_test(endpoint_id: str, as_json: bool) -> None:
    """Send a signed webhook.test event now and print what the endpoint answered."""
    outcome = admin.send_test(storage.get_store(), endpoint_id, Settings.from_config(_values()))
    audit.record("webhook.test", f"webhook:{endpoint_id}", detail=str(outcome.status))
    data = {"ok": outcome.ok, "status": outcome.status, "error": outcome.error}
    _emit(as_json, data, f"{outcome.status or outcome.error} ({outcome.latency_ms:.0f} ms)")


@group.command("deliveries")
@click.argument("endpoint_id")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
def deliveries(endpoint_id: str, limit: int, as_json: bool) -> None:
    """Show an endpoint's delivery log, newest first."""
    store = storage.get_store()
    endpoints.get(store, endpoint_id)
    rows = admin.deliveries(store, endpoint_id, limit)
    if as_json:
        _emit(True, rows, "")
        return
    for d in rows:
        last = d["attempts"][-1] if d["attempts"] else {}
        answer = last.get("status") or last.get("error") or "-"
        click.echo(
            f"{d['seq']}  {d['type']}  {d['state']}  attempts={len(d['attempts'])}  "
            f"last={answer}  next={_when(d['next_at'])}"
        )


@group.command("redeliver")
@click.argument("endpoint_id")
@click.option("--seq", type=int, help="Redeliver this event.")
@click.option("--failed-since", help="Redeliver every dead-lettered event since this time.")
@json_option
def redeliver(endpoint_id: str, seq: int | None, failed_since: str | None, as_json: bool) -> None:
    """Queue one event, or every failed one since a time, for delivery again."""
    store = storage.get_store()
    if (seq is None) == (failed_since is None):
        raise click.UsageError("give exactly one of --seq and --failed-since")
    since = admin.parse_time(failed_since) if failed_since is not None else None
    with audit.action(store):
        if seq is not None:
            count = admin.redeliver(store, endpoint_id, seq)
        else:
            count = admin.redeliver_failed(store, endpoint_id, since)
        audit.record("webhook.redeliver", f"webhook:{endpoint_id}", detail=f"{count} queued")
    _emit(as_json, {"queued": count}, f"queued {count} deliveries")


@group.command("replay")
@click.argument("endpoint_id")
@click.option("--after-seq", type=click.IntRange(min=0), help="Deliver every event after it.")
@click.option("--since", help="Deliver every event recorded at this time or later.")
@json_option
def replay(endpoint_id: str, after_seq: int | None, since: str | None, as_json: bool) -> None:
    """Deliver the event log again from a seq or a time."""
    if (after_seq is None) == (since is None):
        raise click.UsageError("give exactly one of --after-seq and --since")
    when = admin.parse_time(since) if since is not None else None
    with audit.action():
        cursor = admin.replay(storage.get_store(), endpoint_id, seq=after_seq, since=when)
        audit.record("webhook.replay", f"webhook:{endpoint_id}", detail=f"after seq {cursor}")
    _emit(as_json, {"after": cursor}, f"replaying {endpoint_id} after seq {cursor}")
