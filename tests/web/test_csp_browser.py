"""The Content-Security-Policy in a real browser: every page works with no inline script.

Chromium enforces the policy the portal sends and says on the console what it refused
("... violates the following Content Security Policy directive ..."). Each test listens to
the console and to uncaught page errors while people use the pages, and checks both that
nothing was refused and that the scripts did their work (htmx polled, a security key was
added and used, Swagger UI and Redoc drew the API).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accessgroups.access.services import access_request_create
from portal.sso import oidc_apps
from tests.auth.oidc_provider import OIDCProvider
from tests.auth.test_webauthn_browser import VirtualAuthenticator, add_security_key, sign_out

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def refused(page) -> Callable[[], list[str]]:
    """refused() -> what the browser refused or failed to run on this page so far."""
    problems: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text:
            problems.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: uncaught {error}"))
    return lambda: problems


def visit(page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.ok, f"{path}: {response and response.status}"
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy, f"{path} has no script policy: {policy!r}"
    page.wait_for_load_state("networkidle")


def test_the_portal_pages_run_under_the_policy(
    page, login, refused, alice, bob, carol, dave, readonly
):
    access_request_create(
        requester=alice, access_group=readonly, justification="Read the logs", duration_hours=None
    )
    dave.is_staff = dave.is_superuser = True
    dave.save()
    group = f"/manage/groups/{readonly.pk}/"
    pages = {
        alice: ["/", f"/access-groups/{readonly.pk}/request/", "/my/access/"],
        bob: ["/approvals/"],
        carol: [
            "/reports/", "/reports/audit-log/", "/reports/matrix/", "/reports/drift/", "/reviews/",
            "/reviews/new/",
        ],
        dave: [
            "/manage/accounts/", "/manage/users/", "/manage/groups/", "/manage/groups/new/",
            group, f"{group}edit/", reverse("mfa_index"),
            "/admin/", reverse("admin:accessgroups_user_changelist"),
            reverse("admin:accessgroups_user_change", args=[alice.pk]),
            reverse("admin:accessgroups_auditevent_changelist"),
        ],
    }
    for person, paths in pages.items():
        page.context.clear_cookies()
        login(page, person)
        for path in paths:
            visit(page, path)

    # htmx still works: alice's open request makes My requests fetch its list again.
    page.context.clear_cookies()
    login(page, alice)
    fragment = reverse("web:my-requests-fragment")
    with page.expect_request(lambda request: fragment in request.url, timeout=10_000):
        visit(page, "/my/requests/")

    page.context.clear_cookies()
    for path in ("/accounts/login/", "/accounts/password/reset/", "/api-auth/login/"):
        visit(page, path)
    assert refused() == []


def test_security_keys_work_under_the_policy(page, login, refused, bob, readonly, live_server):
    VirtualAuthenticator(page).plug_in()
    login(page, bob, via_form=True)
    page.goto(reverse("mfa_index"))
    add_security_key(page, "Bob's key")
    sign_out(page)

    login(page, bob, via_form=True)
    page.get_by_role("button", name="Use a security key").click()
    page.wait_for_url(live_server.url + "/")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert refused() == []


def test_the_api_docs_work_under_the_policy(page, login, refused, alice):
    visit(page, "/api/docs/")
    # The start-up script, a file of its own, loaded the schema and drew its operations.
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.get_by_text("/api/v1/access-requests/").first).to_be_visible()

    visit(page, "/api/redoc/")
    expect(page.get_by_role("heading", name="Access portal API")).to_be_visible()
    # The one refusal meant to happen: Redoc's "API docs by Redocly" logo, from Redocly's
    # CDN. The docs work offline and tell no one else who reads them.
    logo = "'https://cdn.redoc.ly/redoc/logo-mini.svg'"
    problems = refused()
    problems[:] = [p for p in problems if not ("/api/redoc/" in p and logo in p)]

    # The browsable API's own "Log out" works without REST framework's inline onclick.
    login(page, alice)
    visit(page, "/api/v1/access-groups/")
    page.locator(".dropdown-toggle", has_text="alice").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    assert refused() == []


def test_single_sign_on_works_under_the_policy(page, refused, settings, live_server):
    # The provider lives at another origin (127.0.0.1, the portal at localhost): the form
    # that starts SSO redirects there, which a form-action directive would refuse.
    with OIDCProvider("portal", "sso-secret") as provider:
        environ = {
            "OIDC_PROVIDERS": "test-idp",
            "OIDC_TEST_IDP_SERVER_URL": provider.issuer,
            "OIDC_TEST_IDP_CLIENT_ID": "portal",
            "OIDC_TEST_IDP_CLIENT_SECRET": "sso-secret",
            "OIDC_TEST_IDP_NAME": "Test IdP",
        }
        settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": oidc_apps(environ)}}
        provider.person = {
            "sub": "00u-grace", "email": "grace@example.com", "email_verified": True,
            "preferred_username": "grace", "given_name": "Grace", "family_name": "Hopper",
        }
        visit(page, reverse("account_login"))
        page.get_by_role("button", name="Sign in with Test IdP").click()
        page.wait_for_url(live_server.url + "/")
        expect(page.locator(".site-header .who")).to_have_text("Grace Hopper")
        assert provider.token_requests == 1
    assert refused() == []
