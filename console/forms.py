"""The console's forms, validated at the edge with marshmallow like every SCIM write.

``load(schema, form)`` returns ``(data, errors)``: errors map a field name to the one message
the page shows beside it. Values are stripped of surrounding spaces before validation.
"""

from __future__ import annotations

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from providers import KINDS
from tokens import apikeys

REQUIRED = {"required": "This field is required."}


class _Form(Schema):
    class Meta:
        unknown = EXCLUDE  # the CSRF token and the submit button

    keep_spaces: tuple[str, ...] = ()

    @pre_load
    def _strip(self, data, **kwargs):
        return {
            k: v.strip() if isinstance(v, str) and k not in self.keep_spaces else v
            for k, v in data.items()
        }


def _text(max_length: int, what: str) -> fields.String:
    return fields.String(
        required=True,
        validate=validate.Length(min=1, max=max_length, error=f"Enter {what}."),
        error_messages=REQUIRED,
    )


class SignInForm(_Form):
    keep_spaces = ("password",)
    username = _text(64, "your username")
    password = _text(1024, "your password")


class SetupForm(_Form):
    keep_spaces = ("password", "confirm")
    username = _text(64, "a username")
    password = _text(1024, "a password")
    confirm = _text(1024, "the password again")

    @validates_schema
    def _same_password(self, data, **kwargs):
        if data.get("password") != data.get("confirm"):
            raise ValidationError("The two passwords differ.", "confirm")


def _password(what: str) -> fields.String:
    return fields.String(
        required=True,
        validate=[
            validate.Length(min=1, error=f"Enter {what}."),
            validate.Length(max=1024, error="A password is at most 1024 characters."),
        ],
        error_messages=REQUIRED,
    )


class PasswordForm(_Form):
    keep_spaces = ("current", "password", "confirm")
    current = _password("your current password")
    password = _password("a new password")
    confirm = _password("the new password again")

    @validates_schema
    def _checks(self, data, **kwargs):
        if data.get("password") != data.get("confirm"):
            raise ValidationError("The two new passwords differ.", "confirm")
        if data.get("password") == data.get("current"):
            raise ValidationError("The new password is your current one.", "password")


class IdpForm(_Form):
    name = _text(100, "a name of at most 100 characters")
    kind = fields.String(
        required=True,
        validate=validate.OneOf(list(KINDS), error="Choose the kind of identity provider."),
        error_messages=REQUIRED,
    )


def _key_name(value: str) -> None:
    try:
        apikeys.check_name(value)
    except apikeys.BadName as exc:
        raise ValidationError(str(exc)) from None


class ApiKeyForm(_Form):
    name = fields.String(required=True, validate=_key_name, error_messages=REQUIRED)


def load(schema: Schema, form) -> tuple[dict, dict[str, str]]:
    """Return ``(data, errors)`` for a submitted form; ``errors`` has one message per field."""
    try:
        return schema.load(form.to_dict()), {}
    except ValidationError as exc:
        messages = exc.normalized_messages()
        return {}, {field: problems[0] for field, problems in messages.items()}


# What the console offers for a new token's lifetime and the old token's grace period (the
# CLI accepts the same grace periods, and any lifetime tokens.LIFETIME allows).
EXPIRY_CHOICES = {
    "": "Never",
    "30d": "30 days",
    "90d": "90 days",
    "180d": "180 days",
    "365d": "1 year",
}
OLD_TOKEN_CHOICES = {
    "revoke": "Revoke it now",
    "1h": "Keep it working for 1 hour",
    "24h": "Keep it working for 24 hours",
    "7d": "Keep it working for 7 days",
}


class TokenForm(_Form):
    label = fields.String(
        load_default="",
        validate=[
            validate.Length(max=100, error="Enter a label of at most 100 characters."),
            validate.Regexp(
                r"^[^\x00-\x1f\x7f]*$", error="A label cannot hold control characters."
            ),
        ],
    )
    expires = fields.String(
        load_default="",
        validate=validate.OneOf(list(EXPIRY_CHOICES), error="Choose when the token expires."),
    )
    old = fields.String(
        load_default="",
        validate=validate.OneOf(
            ["", *OLD_TOKEN_CHOICES], error="Choose what happens to the current token."
        ),
    )
