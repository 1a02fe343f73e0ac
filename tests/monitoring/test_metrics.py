"""``GET /metrics``: off by default; when on, only for allowed addresses (the real peer or the
one a trusted proxy forwards) or the metrics token; parsed with prometheus_client's own parser
after a replayed Okta session, every counter equals what was sent."""

from __future__ import annotations

import hashlib
import time
from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

import config
import storage
from app import create_app
from tests.conftest import backend_config
from tests.idps import IdP, test_okta

TOKEN = "metrics-token-for-prometheus-0123456789"
OKTA = test_okta.TestOkta  # its replays, run here; not collected again
KINDS = {"Users": "User", "Groups": "Group", ".search": "search"}


@pytest.fixture
def app(request, backend, tmp_path):
    """The app with metrics on: for 127.0.0.1 and with ``TOKEN``, behind a proxy at 10.0.0.1."""
    overrides = {
        "enabled": True,
        "allow": ["127.0.0.1/32"],
        "token": TOKEN,
        "trusted_proxies": ["10.0.0.1"],
        "auth_failures_per_minute": 3,
    }
    app = create_app({**backend_config(request, backend, tmp_path), **overrides})
    app.config["TESTING"] = True
    yield app
    storage.close_store(app)


def scrape(client, **kwargs) -> dict[tuple, float]:
    """Return every sample of ``/metrics`` as {(name, sorted labels): value}."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def picked(samples: dict, name: str) -> dict[tuple, float]:
    return {labels: value for (found, labels), value in samples.items() if found == name}


class Tallied(IdP):
    """An Okta tenant that counts what it sends: (method, resource type, status)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.sent: Counter = Counter()

    def request(self, method, path, body=None, headers=None, **kwargs):
        response = super().request(method, path, body, headers, **kwargs)
        kind = KINDS.get(path.split("?")[0].strip("/").split("/")[0], "other")
        self.sent[(method, kind, str(response.status_code))] += 1
        return response


@pytest.fixture
def okta(client, store):
    return Tallied(client, store, OKTA.NAME, OKTA.KIND, OKTA.HEADERS, "application/json")


def test_metrics_are_off_by_default(tmp_path):
    app = create_app({"data_dir": str(tmp_path / "data"), "secret_key": "x"})
    try:
        assert app.test_client().get("/metrics").status_code == 404
    finally:
        storage.close_store(app)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"enabled": True}, "metrics.enabled needs metrics.allow or metrics.token"),
        ({"allow": ["not-a-network"]}, "is not an IP address"),
        ({"token": "short"}, "at least 24 characters"),
    ],
)
def test_bad_metrics_settings_are_refused(overrides, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(None, overrides)


def test_counters_equal_a_replayed_okta_session(client, okta, store):
    replay = OKTA()
    started = time.time()
    replay.test_lookup_create_and_upper_cased_lookup(okta)
    replay.test_missing_user_is_404_with_string_status(okta)
    replay.test_group_push_rename_and_membership(okta)
    failures = [okta.get("/Users", headers={"Authorization": "Bearer wrong"}) for _ in range(4)]
    assert [r.status_code for r in failures] == [401, 401, 401, 429]

    samples = scrape(client)
    counted = picked(samples, "roster_scim_requests_total")
    expected = {}
    for (method, kind, status), n in okta.sent.items():
        idp = "unauthenticated" if status in ("401", "429") else okta.id
        labels = (("idp", idp), ("method", method), ("resource_type", kind), ("status", status))
        expected[labels] = expected.get(labels, 0) + n
    assert counted == expected
    timed = picked(samples, "roster_scim_request_duration_seconds_count")
    assert sum(timed.values()) == sum(okta.sent.values())
    assert picked(samples, "roster_auth_failures_total") == {(("surface", "scim"),): 3}
    assert picked(samples, "roster_throttled_total") == {(("surface", "scim"),): 1}
    idp = (("idp", okta.id),)
    assert picked(samples, "roster_idp_users")[idp] == store.count("User", okta.id)
    assert picked(samples, "roster_idp_groups")[idp] == store.count("Group", okta.id)
    last = picked(samples, "roster_idp_last_success_timestamp_seconds")[idp]
    assert started <= last <= time.time()
    assert samples[("roster_store_up", ())] == 1
    assert ("process_open_fds", ()) in samples
    # The replay's writes recorded change events: the feed's position is the store's.
    assert samples[("roster_events_last_seq", ())] == store.last_seq() > 0


def test_the_last_success_survives_a_restart_through_the_request_log(app, okta):
    okta.get("/Users")
    storage.close_store(app)
    reopened = create_app(app.config["ROSTER"] | {"secret_key": "test-secret"})
    try:
        samples = scrape(reopened.test_client())
        assert picked(samples, "roster_idp_last_success_timestamp_seconds")[(("idp", okta.id),)]
    finally:
        storage.close_store(reopened)


@pytest.mark.backends("tinydb")
def test_the_embedded_store_reports_its_journal_and_compactions(client, store, okta):
    okta.create_user("ann@example.com")
    store.compact()
    samples = scrape(client)
    assert samples[("roster_store_compactions_total", ())] == 1
    assert samples[("roster_store_compaction_failures_total", ())] == 0
    assert samples[("roster_store_journal_bytes", ())] == store.stats()["journal_bytes"]


@pytest.mark.parametrize(
    "peer, forwarded, authorization, status",
    [
        ("127.0.0.1", None, None, 200),  # in [metrics] allow
        ("192.0.2.8", None, None, 403),
        ("192.0.2.8", None, f"Bearer {TOKEN}", 200),
        ("192.0.2.8", None, f"bearer {TOKEN}", 200),
        ("192.0.2.8", None, f"Bearer {TOKEN}x", 403),
        ("192.0.2.8", None, "Basic " + TOKEN, 403),
        ("192.0.2.8", "127.0.0.1", None, 403),  # an untrusted peer cannot claim an address
        ("10.0.0.1", "127.0.0.1", None, 200),  # the trusted proxy forwards an allowed client
        ("10.0.0.1", "192.0.2.8", None, 403),  # … or one that is not
    ],
)
def test_only_allowed_addresses_and_the_token_get_the_metrics(
    client, peer, forwarded, authorization, status
):
    headers = {}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    if authorization:
        headers["Authorization"] = authorization
    response = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": peer})
    assert response.status_code == status
    if status == 403:
        assert b"roster_" not in response.data


def test_a_token_given_as_its_digest_works(tmp_path):
    digest = "sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest()
    app = create_app(
        {"data_dir": str(tmp_path / "data"), "secret_key": "x", "enabled": True, "token": digest}
    )
    try:
        client = app.test_client()
        assert client.get("/metrics").status_code == 403  # no address is allowed
        authorized = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/metrics", headers=authorized).status_code == 200
        denied = picked(scrape(client, headers=authorized), "roster_auth_failures_total")
        assert denied == {(("surface", "metrics"),): 1}
    finally:
        storage.close_store(app)


def test_a_failed_console_sign_in_counts(client, admin):
    from tests.consoletools import submit

    submit(client, "/sign-in", {"username": "ada", "password": "wrong password"})
    failures = picked(scrape(client), "roster_auth_failures_total")
    assert failures == {(("surface", "console"),): 1}


def test_openmetrics_is_served_when_asked_for(client):
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.status_code == 200
    assert response.mimetype == "application/openmetrics-text"
    assert response.get_data(as_text=True).rstrip().endswith("# EOF")
