"""``flask --app app token generate|list|revoke``: an IdP's SCIM provisioning tokens."""

from __future__ import annotations

import click
from flask import current_app

import audit
import clock
import tokens
from cli.common import StoreGroup, duration, emit, find_idp, json_option, open_store, print_table
from providers import endpoint

token_group = StoreGroup("token", help="Issue and revoke SCIM provisioning tokens.")


@token_group.command("generate")
@click.argument("idp")
@click.option(
    "--keep-old",
    metavar="DURATION",
    callback=duration(min(tokens.GRACE), max(tokens.GRACE)),
    help="Keep the live token working this long (1h, 24h or 7d) instead of revoking it now.",
)
@click.option(
    "--expires-in",
    metavar="DURATION",
    callback=duration(*tokens.LIFETIME),
    help="Make the new token stop working after this long (e.g. 90d); default: never.",
)
@click.option("--label", help="A name to recognise the token by (default: Token N).")
@json_option
def token_generate(idp, keep_old, expires_in, label, as_json: bool) -> None:
    """Issue a new token and print endpoint and token once.

    The previous token is revoked at once, unless --keep-old keeps it working for a grace
    period while the IdP is given the new one."""
    store = open_store()
    idp_record = find_idp(store, idp)
    try:
        with audit.action(store):
            record, token = tokens.rotate(
                store, idp, now=clock.now(), label=label, keep_old=keep_old, expires_in=expires_in
            )
            detail = tokens.describe(idp_record["name"], record, keep_old)
            audit.record("token.generate", f"idp:{idp}", detail=detail)
    except tokens.TokenError as exc:
        audit.record("token.generate", f"idp:{idp}", "failure", detail=str(exc))
        raise click.ClickException(str(exc)) from None
    data = {
        "endpoint": endpoint(current_app.config["ROSTER"], idp),
        "token": token,
        **_token_row(record, clock.now()),
    }
    emit(as_json, data, f"endpoint: {data['endpoint']}\ntoken: {data['token']}")


def _token_row(record: dict, now) -> dict:
    """A token as ``token list`` shows it: never its plaintext, nor its digest."""
    return {
        "id": tokens.public_id(record),
        "label": record.get("label") or "",
        "prefix": record["prefix"],
        "created": record["created"],
        "last_used": record["last_used"],
        "expires": record.get("expires"),
        "revoked": record["revoked"],
        "state": tokens.status(record, now),
    }


@token_group.command("list")
@click.argument("idp")
@json_option
def token_list(idp: str, as_json: bool) -> None:
    """List the IdP's tokens, newest first, with their state and last use."""
    store = open_store()
    find_idp(store, idp)
    now = clock.now()
    rows = [_token_row(r, now) for r in tokens.tokens_of(store, idp)]
    if as_json:
        emit(True, rows, "")
        return
    if not rows:
        click.echo(f"no tokens for {idp} (see 'token generate')")
        return
    header = ("ID", "LABEL", "PREFIX", "STATE", "CREATED", "LAST USED", "EXPIRES")
    print_table(
        header,
        [
            (r["id"], r["label"], r["prefix"] + "…", r["state"], r["created"],
             r["last_used"] or "never", r["expires"] or "never")
            for r in rows
        ],
    )  # fmt: skip
    for warning in tokens.warnings(tokens.tokens_of(store, idp), now):
        click.echo(f"warning: {warning}")


@token_group.command("revoke")
@click.argument("idp")
@click.argument("token_id", required=False)
@json_option
def token_revoke(idp: str, token_id: str | None, as_json: bool) -> None:
    """Revoke the IdP's token TOKEN_ID (see 'token list'), or every live one without it:
    SCIM requests with it are refused from now on."""
    store = open_store()
    idp_record = find_idp(store, idp)
    what = f"token {token_id}" if token_id else "every live token"
    with audit.action(store):
        count = tokens.revoke(store, idp, token_id, now=clock.now())
        if count or token_id is None:
            detail = f"{idp_record['name']}: {what}, {count} revoked"
            audit.record("token.revoke", f"idp:{idp}", detail=detail)
    if token_id is not None and not count:
        audit.record("token.revoke", f"idp:{idp}", "failure", detail=f"no live {what}")
        raise click.ClickException(
            f"{idp} has no live token with id {token_id!r} (see 'token list {idp}')"
        )
    emit(as_json, {"idp": idp, "revoked": count}, f"revoked {count} token(s) of {idp}")
