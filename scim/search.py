"""Queries across every resource type at the tenant root (RFC 7644 §3.4.2.1, §3.4.3)."""

from __future__ import annotations

from flask import Blueprint

from scim import groups, resources, users

bp = Blueprint("search", __name__)


@bp.get("")
def list_all():
    """List or filter Users and Groups together."""
    return resources.list_get([users.KIND, groups.KIND])


@bp.post("/.search")
def search():
    """Search Users and Groups together with a SearchRequest body."""
    return resources.list_post([users.KIND, groups.KIND])
