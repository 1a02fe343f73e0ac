"""Roster's configuration: defaults, ``config.toml``, environment variables, test overrides.

Precedence, lowest first: the defaults below, the TOML file (``--config PATH``, else the file
named by ``ROSTER_CONFIG``, else ``config.toml`` in the working directory when present), the
``ROSTER_*`` environment variables, and the overrides a caller passes (tests).
``config.example.toml`` documents every key; a key missing there is a key missing here.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import ssl
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """A configuration problem, worded as the one line the admin reads."""


@dataclass(frozen=True)
class Key:
    section: str
    name: str
    type: type
    default: Any
    env: str | None = None
    # The key's name in the flat values, when two sections use the same name.
    field: str | None = None

    @property
    def flat(self) -> str:
        return self.field or self.name


KEYS = {
    k.flat: k
    for k in (
        Key("server", "host", str, "127.0.0.1", "ROSTER_HOST"),
        Key("server", "port", int, 8080, "ROSTER_PORT"),
        Key("server", "public_url", str, "", "ROSTER_PUBLIC_URL"),
        Key("server", "trusted_proxies", list, []),
        Key("server", "threads", int, 8),
        Key("server", "connection_limit", int, 1000),
        Key("server", "channel_timeout", int, 60),
        Key("server", "secret_key", str, "", "ROSTER_SECRET_KEY"),
        Key("storage", "data_dir", str, "data", "ROSTER_DATA_DIR"),
        Key("storage", "backend", str, "tinydb", "ROSTER_STORAGE_BACKEND"),
        Key("storage", "database_url", str, "", "ROSTER_DATABASE_URL"),
        Key("scim", "max_results", int, 1000),
        Key("scim", "max_operations", int, 1000),
        Key("scim", "max_payload_bytes", int, 1024 * 1024),
        Key("scim", "max_members", int, 100_000),
        Key("scim", "bulk_max_operations", int, 1000),
        Key("scim", "auth_failures_per_minute", int, 30),
        Key("logging", "level", str, "INFO", "ROSTER_LOG_LEVEL"),
        Key("logging", "request_log_size", int, 1000),
        Key("logging", "log_bodies", bool, False),
        Key("logging", "format", str, "text", "ROSTER_LOG_FORMAT"),
        Key("metrics", "enabled", bool, False),
        Key("metrics", "allow", list, []),
        Key("metrics", "token", str, "", "ROSTER_METRICS_TOKEN"),
        Key("audit", "retention_days", int, 365),
        # [events] retention_days: its own name in the flat values, [audit] has the same key.
        Key("events", "retention_days", int, 30, field="event_retention_days"),
        Key("webhooks", "deliver", bool, True, field="webhook_deliver"),
        Key(
            "webhooks",
            "allow_private_networks",
            bool,
            False,
            field="webhook_allow_private_networks",
        ),
        Key("webhooks", "timeout", int, 15, field="webhook_timeout"),
        Key(
            "webhooks",
            "retry_schedule",
            list,
            [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400],
            field="webhook_retry_schedule",
        ),
        Key("webhooks", "in_flight", int, 8, field="webhook_in_flight"),
        Key("webhooks", "lease_seconds", int, 60, field="webhook_lease_seconds"),
        Key("webhooks", "disable_after_days", int, 5, field="webhook_disable_after_days"),
        Key("webhooks", "rotation_grace_hours", int, 24, field="webhook_rotation_grace_hours"),
        Key("webhooks", "ca_file", str, "", field="webhook_ca_file"),
    )
}
SECTIONS = {k.section for k in KEYS.values()}
# (section, name) in the file -> the key
PLACES = {(k.section, k.name): k for k in KEYS.values()}
# Integer keys that must be at least 1 (every integer key except the port, checked apart).
POSITIVE = tuple(name for name, key in KEYS.items() if key.type is int and name != "port")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
# A metrics token given as its digest ("sha256:" and 64 hex digits) keeps the plaintext out of
# the file; one given in plain text must be long enough not to be guessed.
METRICS_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
MIN_METRICS_TOKEN = 24
BACKENDS = ("tinydb", "postgres")


def _find_file(path: str | None) -> Path | None:
    if path:
        return Path(path)
    if os.environ.get("ROSTER_CONFIG"):
        return Path(os.environ["ROSTER_CONFIG"])
    default = Path("config.toml")
    return default if default.exists() else None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"configuration file {path} cannot be read: {exc}") from None
    values: dict[str, Any] = {}
    for section, table in data.items():
        if section not in SECTIONS or not isinstance(table, dict):
            raise ConfigError(f"{path}: unknown section [{section}]")
        for name, value in table.items():
            key = PLACES.get((section, name))
            if key is None:
                raise ConfigError(f"{path}: unknown key '{section}.{name}'")
            values[key.flat] = _check(key, value, f"{path}: {section}.{name}")
    return values


def _check(key: Key, value: Any, where: str) -> Any:
    # bool is an int in Python; a port of `true` is still a mistake.
    if not isinstance(value, key.type) or (key.type is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {key.type.__name__}, not {type(value).__name__}")
    return value


def _from_env(key: Key, raw: str) -> Any:
    if key.type is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{key.env} must be a whole number, not {raw!r}") from None
    return raw


def load(path: str | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the validated configuration as a flat dict of key → value."""
    values = {name: key.default for name, key in KEYS.items()}
    found = _find_file(path)
    chosen: set[str] = set()  # keys set by the file, the environment or the caller
    if found is not None:
        from_file = _read_file(found)
        values.update(from_file)
        chosen.update(from_file)
    for name, key in KEYS.items():
        if key.env and os.environ.get(key.env):
            values[name] = _from_env(key, os.environ[key.env])
            chosen.add(name)
    for name, value in (overrides or {}).items():
        if name not in KEYS:
            raise ConfigError(f"unknown configuration key '{name}'")
        values[name] = _check(KEYS[name], value, name)
        chosen.add(name)
    if values["database_url"] and "backend" not in chosen:
        # A DSN alone (ROSTER_DATABASE_URL) selects PostgreSQL; backend = "tinydb" keeps TinyDB.
        values["backend"] = "postgres"
    _validate(values)
    return values


def _validate(values: dict[str, Any]) -> None:
    if not 0 < values["port"] < 65536:
        raise ConfigError(f"server.port must be between 1 and 65535, not {values['port']}")
    for name in POSITIVE:
        if values[name] < 1:
            raise ConfigError(f"{KEYS[name].section}.{KEYS[name].name} must be at least 1")
    if values["public_url"] and not values["public_url"].startswith(("http://", "https://")):
        raise ConfigError("server.public_url must start with http:// or https://")
    values["public_url"] = values["public_url"].rstrip("/")
    for entry in values["trusted_proxies"]:
        try:
            ipaddress.ip_network(entry, strict=False)
        except (TypeError, ValueError):
            raise ConfigError(f"server.trusted_proxies: {entry!r} is not an IP address") from None
    if values["backend"] not in BACKENDS:
        raise ConfigError(f"storage.backend must be one of {', '.join(BACKENDS)}")
    if values["backend"] == "postgres" and not values["database_url"]:
        raise ConfigError(
            'storage.backend = "postgres" needs storage.database_url (or ROSTER_DATABASE_URL)'
        )
    values["level"] = values["level"].upper()
    if values["level"] not in LOG_LEVELS:
        raise ConfigError(f"logging.level must be one of {', '.join(LOG_LEVELS)}")
    if values["format"] not in LOG_FORMATS:
        raise ConfigError(f"logging.format must be one of {', '.join(LOG_FORMATS)}")
    _validate_metrics(values)
    schedule = values["webhook_retry_schedule"]
    if not schedule or not all(
        isinstance(s, int | float) and not isinstance(s, bool) and s > 0 for s in schedule
    ):
        raise ConfigError("webhooks.retry_schedule must be a list of positive numbers of seconds")
    if values["webhook_lease_seconds"] <= 2 * values["webhook_timeout"] + 1:
        raise ConfigError("webhooks.lease_seconds must exceed twice webhooks.timeout, plus 1")
    _validate_ca_file(values["webhook_ca_file"])


def _validate_ca_file(path: str) -> None:
    """A CA file that cannot be loaded would fail every https attempt: say so at start."""
    if not path:
        return
    try:
        ssl.create_default_context().load_verify_locations(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"webhooks.ca_file: cannot load {path} ({exc})") from None


def _validate_metrics(values: dict[str, Any]) -> None:
    for entry in values["allow"]:
        try:
            ipaddress.ip_network(entry, strict=False)
        except (TypeError, ValueError):
            raise ConfigError(f"metrics.allow: {entry!r} is not an IP address") from None
    token = values["token"]
    if token and not METRICS_DIGEST.match(token) and len(token) < MIN_METRICS_TOKEN:
        raise ConfigError(
            f"metrics.token must be at least {MIN_METRICS_TOKEN} characters (or sha256:<hex>)"
        )
    if values["enabled"] and not values["allow"] and not token:
        # Open to every address would show the IdPs and their activity to anyone.
        raise ConfigError("metrics.enabled needs metrics.allow or metrics.token")


def prepare_data_dir(values: dict[str, Any]) -> Path:
    """Create the data folder if needed and check that it is writable."""
    folder = Path(values["data_dir"])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"data folder {folder} is not writable: {exc.strerror}") from None
    return folder


def secret_key(values: dict[str, Any]) -> str:
    """Return the configured secret key, or the one generated once and kept in the data folder.

    The generated key never lives in the repository; keeping it means sessions and signed links
    survive restarts.
    """
    if values["secret_key"]:
        return values["secret_key"]
    path = prepare_data_dir(values) / "secret_key"
    try:
        # O_EXCL: if two processes race, exactly one writes the key and both read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
        handle.flush()
        os.fsync(handle.fileno())
    return path.read_text().strip()
