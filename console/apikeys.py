"""Settings → API Keys: the keys applications read ``/api/v1/`` with. Create (the key is shown
this once; Roster keeps its digest), list (created, last used) and revoke; the twin of
``flask --app app apikey create|list|revoke``."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

import audit
from console import forms
from storage import get_store
from tokens import apikeys

bp = Blueprint("apikeys", __name__, url_prefix="/settings/api-keys")


def _page(values: dict, errors: dict, new_key: str | None = None, status: int = 200):
    keys = apikeys.keys(get_store())
    page = render_template(
        "apikeys/index.html", keys=keys, values=values, errors=errors, new_key=new_key
    )
    return page, status


@bp.get("")
def index():
    """List API keys, newest first, with the form that creates one."""
    return _page({}, {})


@bp.post("")
def create():
    """Create an API key and show it this once."""
    data, errors = forms.load(forms.ApiKeyForm(), request.form)
    if errors:
        return _page(request.form, errors, status=400)
    with audit.action():
        record, key = apikeys.issue(get_store(), data["name"])
        audit.record("apikey.create", f"apikey:{record['id']}", detail=record["name"])
    return _page({}, {}, new_key=key)


@bp.post("/<key_id>/revoke")
def revoke(key_id: str):
    """Revoke an API key: requests with it are refused from now on."""
    with audit.action():
        record = apikeys.revoke(get_store(), key_id)
        if record is not None:
            audit.record("apikey.revoke", f"apikey:{key_id}", detail=record["name"])
    if record is None:
        audit.record("apikey.revoke", f"apikey:{key_id}", "failure", detail="no such active key")
        abort(404, "There is no active API key with this id. It may have been revoked already.")
    flash(f"Revoked the API key {record['name']}. Applications using it can no longer read Roster.")
    return redirect(url_for(".index"), code=303)
