"""Signing as plain functions, verified by the Standard Webhooks reference library."""

from __future__ import annotations

import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from webhooks import signing, urls

EVENT = {
    "id": "6f1c0b8e-0000-4000-8000-000000000001",
    "seq": 7,
    "type": "user.created",
    "occurred_at": "2026-12-04T10:00:00.000Z",
    "resource": {"type": "user", "id": "u1"},
    "data": {"id": "u1", "username": "ann@example.com", "name": "Ann Émile"},
}


def signed(secrets: list[str]) -> tuple[bytes, dict]:
    payload = signing.body(EVENT)
    return payload, signing.headers(secrets, EVENT["id"], int(time.time()), payload)


def test_a_delivery_verifies_with_the_reference_library():
    secret = signing.new_secret()
    payload, headers = signed([secret])
    assert Webhook(secret).verify(payload, headers) == {
        "type": "user.created",
        "timestamp": EVENT["occurred_at"],
        "data": EVENT,
    }
    assert headers["webhook-id"] == EVENT["id"]


def test_another_secret_or_another_body_does_not_verify():
    payload, headers = signed([signing.new_secret()])
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(payload, headers)
    secret = signing.new_secret()
    payload, headers = signed([secret])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(payload.replace(b"ann", b"bob"), headers)


def test_during_a_rotation_either_secret_verifies():
    old, new = signing.new_secret(), signing.new_secret()
    payload, headers = signed([new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(payload, headers)


def test_a_secret_is_whsec_and_24_random_bytes():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(signing.key_of(secret)) == 24
    assert secret != signing.new_secret()


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "http:///nohost", "javascript:alert(1)"],
)
def test_only_http_and_https_urls(url):
    with pytest.raises(urls.UnsafeURL):
        urls.check(url, allow_private=True)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/x", "http://[::1]/x", "http://169.254.169.254/", "http://10.1.2.3/"]
)
def test_private_addresses_are_refused_naming_the_setting(url):
    with pytest.raises(urls.UnsafeURL, match=r"\[webhooks\] allow_private_networks = true"):
        urls.check(url, allow_private=False)
    assert urls.check(url, allow_private=True)
