"""Headless Chromium (the system's package) driven by Playwright, with a screenshot helper."""

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

# Playwright's sync API keeps an event loop in this thread; the test body's ORM calls are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; run `make browsers`.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # The machine has no route out: stop Chromium from trying to reach update and sync services.
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


class _ServerRequests:
    """Requests the live server is answering now, counted from Django's own request signals.

    The browser's view of what is in flight misses a keepalive request sent as the page unloads; the server's
    does not, and the test's data must not be flushed while one of them is still writing to the database (the
    flush's TRUNCATE and the request's row locks deadlock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def started(self, **_: Any) -> None:
        with self._lock:
            self.count += 1

    def finished(self, **_: Any) -> None:
        with self._lock:
            self.count -= 1

    def wait_idle(self, deadline: float) -> None:
        quiet_since = None
        while time.monotonic() < deadline:
            if self.count > 0:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= 0.15:
                return
            time.sleep(0.02)


SERVER_REQUESTS = _ServerRequests()


@pytest.fixture(scope="session", autouse=True)
def _count_server_requests() -> Iterator[None]:
    from django.core.signals import request_finished, request_started

    request_started.connect(SERVER_REQUESTS.started, weak=False)
    request_finished.connect(SERVER_REQUESTS.finished, weak=False)
    yield
    request_started.disconnect(SERVER_REQUESTS.started)
    request_finished.disconnect(SERVER_REQUESTS.finished)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None)
    # Requests still running when a test ends (a background claim, a heartbeat) would reach the database while
    # the test's data is being flushed: let them finish first.
    in_flight: set[Any] = set()
    page.on("request", lambda request: in_flight.add(request))
    page.on("requestfinished", lambda request: in_flight.discard(request))
    page.on("requestfailed", lambda request: in_flight.discard(request))
    yield page
    # Leaving the page first fires its unload work (the workspace releases a prefetched lease with a keepalive
    # request) while the requests can still be waited for.
    page.goto("about:blank")
    deadline = time.monotonic() + 10
    while in_flight and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    context.close()
    SERVER_REQUESTS.wait_idle(deadline)


@pytest.fixture
def screenshot() -> Any:
    def take(page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


AXE_SOURCE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js"
# WCAG 2.x A and AA rules plus axe's best practices; a violation of "serious" or "critical" impact fails the test.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING_IMPACTS = {"serious", "critical"}


@pytest.fixture
def axe() -> Any:
    """Run axe-core on the page as it is now; fail naming each serious or critical violation and its elements.

    The script is evaluated through the browser's debugging protocol, which the page's Content-Security-Policy
    does not govern, so the pages keep their strict policy while they are checked."""
    source = AXE_SOURCE.read_text(encoding="utf-8")

    def check(page: Any, *, context: str = "document") -> list[dict[str, Any]]:
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(source + "\n;undefined")
        results = page.evaluate(
            "async ([tags, context]) => {"
            "  const target = context === 'document' ? document : document.querySelector(context);"
            "  const r = await window.axe.run(target, {runOnly: {type: 'tag', values: tags}});"
            "  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            "    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));"
            "}",
            [AXE_TAGS, context],
        )
        blocking = [v for v in results if v["impact"] in BLOCKING_IMPACTS]
        assert not blocking, "accessibility violations:\n" + "\n".join(
            f"  {v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'])}" for v in blocking
        )
        return results

    return check


@pytest.fixture
def sign_in() -> Any:
    """Sign in through the login form as a user whose password is `password` (the factories' default differs)."""

    def go(page: Any, base_url: str, email: str, password: str) -> None:
        page.goto(f"{base_url}/login/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/login/" not in url)

    return go
