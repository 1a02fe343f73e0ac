"""Browser tests: Playwright for Python driving Debian's Chromium (``/usr/bin/chromium``).

Without Playwright or Chromium they are skipped, saying why, so that a developer without them
can run everything else; under ``CI=true`` they fail instead, so that CI proves them. A failing
test leaves a full-page screenshot in ``tests/browser/artifacts/`` (ignored by git).
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# No sandbox: CI runs as root in a container; no GPU and no background traffic: nothing but
# the server under test is ever contacted.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).parent / "artifacts"


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install -r requirements-dev.txt)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium is not at {CHROMIUM} (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="session")
def browser():
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the browser tests, but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the test, so that ``page`` can tell a failed test.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, request):
    """A fresh browser tab at laptop size; screenshotted if the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


@pytest.fixture
def backend() -> str:
    """The browser tests drive the console, not the storage: one backend is enough."""
    return "tinydb"


@pytest.fixture
def served(app):
    """Serve ``app`` with waitress on a free loopback port in this process; yield its URL."""
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    stop = threading.Event()

    def serve() -> None:
        # waitress's own run() loops until its sockets are gone; closing them from this thread
        # while that loop sits in select() raises EBADF there. Tick the loop ourselves instead
        # and close only once it has stopped.
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    stop.set()
    thread.join()
    server.task_dispatcher.shutdown()
    for channel in list(server._map.values()):  # the browser's keep-alive connections, then
        channel.close()  # the listening socket itself


def sign_in(page, base: str, username: str, password: str) -> None:
    """Sign in through the form, as an admin would."""
    page.goto(base + "/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
