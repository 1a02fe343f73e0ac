"""The query parameters of the application API, validated at the edge with marshmallow.

``parse(schema)`` returns the loaded parameters or raises a 400 problem whose ``parameter``
member names the one at fault: a parameter the endpoint does not take, one given twice, or a
value out of its range. Values are checked here; whether an id names something is checked
where the store is read.
"""

from __future__ import annotations

from flask import request
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from appapi import paging
from appapi.problems import Problem

TEXT_MAX = 256


class Cursor(fields.String):
    """A cursor of one list (``appapi.paging``), loaded as the key it continues after."""

    def __init__(self, list_name: str, **kwargs):
        super().__init__(**kwargs)
        self.list_name = list_name

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return paging.decode(self.list_name, text)
        except paging.BadCursor as exc:
            raise ValidationError(str(exc)) from None


def text(what: str) -> fields.String:
    """A non-empty string parameter of at most ``TEXT_MAX`` characters."""
    return fields.String(
        validate=validate.Length(
            min=1, max=TEXT_MAX, error=f"give {what} of 1 to {TEXT_MAX} characters."
        )
    )


class Page(Schema):
    """The parameters of every paged list."""

    class Meta:
        # A misspelt filter (``activ=false``) must not quietly answer everything.
        unknown = RAISE

    limit = fields.Integer(
        load_default=paging.LIMIT_DEFAULT,
        validate=validate.Range(
            min=1, max=paging.LIMIT_MAX, error=f"give a number from 1 to {paging.LIMIT_MAX}."
        ),
        error_messages={"invalid": f"give a number from 1 to {paging.LIMIT_MAX}."},
    )


class Plain(Schema):
    """No parameters at all (a list that is not paged)."""

    class Meta:
        unknown = RAISE


def parse(schema: Schema) -> dict:
    """Return the request's query parameters as ``schema`` loads them, or raise a 400 problem
    naming the parameter at fault."""
    args = request.args
    for name in args:
        if len(args.getlist(name)) > 1:
            raise Problem(400, f"{name}: give this parameter at most once.", parameter=name)
    try:
        return schema.load(args.to_dict())
    except ValidationError as exc:
        name, messages = next(iter(sorted(exc.normalized_messages().items())))
        message = messages[0] if isinstance(messages, list) else str(messages)
        if message == "Unknown field.":
            message = "this endpoint takes no such parameter."
        raise Problem(400, f"{name}: {message}", parameter=name) from None
