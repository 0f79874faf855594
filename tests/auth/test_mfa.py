"""MFA: enrolling an authenticator app (TOTP), signing in with its code, and the rule that
approvers and admins must have a second factor before they use the portal."""

from __future__ import annotations

import re
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.contrib.auth import get_user
from django.urls import reverse

PASSWORD = "correct horse battery staple"  # tests/conftest.py's make_user


def totp_now(secret: str) -> str:
    # RFC 6238 with allauth's own HOTP: what the person's authenticator app shows now.
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def sign_in(client, username: str):
    return client.post(reverse("account_login"), {"login": username, "password": PASSWORD})


def enrol_totp(client) -> str:
    """Walk the enrolment page as a person does; returns the secret their app scanned."""
    page = client.get(reverse("mfa_activate_totp"))
    # Adding a second factor asks for the password again first.
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("account_reauthenticate"))
    confirmed = client.post(page["Location"], {"password": PASSWORD})
    assert confirmed.status_code == 302
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    # The page shows the secret (for typing into the app) next to its QR code.
    html = page.content.decode()
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7=]+)"', html).group(1)
    assert '<label for="authenticator_secret">' in html

    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    if totp_now(secret) != "000000":
        assert wrong.status_code == 200
        assert "Incorrect code" in wrong.content.decode()
        assert not Authenticator.objects.filter(type=Authenticator.Type.TOTP).exists()

    response = client.post(reverse("mfa_activate_totp"), {"code": totp_now(secret)})
    assert response.status_code == 302, response.content.decode()[:2000]
    return secret


@pytest.fixture(autouse=True)
def _fresh_codes():
    # allauth remembers used TOTP codes in the cache (no replays); tests start clean.
    from django.core.cache import cache

    cache.clear()


def test_enrol_totp_then_sign_in_asks_for_the_code_and_accepts_it(client, alice):
    sign_in(client, "alice")
    secret = enrol_totp(client)
    assert Authenticator.objects.filter(user=alice, type=Authenticator.Type.TOTP).exists()
    client.post(reverse("account_logout"))

    response = sign_in(client, "alice")

    # The password alone does not sign in: the second step asks for the code.
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert not get_user(client).is_authenticated
    page = client.get(reverse("mfa_authenticate")).content.decode()
    assert 'class="site-header"' in page and "<label" in page

    response = client.post(reverse("mfa_authenticate"), {"code": totp_now(secret)})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert get_user(client) == alice


def test_a_wrong_totp_code_is_refused(client, alice):
    sign_in(client, "alice")
    secret = enrol_totp(client)
    client.post(reverse("account_logout"))
    sign_in(client, "alice")
    wrong = "123456" if totp_now(secret) != "123456" else "654321"

    response = client.post(reverse("mfa_authenticate"), {"code": wrong})

    assert response.status_code == 200
    assert "Incorrect code" in response.content.decode()
    assert not get_user(client).is_authenticated
    assert client.get(reverse("web:catalogue")).status_code == 302


@pytest.fixture
def mfa_required(settings):
    settings.REQUIRE_MFA_FOR_APPROVERS = True


def test_an_approver_without_mfa_is_sent_to_enrol_before_any_page(
    client, bob, readonly, mfa_required
):
    sign_in(client, "bob")

    for path in (reverse("web:catalogue"), reverse("web:approvals"), "/admin/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == reverse("mfa_index"), path
    # Session calls to the API are refused with a reason; the enrolment page itself opens.
    api = client.get("/api/v1/access-groups/")
    assert api.status_code == 403
    assert "two-factor" in api.json()["detail"]
    enrol = client.get(reverse("mfa_index"))
    assert enrol.status_code == 200
    # The page says why they are there, once however many pages sent them.
    assert enrol.content.decode().count("Approvers and admins set up two-factor authentication") == 1


# Committed for real: allauth tells the portal about a new authenticator after commit, and
# that is what counts the enrolling session as having passed MFA.
@pytest.mark.django_db(transaction=True)
def test_an_approver_with_totp_gets_through(client, bob, readonly, mfa_required):
    sign_in(client, "bob")
    enrol_totp(client)

    assert client.get(reverse("web:approvals")).status_code == 200
    assert client.get("/api/v1/access-groups/").status_code == 200
    # Enrolled: the two-factor page no longer says they must.
    assert b"Approvers and admins set up" not in client.get(reverse("mfa_index")).content


def test_a_requester_is_not_told_to_enrol(client, alice, mfa_required):
    sign_in(client, "alice")
    assert client.get(reverse("web:catalogue")).status_code == 200
    assert b"Approvers and admins set up" not in client.get(reverse("mfa_index")).content


def test_an_admin_without_mfa_is_sent_to_enrol(client, dave, mfa_required):
    sign_in(client, "dave")

    response = client.get(reverse("web:catalogue"))

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")


def test_a_requester_without_mfa_is_let_through(client, alice, readonly, mfa_required):
    sign_in(client, "alice")

    assert client.get(reverse("web:catalogue")).status_code == 200


def test_token_api_calls_of_an_approver_are_not_affected(client, bob, readonly, mfa_required):
    from accessgroups.auth.tokens import api_token_create

    key = api_token_create(actor=None, user=bob, name="script").key

    response = client.get("/api/v1/access-groups/", HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 200


def test_the_requirement_is_off_when_the_setting_is(client, bob, readonly, settings):
    settings.REQUIRE_MFA_FOR_APPROVERS = False
    sign_in(client, "bob")

    assert client.get(reverse("web:approvals")).status_code == 200
