"""allauth's two-factor pages speak the portal's words ("Two-factor", sentence case) and use
its layout: sections as cards, actions as buttons."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def test_the_two_factor_page_says_two_factor(client_for, alice):
    page = " ".join(client_for(alice).get(reverse("mfa_index")).content.decode().split())
    assert "Two-Factor" not in page
    assert "<title> Two-factor authentication · Access portal</title>" in page
    assert "<h1> Two-factor authentication </h1>" in page
    for heading in ("Authenticator app", "Security keys", "Recovery codes"):
        assert heading in page, heading
    # Inside the portal's layout, with its cards and buttons.
    assert 'class="site-footer"' in page
    assert '<section class="card mfa-panel">' in page
    assert f'<a href="{reverse("mfa_activate_totp")}" class="button"' in page


def test_the_sign_in_step_says_two_factor(alice):
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(alice, generate_totp_secret())
    assert Authenticator.objects.filter(user=alice).exists()
    client = Client()
    response = client.post(
        reverse("account_login"), {"login": "alice", "password": PASSWORD}, follow=True
    )
    page = " ".join(response.content.decode().split())
    assert response.request["PATH_INFO"] == reverse("mfa_authenticate")
    assert "Two-Factor" not in page and "<h1> Two-factor authentication </h1>" in page
    assert "<title> Two-factor authentication · Access portal</title>" in page
    assert '<main id="main"' in page and "> Sign in </button>" in page


@pytest.mark.parametrize(
    ("url_name", "heading", "allauths"),
    [
        ("mfa_activate_totp", "Set up an authenticator app", "Activate Authenticator App"),
        ("mfa_add_webauthn", "Add a security key", "Add Security Key"),
    ],
)
def test_the_subpages_have_the_portals_sentence_case_headings(alice, url_name, heading, allauths):
    client = Client()
    client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    asked = client.get(reverse(url_name))
    if asked.status_code == 302:  # adding a factor asks for the password again first
        client.post(asked["Location"], {"password": PASSWORD})
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    page = " ".join(response.content.decode().split())
    assert f"<h1> {heading} </h1>" in page, page[:2000]
    assert allauths not in page
