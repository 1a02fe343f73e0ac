"""Roster: a SCIM 2.0 service provider. ``create_app`` builds the Flask app; ``python app.py``
serves it with waitress; ``flask --app app …`` runs the admin commands (see ``cli/``)."""

from __future__ import annotations

import argparse
import gc
import io
import ipaddress
import logging
import signal
import sys

import click
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import appapi
import audit
import cli
import config as settings
import console
import monitoring
import storage
import webhooks
from scim import api, requestlog
from scim.http import NormalizePath, register_error_handlers

log = logging.getLogger("roster")


def create_app(config: dict | None = None, *, config_path: str | None = None) -> Flask:
    """Build the app. ``config`` overrides keys of the configuration (tests pass a data_dir)."""
    try:
        values = settings.load(config_path, config)
        secret = settings.secret_key(values)
    except settings.ConfigError as exc:
        if click.get_current_context(silent=True) is not None:
            # Under `flask --app app …`: one line and exit status 2, not a traceback.
            raise click.ClickException(str(exc)) from None
        raise
    app = Flask(__name__)
    app.config["ROSTER"] = values
    app.config["SECRET_KEY"] = secret
    # RFC 7644 §3.12: a body over the limit is 413, refused before it is read into memory.
    app.config["MAX_CONTENT_LENGTH"] = values["max_payload_bytes"]
    app.json.sort_keys = False
    storage.init_app(app)
    monitoring.init_app(app)  # first hooks: the request id and start time, then the rest
    register_error_handlers(app)
    requestlog.init_app(app)
    app.register_blueprint(api.bp)
    cli.init_app(app)
    console.init_app(app)
    webhooks.init_app(app)
    appapi.init_app(app)  # last: it wraps the error handlers registered before it
    app.wsgi_app = LargeAnswers(NormalizePath(app.wsgi_app))
    # Outermost, so that nothing else ever sees a forwarded header it should not believe.
    app.wsgi_app = TrustedProxies(app.wsgi_app, values["trusted_proxies"])
    return app


UNTRUSTED_HEADERS = ("HTTP_X_FORWARDED_", "HTTP_FORWARDED", "HTTP_X_REQUEST_ID")


class TrustedProxies:
    """Apply ``X-Forwarded-*`` headers only to requests that come from a trusted proxy, and
    remove every forwarding header (and ``X-Request-Id``) from all other requests.

    ``REMOTE_ADDR`` is the socket's peer (waitress is told to leave these headers alone, see
    ``serve``). From a trusted proxy, the client address, scheme, host, port and prefix are the
    last ones the proxy added; from anyone else, the headers are gone before Flask parses the
    request, so a client can neither dodge the throttles by inventing an address nor make
    Roster believe it came over HTTPS or to another host.
    """

    def __init__(self, wsgi_app, networks: list[str]):
        self.plain = wsgi_app
        self.proxied = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def trusts(self, address: str) -> bool:
        """Return whether ``address`` (a socket peer) is one of the trusted proxies."""
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(peer in net for net in self.networks)

    def __call__(self, environ, start_response):
        if self.trusts(environ.get("REMOTE_ADDR", "")):
            return self.proxied(environ, start_response)
        # RFC 7239's Forwarded, which nothing in Roster reads, goes with the X-Forwarded-* ones;
        # a request id is believed only from a proxy (monitoring.requestid).
        for name in [n for n in environ if n.startswith(UNTRUSTED_HEADERS)]:
            del environ[name]
        return self.plain(environ, start_response)


class LargeAnswers:
    """Hand an answer of ``least`` bytes or more to the server as a file (PEP 3333's
    ``wsgi.file_wrapper``).

    Waitress copies a body the app returns into its own buffer, then out of it, partly on the
    worker thread; a file it reads and sends from its I/O thread. For a 10,000-member group
    (1.6 MB) that took a membership PATCH from 14 to 7.5 ms in ``bench/``. Smaller answers,
    and files already wrapped (static files), pass through untouched.
    """

    def __init__(self, wsgi_app, least: int = 256 * 1024):
        self.app = wsgi_app
        self.least = least

    def __call__(self, environ, start_response):
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is None:
            return self.app(environ, start_response)
        length = 0

        def start(status, headers, exc_info=None):
            nonlocal length
            for name, value in headers:
                if name.lower() == "content-length" and value.isdigit():
                    length = int(value)
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        if length < self.least or (isinstance(wrapper, type) and isinstance(body, wrapper)):
            return body
        try:
            data = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return wrapper(io.BytesIO(data), self.least)


def main(argv: list[str] | None = None) -> int:
    """Serve Roster with waitress until interrupted."""
    parser = argparse.ArgumentParser(description="Serve Roster, a SCIM 2.0 service provider.")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080)")
    parser.add_argument("--config", help="path to a config.toml")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    try:
        app = create_app(overrides, config_path=args.config)
        values = app.config["ROSTER"]
        monitoring.logs.configure(values["level"], values["format"])
        store = storage.get_store(app)  # take the data folder's lock now, not on the first request
        with app.app_context():
            store.prune_audit(audit.cutoff())  # retention also holds when nothing is recorded
        link = console.setup_link(app)
        if link and values["format"] == "json":  # every line a log shipper reads is JSON
            log.warning("No admin yet. Open this one-time setup link: %s", link)
        elif link:
            print(f"No admin yet. Open this one-time setup link:\n  {link}", flush=True)
        return serve(app, values)
    except (settings.ConfigError, storage.StoreError) as exc:
        print(f"roster: {exc}", file=sys.stderr)
        return 2


def serve(app: Flask, values: dict) -> int:
    from waitress.server import create_server

    import serving

    listeners: dict = {}
    limit = serving.open_files_for(values["connection_limit"])
    try:
        server = create_server(
            app,
            map=listeners,
            host=values["host"],
            port=values["port"],
            threads=values["threads"],
            # Roster's channel bounds open connections, idle time and the time a request may
            # take to arrive (serving.py); waitress's own limit, a little above, only backs it
            # up. poll(), because select() cannot watch a descriptor numbered past 1023.
            connection_limit=limit + 16,
            channel_timeout=values["channel_timeout"],
            cleanup_interval=1,  # how often the timeouts are checked: at most a second late
            asyncore_use_poll=True,
            # Forwarded headers are judged by TrustedProxies (create_app), which knows networks;
            # waitress would otherwise drop them all before the app saw them.
            clear_untrusted_proxy_headers=False,
            # Waitress answers an oversized body itself, in plain text and unlogged; leave it the
            # far outliers so that Roster's own SCIM 413 (refused on Content-Length, before the
            # body is read) answers everything near the limit.
            max_request_body_size=4 * values["max_payload_bytes"],
            ident="Roster",
            # Waitress copies an answer over 1 MB into a temporary file before sending it; a
            # 10,000-member group (1.6 MB) is already in memory and goes out 2.5 ms sooner.
            outbuf_overflow=32 * 1024 * 1024,
        )
        channel = serving.channel_class(limit)
        for listener in listeners.values():
            listener.channel_class = channel
    except OSError as exc:
        print(
            f"roster: cannot listen on {values['host']}:{values['port']}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    public = values["public_url"] or f"http://{values['host']}:{values['port']}"
    log.info("Roster is serving on %s (SCIM base: %s/scim/v2/<idp>)", public, public)
    tune_gc()
    # SIGTERM (systemd's stop, `kill`) ends the server as Ctrl-C does: the request log writes
    # what it has queued and the store closes, instead of the process dying on the spot.
    signal.signal(signal.SIGTERM, _interrupt)
    deliveries = webhooks.start(app)  # in this process, beside the requests (webhooks/worker.py)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if deliveries is not None:
            deliveries.close()  # its endpoints are given back, not left to their leases' end
        storage.close_store(app)
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the request path.

    A membership PATCH on a 10,000-member group allocates tens of thousands of short-lived
    objects that reference counting frees; at the default threshold (700) they still set off
    dozens of collections (about 1 ms of its ~8 in ``bench/``; no measurable effect on a
    POST). Requests create few reference cycles, so collecting every 50,000 net allocations
    keeps memory flat. What is loaded by now (modules, the store) lives as long as the
    process: frozen, so that full collections no longer walk it.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


if __name__ == "__main__":
    sys.exit(main())
