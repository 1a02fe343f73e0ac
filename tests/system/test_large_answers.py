"""``app.LargeAnswers``: answers of ``least`` bytes or more go to the server as a file (PEP 3333
``wsgi.file_wrapper``), smaller ones and files as they are; and a large group read over a real
waitress socket arrives whole."""

from __future__ import annotations

import http.client
import io
import json

import pytest

import storage
import tokens
from app import LargeAnswers, create_app
from providers import create_idp
from scim.core.models import load_resource
from scim.core.schemas import USER_TYPE
from tests.live import LiveServer, free_port

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LEAST = 64


class FileWrapper:
    """A server's ``wsgi.file_wrapper``: reads the file in blocks of ``block_size``."""

    made: list[FileWrapper] = []

    def __init__(self, file, block_size: int = 8192):
        self.file, self.block_size = file, block_size
        FileWrapper.made.append(self)

    def __iter__(self):
        return iter(lambda: self.file.read(self.block_size), b"")


class Body:
    """An app's answer: its chunks, and whether the server closed it (PEP 3333)."""

    def __init__(self, *chunks: bytes, fail: bool = False):
        self.chunks, self.fail, self.closed = chunks, fail, False

    def __iter__(self):
        yield from self.chunks
        if self.fail:
            raise OSError("the answer broke off")

    def close(self):
        self.closed = True


class Server:
    """The server side of one call: the environ it passes and what the app started."""

    def __init__(self, file_wrapper: object = FileWrapper):
        self.environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
        if file_wrapper is not None:
            self.environ["wsgi.file_wrapper"] = file_wrapper
        self.started: list[tuple] = []

    def start_response(self, status, headers, exc_info=None):
        self.started.append((status, headers, exc_info))
        return lambda data: None

    def call(self, body, length: int | str | None, *, name: str = "Content-Length"):
        """Call an app answering ``body``, of ``length`` (no header if None), behind
        LargeAnswers."""

        def inner(environ, start_response):
            headers = [("Content-Type", "application/scim+json")]
            if length is not None:
                headers.append((name, str(length)))
            start_response("200 OK", headers)
            return body

        return LargeAnswers(inner, least=LEAST)(self.environ, self.start_response)


@pytest.fixture(autouse=True)
def no_files_made():
    FileWrapper.made.clear()


def payload(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + b"x" * (size % 256)


def test_a_small_answer_passes_through():
    body, server = Body(payload(LEAST - 1)), Server()
    assert server.call(body, LEAST - 1) is body
    assert not body.closed  # the server closes it, after sending it
    assert FileWrapper.made == []
    assert server.started[0][1][-1] == ("Content-Length", str(LEAST - 1))


@pytest.mark.parametrize("size", [LEAST, LEAST + 1, 10 * LEAST + 7])
def test_a_large_answer_goes_as_a_file(size):
    data = payload(size)
    chunks = (data[:10], data[10:LEAST], data[LEAST:])
    body, server = Body(*chunks), Server()
    answer = server.call(body, size)
    assert isinstance(answer, FileWrapper)
    assert b"".join(answer) == data
    assert answer.block_size == LEAST
    assert body.closed
    status, headers, _ = server.started[0]
    assert status == "200 OK" and ("Content-Length", str(size)) in headers


def test_the_header_name_is_case_insensitive():
    data = payload(LEAST * 2)
    answer = Server().call(Body(data), len(data), name="content-length")
    assert isinstance(answer, FileWrapper) and b"".join(answer) == data


def test_a_generator_without_close_is_wrapped():
    data = payload(LEAST * 3)
    answer = Server().call(iter([data[:5], data[5:]]), len(data))
    assert b"".join(answer) == data


@pytest.mark.parametrize("length", [None, "", "-1", "1e9"])
def test_an_answer_of_unknown_length_passes_through(length):
    body = Body(payload(LEAST * 4))
    assert Server().call(body, length) is body
    assert not body.closed


def test_without_a_file_wrapper_nothing_changes():
    body, server = Body(payload(LEAST * 4)), Server(file_wrapper=None)
    assert server.call(body, LEAST * 4) is body
    assert not body.closed


def test_a_file_already_wrapped_is_returned_as_it_is():
    file = io.BytesIO(payload(LEAST * 4))
    wrapped, server = FileWrapper(file, 100), Server()
    assert server.call(wrapped, LEAST * 4) is wrapped
    assert file.tell() == 0, "the file was not read"


def test_a_body_that_breaks_off_is_closed():
    body = Body(payload(LEAST), fail=True)
    with pytest.raises(OSError, match="broke off"):
        Server().call(body, LEAST * 2)
    assert body.closed


# --- in the app ------------------------------------------------------------------------------


def test_the_app_hands_large_answers_to_the_server_as_files(scim, app, monkeypatch):
    middleware = app.wsgi_app.plain  # TrustedProxies is outermost; LargeAnswers next
    assert isinstance(middleware, LargeAnswers)
    monkeypatch.setattr(middleware, "least", 1024)
    ids = tuple(scim.create_user(f"user{n}")["id"] for n in range(12))
    gid = scim.create_group("Team", ids)["id"]
    plain = scim.get(f"/Groups/{gid}")
    assert len(plain.get_data()) >= 1024
    server = {"wsgi.file_wrapper": FileWrapper}
    filed = scim.get(f"/Groups/{gid}", environ_overrides=server)
    assert len(FileWrapper.made) == 1
    assert filed.get_data() == plain.get_data()
    assert filed.headers["Content-Length"] == str(len(plain.get_data()))
    small = scim.get(f"/Users/{ids[0]}", environ_overrides=server)
    assert len(small.get_data()) < 1024 and small.status_code == 200
    assert len(FileWrapper.made) == 1, "a small answer went as it was"


# --- over waitress ----------------------------------------------------------------------------

MEMBERS = 1600  # with a display each, the group's JSON is well past 256 KiB


def fetch(url: str, path: str, token: str) -> tuple[int, dict, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_a_large_group_arrives_whole_over_waitress(tmp_path):
    data_dir, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app({"data_dir": str(data_dir)})
    try:
        store = storage.get_store(app)
        idp = create_idp(store, "Live", "generic")["id"]
        token = tokens.issue(store, idp)
        ids = []
        for n in range(MEMBERS):
            user = load_resource(USER_TYPE, {"schemas": [CORE], "userName": f"user{n}"})
            ids.append(store.create("User", idp, user)["id"])
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        members = [{"value": i, "display": f'User {n} "quoted" é'} for n, i in enumerate(ids)]
        created = client.post(
            f"/scim/v2/{idp}/Groups",
            json={"schemas": [GROUP], "displayName": "Everyone", "members": members},
            headers=headers,
            base_url=url,
        )
        assert created.status_code == 201, created.get_json()
        path = f"/scim/v2/{idp}/Groups/{created.get_json()['id']}"
        expected = client.get(path, headers=headers, base_url=url)
        assert expected.status_code == 200
    finally:
        storage.close_store(app)
    assert len(expected.get_data()) >= 256 * 1024, "not large enough to go as a file"

    with LiveServer(data_dir, port=port) as server:
        for _ in range(2):  # rendered anew, then from the rendering kept
            status, headers, raw = fetch(server.url, path, token)
            assert status == 200
            assert int(headers["Content-Length"]) == len(raw) == len(expected.get_data())
            assert json.loads(raw) == expected.get_json()
            assert len(json.loads(raw)["members"]) == MEMBERS
