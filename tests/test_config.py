"""Configuration: defaults, TOML, environment, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

import config
from app import TrustedProxies, create_app

EXAMPLE = Path(__file__).parents[1] / "config.example.toml"


def test_example_documents_every_key_with_its_default():
    text = EXAMPLE.read_text()
    for key in config.KEYS.values():
        assert f"\n{key.name} = " in text, f"{key.section}.{key.name} is not documented"
    values = config.load(str(EXAMPLE))
    assert values == config.load(None)


def test_defaults_without_any_file():
    values = config.load(None)
    assert (values["host"], values["port"], values["data_dir"]) == ("127.0.0.1", 8080, "data")


def test_config_toml_in_working_directory(tmp_path):
    (tmp_path / "config.toml").write_text("[server]\nport = 9000\n")
    assert config.load(None)["port"] == 9000


def test_environment_overrides_file(tmp_path, monkeypatch):
    path = tmp_path / "custom.toml"
    path.write_text('[server]\nport = 9000\npublic_url = "https://a.example/"\n')
    monkeypatch.setenv("ROSTER_CONFIG", str(path))
    monkeypatch.setenv("ROSTER_PORT", "9100")
    monkeypatch.setenv("ROSTER_DATA_DIR", str(tmp_path / "elsewhere"))
    values = config.load(None)
    assert values["port"] == 9100
    assert values["public_url"] == "https://a.example"
    assert values["data_dir"] == str(tmp_path / "elsewhere")


@pytest.mark.parametrize(
    "text, message",
    [
        ("[server]\nprot = 1\n", "unknown key 'server.prot'"),
        ("[sever]\nport = 1\n", "unknown section [sever]"),
        ('[server]\nport = "80"\n', "server.port must be int, not str"),
        ("[server]\nport = true\n", "server.port must be int, not bool"),
        ("[server]\nport = 70000\n", "between 1 and 65535"),
        ('[server]\npublic_url = "roster.example"\n', "must start with http"),
        ('[server]\ntrusted_proxies = ["nope"]\n', "is not an IP address"),
        ("[server\n", "cannot be read"),
        ('[logging]\nlevel = "LOUD"\n', "logging.level must be one of"),
    ],
)
def test_bad_configuration_names_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(config.ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        config.load(str(path))


def test_bad_environment_value(monkeypatch):
    monkeypatch.setenv("ROSTER_PORT", "eighty")
    with pytest.raises(config.ConfigError, match="ROSTER_PORT must be a whole number"):
        config.load(None)


def test_secret_key_is_generated_once_and_kept(tmp_path):
    values = config.load(None, {"data_dir": str(tmp_path / "data")})
    first = config.secret_key(values)
    assert len(first) >= 40
    assert config.secret_key(values) == first
    assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o077 == 0


def test_public_url_decides_locations(tmp_path):
    app = create_app({"data_dir": str(tmp_path / "d"), "public_url": "https://r.example.com"})
    import storage
    from tests.conftest import Tenant

    tenant = Tenant(app.test_client(), storage.get_store(app), "X")
    user = tenant.create_user("ann")
    assert user["meta"]["location"].startswith(f"https://r.example.com/scim/v2/{tenant.id}/")
    storage.close_store(app)


@pytest.mark.parametrize(
    "trusted, expected", [([], "http://localhost/"), (["127.0.0.1"], "https://proxy.example/")]
)
def test_forwarded_headers_only_from_trusted_proxies(tmp_path, trusted, expected):
    import storage
    from tests.conftest import Tenant

    app = create_app({"data_dir": str(tmp_path / "d"), "trusted_proxies": trusted})
    tenant = Tenant(app.test_client(), storage.get_store(app), "X")
    user = tenant.post(
        "/Users",
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ann"},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "proxy.example"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).get_json()
    assert user["meta"]["location"].startswith(expected)
    storage.close_store(app)


def _seen_by_app(networks: list[str], environ: dict) -> dict:
    """Return the environ the app behind TrustedProxies receives."""
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return []

    TrustedProxies(app, networks)(environ, lambda *args: None)
    return seen


FORWARDING = {
    "HTTP_X_FORWARDED_FOR": "192.0.2.1",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_X_FORWARDED_HOST": "evil.example",
    "HTTP_X_FORWARDED_PORT": "443",
    "HTTP_X_FORWARDED_PREFIX": "/x",
    "HTTP_X_FORWARDED_BY": "proxy",
    "HTTP_FORWARDED": "for=192.0.2.1",
    "HTTP_X_REQUEST_ID": "chosen-by-the-client",
}


@pytest.mark.parametrize("networks", [[], ["10.0.0.0/8"], ["2001:db8::/32"]])
def test_forwarding_headers_of_untrusted_peers_never_reach_the_app(networks):
    environ = {"REMOTE_ADDR": "203.0.113.9", "wsgi.url_scheme": "http", **FORWARDING}
    seen = _seen_by_app(networks, environ)
    assert not set(FORWARDING) & set(seen)
    assert (seen["REMOTE_ADDR"], seen["wsgi.url_scheme"]) == ("203.0.113.9", "http")


def test_a_proxy_in_a_trusted_network_is_believed():
    environ = {"REMOTE_ADDR": "10.1.2.3", "wsgi.url_scheme": "http", "HTTP_HOST": "x", **FORWARDING}
    seen = _seen_by_app(["10.0.0.0/8"], environ)
    assert seen["REMOTE_ADDR"] == "192.0.2.1"
    assert (seen["wsgi.url_scheme"], seen["HTTP_HOST"]) == ("https", "evil.example:443")
    assert seen["SCRIPT_NAME"] == "/x"


def test_database_url_alone_selects_postgres(monkeypatch):
    monkeypatch.setenv("ROSTER_DATABASE_URL", "postgresql://roster@127.0.0.1/roster")
    assert config.load(None)["backend"] == "postgres"
    monkeypatch.setenv("ROSTER_STORAGE_BACKEND", "tinydb")  # an explicit choice wins
    assert config.load(None)["backend"] == "tinydb"


def test_storage_backend_from_file(tmp_path):
    path = tmp_path / "roster.toml"
    path.write_text('[storage]\nbackend = "postgres"\ndatabase_url = "postgresql:///roster"\n')
    values = config.load(str(path))
    assert (values["backend"], values["database_url"]) == ("postgres", "postgresql:///roster")
    assert config.load(None)["backend"] == "tinydb"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"backend": "postgres"}, "needs storage.database_url"),
        ({"backend": "mysql"}, "storage.backend must be one of tinydb, postgres"),
    ],
)
def test_bad_storage_backend_is_one_line(overrides, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(None, overrides)


def test_events_and_audit_each_keep_their_own_retention(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[events]\nretention_days = 7\n\n[audit]\nretention_days = 90\n")
    values = config.load(str(path))
    assert (values["event_retention_days"], values["retention_days"]) == (7, 90)
    path.write_text("[events]\nretention_days = 0\n")
    with pytest.raises(config.ConfigError, match="events.retention_days must be at least 1"):
        config.load(str(path))
