"""No way around the second factor: a session counts only if it passed MFA.

The attack: dave (admin) has TOTP; a password-only login (Django's own, as /admin/login/
and /api-auth/login/ used to offer) opened a session that could grant AdministratorAccess.
"""

from __future__ import annotations

import pytest
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import get_user
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client, RequestFactory
from django.urls import reverse

from accessgroups.auth.mfa import session_passed_mfa
from accessgroups.models import Membership
from tests.api.helpers import database_fingerprint
from tests.auth.test_mfa import PASSWORD, totp_now

pytestmark = pytest.mark.django_db

SECRET = "JBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def _fresh_codes():
    # allauth remembers used TOTP codes in the cache (no replays); tests start clean.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def dave_with_totp(dave):
    TOTP.activate(dave, SECRET)
    return dave


def _password_only_session(user) -> Client:
    """A session opened by Django's password login, with CSRF checks on."""
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _csrf(client: Client) -> str:
    # The one page such a session can open, and it carries a form.
    assert client.get(reverse("mfa_reauthenticate")).status_code == 200
    return client.cookies["csrftoken"].value


def test_a_password_only_session_cannot_grant_access_through_the_api(
    dave_with_totp, alice, readonly
):
    client = _password_only_session(dave_with_totp)
    before = database_fingerprint()
    response = client.post(
        "/api/v1/memberships/",
        {"user": "alice", "access_group": readonly.pk, "justification": "x"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=_csrf(client),
    )
    assert response.status_code == 403
    assert "second factor" in response.json()["detail"]
    assert database_fingerprint() == before
    assert not Membership.objects.exists()


def test_a_password_only_session_is_sent_to_pass_its_second_factor(dave_with_totp, readonly):
    client = _password_only_session(dave_with_totp)
    for path in ("/", reverse("web:approvals"), reverse("web:manage-groups"), "/admin/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(reverse("mfa_reauthenticate")), path
    # Passing it there opens the portal.
    response = client.post(
        reverse("mfa_reauthenticate"),
        {"code": totp_now(SECRET), "csrfmiddlewaretoken": _csrf(client)},
    )
    assert response.status_code == 302
    assert client.get(reverse("web:approvals")).status_code == 200
    assert client.get("/api/v1/access-groups/").status_code == 200


def test_the_portal_sign_in_with_password_and_code_passes(client, dave_with_totp, readonly):
    response = client.post(reverse("account_login"), {"login": "dave", "password": PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    assert not get_user(client).is_authenticated
    client.post(reverse("mfa_authenticate"), {"code": totp_now(SECRET)})
    assert get_user(client) == dave_with_totp
    assert client.get(reverse("web:manage-groups")).status_code == 200


@pytest.mark.parametrize("path", ["/admin/login/", "/api-auth/login/"])
def test_the_password_only_login_pages_open_no_session(client, dave_with_totp, path):
    response = client.post(path, {"username": "dave", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not get_user(client).is_authenticated


def _request_with_session(user):
    request = RequestFactory().get("/")
    SessionMiddleware(lambda r: None).process_request(request)
    request.user = user
    return request


def test_sso_counts_as_mfa_only_for_the_providers_named(settings, alice):
    request = _request_with_session(alice)
    record_authentication(request, alice, "socialaccount", provider="oidc", uid="a")
    settings.SSO_MFA_PROVIDERS = []
    assert not session_passed_mfa(request)
    settings.SSO_MFA_PROVIDERS = ["saml"]
    assert not session_passed_mfa(request)
    settings.SSO_MFA_PROVIDERS = ["oidc"]
    assert session_passed_mfa(request)


def test_a_password_record_is_not_mfa_and_records_of_another_user_do_not_count(alice, bob):
    request = _request_with_session(alice)
    record_authentication(request, alice, "password")
    assert not session_passed_mfa(request)
    record_authentication(request, alice, "mfa", type="totp")
    assert session_passed_mfa(request)
    request.user = bob  # the session's records name alice
    assert not session_passed_mfa(request)
