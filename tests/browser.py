"""The browser harness: Playwright driving Debian's Chromium against a live server.

``browser`` is one Chromium for the whole run; ``page`` is a fresh context (its own cookies)
per test and saves a screenshot into test-artifacts/ when the test fails; ``login(page,
user)`` signs a persona in. Page behaviour that needs no browser is tested with Django's
test client (``client_for``), which is much faster.

Chromium comes from Debian's package (/usr/bin/chromium, installed by .ci/run), not from
Playwright's own download. A missing browser fails the test run, it never skips it.

Loaded once for the whole run as a plugin (tests/conftest.py), so that every test directory
shares the one Playwright instance: a second sync Playwright in the same thread refuses to
start.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

CHROMIUM = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery staple"  # what tests/conftest.py's make_user sets
# Long enough for a page served by the live server under a loaded CI machine.
TIMEOUT_MS = 15_000


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Keeps each phase's report on the item, so that `page` can see the test failed.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"No Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium)."
        )
    # Playwright's sync API runs an event loop in this thread; Django would then refuse
    # ORM calls from the test body, which are synchronous and safe here.
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    if saved is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture
def browser_settings(settings) -> None:
    # The live server speaks plain HTTP; cookies marked Secure would not come back.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150]


@pytest.fixture
def new_page(request, browser, live_server, browser_settings) -> Iterator[Callable[..., object]]:
    """new_page() -> a page in a context of its own (one per person in a story)."""
    contexts = []

    def make(**options):
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    failed = any(
        getattr(getattr(request.node, f"rep_{when}", None), "failed", False)
        for when in ("setup", "call")
    )
    from playwright.sync_api import Error as PlaywrightError

    for index, context in enumerate(contexts):
        if failed:
            ARTIFACTS.mkdir(exist_ok=True)
            for number, open_page in enumerate(context.pages):
                path = ARTIFACTS / f"{_artifact_name(request.node.nodeid)}-{index}-{number}.png"
                try:
                    open_page.screenshot(path=str(path), full_page=True)
                except PlaywrightError as exc:  # a crashed page must not hide the test's failure
                    print(f"screenshot of {path.name} failed: {exc}")
        context.close()


@pytest.fixture
def page(new_page):
    """One page for the test; a screenshot lands in test-artifacts/ if the test fails."""
    return new_page()


@pytest.fixture
def login(live_server, browser_settings) -> Callable[..., None]:
    """login(page, user, via_form=False): sign the user in within that page's context.

    By default the session is made on the server (Django's force_login) and its cookie is
    handed to the browser: quick, and independent of MFA. ``via_form=True`` types the
    password into the real sign-in page instead (tests/conftest.py's personas share one).
    """

    def sign_in(page, user, *, via_form: bool = False, password: str = PASSWORD) -> None:
        if via_form:
            url = reverse("account_login")
            page.goto(url)
            form = page.locator("form", has=page.locator("input[name=password]"))
            form.locator("input[name=login]").fill(user.username)
            form.locator("input[name=password]").fill(password)
            form.locator("button[type=submit]").first.click()
            page.wait_for_load_state()
            assert not page.url.split("?")[0].endswith(url), f"{user.username} was not signed in"
            return
        client = Client()
        client.force_login(user)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
        )

    return sign_in


@pytest.fixture
def client_for(db) -> Callable[..., Client]:
    """client_for(user) -> Django's test client signed in as that user."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
