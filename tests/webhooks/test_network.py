"""Where an attempt connects, and over what: one DNS answer, checked and then used (a resolver
the tests play); https to a receiver whose certificate the test makes with the openssl CLI,
trusted only through ``[webhooks] ca_file``."""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from config import ConfigError, load
from tests.webhook_receiver import Receiver
from webhooks import endpoints, urls
from webhooks.delivery import Settings, attempt
from webhooks.endpoints import DELIVERIES
from webhooks.worker import Worker

EVENT = {
    "id": "evt-1",
    "seq": 1,
    "type": "user.created",
    "occurred_at": "2026-12-04T10:00:00.000Z",
    "resource": {"type": "User", "id": "u1"},
}


class Resolver:
    """A DNS server for one test: ``answers`` are given out in turn, one per lookup (the last
    again when they run out); ``asked`` notes each lookup."""

    def __init__(self, *answers: list[str]):
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host, port, *args, **kwargs):
        self.asked.append((host, port))
        found = self.answers[min(len(self.asked), len(self.answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in found]


def endpoint(url: str, secret: str = "whsec_" + "A" * 32) -> dict:
    return {"url": url, "secrets": [{"secret": secret, "expires": None}]}


# --- the check: every address of the one answer ------------------------------------------------


def test_every_address_of_the_answer_is_checked():
    resolve = Resolver(["93.184.216.34", "10.0.0.7"])
    with pytest.raises(urls.UnsafeURL, match="10.0.0.7.*allow_private_networks"):
        urls.check("https://hook.example/x", False, resolve)
    assert resolve.asked == [("hook.example", 443)]


def test_the_checked_addresses_come_back_in_the_resolvers_order():
    resolve = Resolver(["93.184.216.34", "2.16.0.1", "93.184.216.34"])
    assert urls.check("http://hook.example:8080/", False, resolve) == [
        "93.184.216.34",
        "2.16.0.1",
    ]
    assert resolve.asked == [("hook.example", 8080)]


def test_no_address_is_refused():
    with pytest.raises(urls.UnsafeURL, match="cannot be resolved"):
        urls.check("http://hook.example/", True, Resolver([]))


# --- the attempt connects to the address it checked --------------------------------------------


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


def test_an_attempt_resolves_once_and_connects_to_what_it_checked(receiver):
    port = receiver.server.server_address[1]
    # The first answer is the receiver; any later lookup would be sent nowhere (10.255.255.1
    # does not answer): a sender that looked the name up again would time out.
    resolve = Resolver(["127.0.0.1"], ["10.255.255.1"])
    settings = Settings(allow_private=True, timeout=2.0, resolve=resolve)
    record = endpoint(f"http://rebind.test:{port}/hook")
    receiver.secrets.append(record["secrets"][0]["secret"])
    outcome = attempt(record, EVENT, settings)
    assert outcome.status == 200, outcome.error
    assert resolve.asked == [("rebind.test", port)]
    [delivery] = receiver.arrived  # noted before the answer, so before the sender had it
    assert delivery.verified
    assert delivery.headers["host"] == f"rebind.test:{port}"


def test_an_answer_that_turned_private_is_refused_before_connecting(receiver):
    port = receiver.server.server_address[1]
    resolve = Resolver(["127.0.0.1"])
    settings = Settings(allow_private=False, timeout=2.0, resolve=resolve)
    outcome = attempt(endpoint(f"http://rebind.test:{port}/hook"), EVENT, settings)
    assert outcome.status is None
    assert "allow_private_networks" in outcome.error
    assert receiver.arrived == []


def test_the_checked_addresses_are_tried_in_turn(receiver):
    port = receiver.server.server_address[1]
    # Nothing listens on 127.0.0.3 at that port: refused at once, then the next one.
    resolve = Resolver(["127.0.0.3", "127.0.0.1"])
    settings = Settings(allow_private=True, timeout=2.0, resolve=resolve)
    record = endpoint(f"http://rebind.test:{port}/hook")
    receiver.secrets.append(record["secrets"][0]["secret"])
    assert attempt(record, EVENT, settings).status == 200
    assert len(resolve.asked) == 1


# --- https ------------------------------------------------------------------------------------


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Path:
    """A CA, and certificates it signed for ``localhost`` and for ``hook.test``."""
    folder = tmp_path_factory.mktemp("tls")
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=Roster test CA", cwd=folder,
    )  # fmt: skip
    for name in ("localhost", "hook.test"):
        openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=folder,
        )  # fmt: skip
        (folder / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}\n")
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
            "-extfile", f"{name}.ext", cwd=folder,
        )  # fmt: skip
    return folder


def tls_receiver(certificates: Path, name: str, host: str) -> Receiver:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / f"{name}.pem", certificates / f"{name}.key")
    return Receiver(tls=context, host=host)


def test_https_to_a_certificate_signed_by_the_configured_ca(certificates):
    receiver = tls_receiver(certificates, "hook.test", "hook.test")
    try:
        settings = Settings(
            allow_private=True,
            timeout=2.0,
            ca_file=str(certificates / "ca.pem"),
            resolve=Resolver(["127.0.0.1"]),
        )
        record = endpoint(receiver.url)
        receiver.secrets.append(record["secrets"][0]["secret"])
        outcome = attempt(record, EVENT, settings)
    finally:
        receiver.close()
    assert outcome.status == 200, outcome.error
    [delivery] = receiver.arrived  # noted before the answer, so before the sender had it
    assert delivery.verified


@pytest.mark.parametrize(
    ("name", "trusted", "reason"),
    [
        ("hook.test", False, "certificate not trusted"),  # no ca_file: an unknown CA
        ("localhost", True, "certificate not trusted: Hostname mismatch"),  # another name's
    ],
)
def test_a_certificate_that_fails_its_check_fails_the_attempt(certificates, name, trusted, reason):
    receiver = tls_receiver(certificates, name, "hook.test")
    try:
        settings = Settings(
            allow_private=True,
            timeout=2.0,
            ca_file=str(certificates / "ca.pem") if trusted else "",
            resolve=Resolver(["127.0.0.1"]),
        )
        outcome = attempt(endpoint(receiver.url), EVENT, settings)
    finally:
        receiver.close()
    assert outcome.status is None
    assert outcome.error.startswith(reason), outcome.error
    assert receiver.arrived == []  # never sent anyway


def test_a_certificate_failure_is_in_the_delivery_log(scim, store, certificates):
    """Through the worker: the failed attempts are logged with why, and retried; with the CA
    trusted, the next attempt succeeds."""
    receiver = tls_receiver(certificates, "localhost", "localhost")
    try:
        hook, secret = endpoints.add(store, receiver.url, allow_private=True)
        receiver.secrets.append(secret)
        fast = dict(schedule=[0.05] * 3, timeout=1.0, lease_seconds=4.0, allow_private=True)
        worker = Worker(store, Settings(**fast, poll_seconds=0.05)).start()
        logged = lambda _: store.records(DELIVERIES)  # noqa: E731
        try:
            scim.create_user("ann@example.com")
            receiver.until(lambda r: any(d["state"] == "dead" for d in logged(r)))
        finally:
            worker.close()
        [delivery] = store.records(DELIVERIES)
        assert {a["status"] for a in delivery["attempts"]} == {None}
        assert all("certificate not trusted" in a["error"] for a in delivery["attempts"])
        assert receiver.arrived == []
        trusting = Settings(**fast, poll_seconds=0.05, ca_file=str(certificates / "ca.pem"))
        worker = Worker(store, trusting).start()
        try:
            scim.create_user("bob@example.com")
            receiver.until(lambda r: len(r.deliveries) >= 1)
        finally:
            worker.close()
        assert [d.verified for d in receiver.deliveries] == [True]
        assert hook["url"].startswith("https://localhost:")
    finally:
        receiver.close()


def test_a_ca_file_that_cannot_be_loaded_stops_the_start(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    config = tmp_path / "config.toml"
    for path in (bad, tmp_path / "missing.pem"):
        config.write_text(f'[webhooks]\nca_file = "{path}"\n')
        with pytest.raises(ConfigError, match="webhooks.ca_file: cannot load"):
            load(str(config))
