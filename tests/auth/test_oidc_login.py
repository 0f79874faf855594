"""SSO through OpenID Connect, with allauth talking for real to a provider on localhost.

The provider is configured the way production is, from environment variables
(portal.sso.oidc_apps); the browser's part is played by Django's test client (the portal)
and requests (the provider's authorize page).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user
from django.urls import reverse

from accessgroups.models import User
from portal.sso import oidc_apps
from tests.auth.oidc_provider import OIDCProvider

CLIENT_ID = "portal-test-client"
CLIENT_SECRET = "a-secret-only-this-test-knows"


@pytest.fixture
def idp(settings):
    with OIDCProvider(CLIENT_ID, CLIENT_SECRET) as provider:
        environ = {
            "OIDC_PROVIDERS": "test-idp",
            "OIDC_TEST_IDP_SERVER_URL": provider.issuer,
            "OIDC_TEST_IDP_CLIENT_ID": CLIENT_ID,
            "OIDC_TEST_IDP_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_TEST_IDP_NAME": "Test IdP",
        }
        settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": oidc_apps(environ)}}
        yield provider


def sso_sign_in(client, idp: OIDCProvider, **claims):
    """Start at the portal, sign in at the provider, come back to the portal's callback."""
    idp.person = claims
    start = client.post(reverse("openid_connect_login", kwargs={"provider_id": "test-idp"}))
    assert start.status_code == 302
    assert start["Location"].startswith(f"{idp.issuer}/authorize?")

    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["Location"])
    assert back.path == reverse("openid_connect_callback", kwargs={"provider_id": "test-idp"})
    return client.get(f"{back.path}?{back.query}")


def grace(**overrides) -> dict:
    claims = {
        "sub": "00u-grace",
        "email": "grace.hopper@example.com",
        "email_verified": True,
        "preferred_username": "grace.hopper",
        "given_name": "Grace",
        "family_name": "Hopper",
    }
    claims.update(overrides)
    return claims


def test_login_page_offers_the_configured_provider(client, idp, db):
    page = client.get(reverse("account_login")).content.decode()

    assert "Sign in with Test IdP" in page


def test_first_sso_sign_in_creates_the_user_from_the_claims(client, idp, db):
    response = sso_sign_in(client, idp, **grace())

    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(username="grace.hopper")
    assert get_user(client) == user
    assert (user.email, user.given_name, user.family_name) == (
        "grace.hopper@example.com",
        "Grace",
        "Hopper",
    )
    assert not user.has_usable_password()
    assert idp.token_requests == 1  # the code really was exchanged at the provider

    # The next sign-in finds the same person by the provider's subject: no second user.
    client.post(reverse("account_logout"))
    sso_sign_in(client, idp, **grace(email="grace@example.com"))
    assert get_user(client) == user
    assert User.objects.count() == 1


def test_username_falls_back_to_the_email_local_part_and_stays_unique(client, idp, make_user):
    make_user("ada", email="ada@elsewhere.example.com")

    sso_sign_in(
        client, idp, **grace(sub="00u-ada", email="ada@example.com", preferred_username=None)
    )

    user = get_user(client)
    assert user.is_authenticated and user.email == "ada@example.com"
    assert user.username != "ada" and user.username.startswith("ada")


def test_a_verified_email_signs_in_the_existing_user(client, idp, alice):
    response = sso_sign_in(
        client, idp, **grace(sub="00u-alice", email="Alice@Example.com", preferred_username="al")
    )

    assert response.status_code == 302
    assert get_user(client) == alice
    assert User.objects.count() == 1
    assert SocialAccount.objects.get(uid="00u-alice").user == alice


def test_an_unverified_email_of_an_existing_user_is_refused(client, idp, alice):
    response = sso_sign_in(
        client,
        idp,
        **grace(sub="00u-mallory", email="alice@example.com", email_verified=False),
    )

    assert response.status_code == 403
    assert "did not confirm" in response.content.decode()
    assert not get_user(client).is_authenticated
    assert list(User.objects.values_list("username", flat=True)) == ["alice"]
    assert not SocialAccount.objects.exists()
    assert client.get(reverse("web:catalogue")).status_code == 302


def test_a_new_person_without_a_verified_email_is_refused(client, idp, db):
    response = sso_sign_in(client, idp, **grace(email_verified=False))

    assert response.status_code == 403
    assert not User.objects.exists()
    assert not get_user(client).is_authenticated


def test_a_wrong_client_secret_signs_nobody_in(client, idp, settings, db):
    apps = settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"]
    apps[0]["secret"] = "not-the-secret"

    response = sso_sign_in(client, idp, **grace())

    assert response.status_code == 401  # allauth's "authentication error" page
    assert not get_user(client).is_authenticated
    assert not User.objects.exists()
