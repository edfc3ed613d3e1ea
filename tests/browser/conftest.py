"""Real-browser tests: Playwright driving Debian's Chromium (never a downloaded browser).

Fixtures:

- ``browser`` — one headless Chromium per session (``/usr/bin/chromium``, flags from NOTES.md);
- ``watched`` — a function that opens a new page and records every console error, uncaught
  exception and Content-Security-Policy violation on it; the test fails at teardown if any
  happened (``Watched.check()`` fails earlier on demand);
- ``artifacts`` — a temporary folder for this test's screenshots and downloads
  (:mod:`tests.support.screenshots`: never inside the working tree);
- ``fake_hub`` — the web app with the tests' fake supervision provider, served on a free port
  by a threaded WSGI server in this process (pages, scripts and styles exactly as shipped).

Screenshots worth keeping in the documentation are copied to ``docs/screenshots/`` only by
``make screenshots`` (``XN_SCREENSHOTS``), never by a plain test run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.required import missing
from tests.support.screenshots import artifact_dir

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="package")  # closed before other packages run: its event loop blocks asyncio.run()
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        missing("Debian's chromium is not installed (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    return artifact_dir(request.node.name)


@dataclass
class Watched:
    """A page and what went wrong on it."""

    page: Any
    problems: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert not self.problems, "browser errors:\n" + "\n".join(self.problems)


def _watch(page: Any, problems: list[str]) -> None:
    def on_console(msg: Any) -> None:
        text = msg.text
        if msg.type == "error" or "Content Security Policy" in text or "Content-Security-Policy" in text:
            problems.append(f"console {msg.type} on {page.url}: {text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"uncaught exception on {page.url}: {exc}"))
    # A CSP violation also fires a DOM event; report it from the page itself so no message is missed.
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', function (e) {"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI); });"
    )


@pytest.fixture
def watched(browser: Any) -> Iterator[Callable[..., Watched]]:
    contexts: list[Any] = []
    opened: list[Watched] = []

    def open_page(**context_args: Any) -> Watched:
        context = browser.new_context(locale="zh-CN", viewport={"width": 1600, "height": 1000},
                                      accept_downloads=True, **context_args)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        w = Watched(page)
        _watch(page, w.problems)
        opened.append(w)
        return w

    yield open_page
    for context in contexts:
        context.close()
    for w in opened:
        w.check()


@dataclass
class LiveApp:
    """A web app served over HTTP from this process."""

    url: str
    app: Any
    db: Path


@pytest.fixture
def fake_hub(tmp_path: Path) -> Iterator[LiveApp]:
    from werkzeug.serving import make_server

    from hub.auth import connect, create_user, ensure_schema
    from hub.web.app import create_app, shutdown
    from hub.web.events import EventBus
    from hub.web.metrics import Registry
    from tests.web.conftest import FAST, PASSWORD, ROLES, USERS, FakeSupervision, seed

    db = tmp_path / "hub.sqlite"
    conn = connect(db)
    ensure_schema(conn)
    seed(conn)
    for role in ROLES:
        create_user(conn, USERS[role], PASSWORD, role, display_name=f"{role} 用户",
                    dept_code="D01" if role == "department" else None, params=FAST)
    conn.close()
    app = create_app({"database": str(db), "secret_key": "browser-test-secret-0123456789"},
                     bus=EventBus(), metrics=Registry(), supervision=FakeSupervision(), scrypt=FAST)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="fake-hub", daemon=True)
    thread.start()
    try:
        yield LiveApp(f"http://127.0.0.1:{server.server_port}", app, db)
    finally:
        shutdown(app)
        server.shutdown()
        server.server_close()
        thread.join(10)


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    """Fill the login form and wait for the first page after it."""
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click(".login-box button[type=submit]")
    assert "/login" not in page.url, f"login failed for {username}: {page.url}"
