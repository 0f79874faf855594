"""The API tokens pages: a person's own tokens after a second factor, admins' page of
everyone's tokens and of service accounts, and Django admin handing out no token. Sessions
that passed a second factor are made the way a person makes one (allauth's sign-in with an
authenticator app); Django's force_login leaves no such record, as an admin's sign-in page
or a stolen session cookie would not either."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import get_user
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accessgroups.auth.tokens import api_token_create
from accessgroups.identity.services import service_account_create
from accessgroups.models import ApiToken, AuditEvent, User
from tests.api.helpers import database_fingerprint
from tests.auth.test_mfa import PASSWORD, enrol_totp, sign_in, totp_now

pytestmark = pytest.mark.django_db

PAGE = "/my/api-tokens/"
KEY_SHOWN = re.compile(r'id="new-token-key" value="([0-9a-f]{40})"')


@pytest.fixture(autouse=True)
def _fresh_codes():
    # allauth remembers used TOTP codes in the cache (no replays); tests start clean.
    from django.core.cache import cache

    cache.clear()


def passed_totp(user) -> Client:
    """A session whose sign-in passed an authenticator app: enrol one, sign out, sign in
    with the password and the app's code."""
    client = Client()
    sign_in(client, user.username)
    secret = enrol_totp(client)
    client.post(reverse("account_logout"))
    sign_in(client, user.username)
    response = client.post(reverse("mfa_authenticate"), {"code": totp_now(secret)})
    assert response.status_code == 302 and get_user(client) == user
    return client


def api_status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/access-groups/").status_code


def create(client: Client, url: str = PAGE, **data):
    data.setdefault("name", "deploy script")
    data.setdefault("days", "30")
    return client.post(url, data)


# --- one's own tokens ---------------------------------------------------------------------------


def test_every_signed_in_user_finds_the_page_in_the_navigation(client_for, alice, carol, dave):
    for user in (alice, carol, dave):
        page = client_for(user).get(reverse("web:catalogue")).content.decode()
        assert f'<a href="{PAGE}">API tokens</a>' in page, user
    response = Client().get(PAGE)
    assert response.status_code == 302 and "login" in response["Location"]


def test_without_a_second_factor_the_page_says_to_add_one_and_creates_nothing(client_for, alice):
    client = client_for(alice)

    page = client.get(PAGE).content.decode()

    assert "Creating an API token needs a second factor" in page
    assert f'href="{reverse("mfa_index")}"' in page
    assert 'name="name"' not in page  # no form to fill in
    before = database_fingerprint()
    refused = create(client)
    assert refused.status_code == 403
    assert "second factor" in refused.content.decode()
    assert database_fingerprint() == before


def test_an_authenticator_not_used_in_this_session_is_confirmed_first(alice):
    # A session that did not pass the second factor alice has (a password-only login)
    # reaches no page, this one included, before confirming it.
    secret = "JBSWY3DPEHPK3PXP"
    TOTP.activate(alice, secret)
    client = Client()
    assert client.login(username="alice", password=PASSWORD)

    page = client.get(PAGE)

    confirm = reverse("mfa_reauthenticate")
    assert page.status_code == 302 and page["Location"].startswith(confirm)
    assert create(client).status_code == 302
    assert not ApiToken.objects.exists()
    # allauth's own confirmation step records the second factor for this session.
    confirmed = client.post(page["Location"], {"code": totp_now(secret)})
    assert confirmed.status_code == 302 and confirmed["Location"] == PAGE
    assert 'name="name"' in client.get(PAGE).content.decode()
    assert create(client).status_code == 200
    assert ApiToken.objects.filter(user=alice).count() == 1


def test_a_new_token_is_shown_once_and_works(alice, readonly):
    client = passed_totp(alice)

    response = create(client, name="deploy script", days="14")

    assert response.status_code == 200
    key = KEY_SHOWN.search(response.content.decode()).group(1)
    assert "shown only once" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=alice)
    assert (token.name, token.prefix, token.created_by) == ("deploy script", key[:8], alice)
    assert api_status(key) == 200
    # Listed with its dates and last use, never with its key again.
    page = client.get(PAGE).content.decode()
    assert key not in page
    row = re.search(r'<tr class="token-row" data-prefix="%s">.*?</tr>' % key[:8], page, re.S)
    assert "deploy script" in row.group(0) and f"{token.created_at:%Y-%m-%d}" in row.group(0)
    assert f"{token.expires_at:%Y-%m-%d %H:%M} UTC" in row.group(0)
    assert "never" not in row.group(0)  # just used by the call above
    assert "Active" in row.group(0)
    assert AuditEvent.objects.filter(action="api_token.created", actor=alice).count() == 1


def test_more_days_than_allowed_is_a_field_error(alice, settings):
    client = passed_totp(alice)
    before = database_fingerprint()

    response = create(client, days="91")

    assert response.status_code == 400
    assert "At most 90 days" in response.content.decode()
    assert database_fingerprint() == before
    settings.API_TOKEN_MAX_DAYS = 10
    page = client.get(PAGE).content.decode()
    assert 'max="10"' in page and 'value="10"' in page  # the default stays within it
    assert create(client, days="11").status_code == 400


def test_revoking_ones_own_token_ends_it_at_once(alice, bob):
    client = passed_totp(alice)
    key = KEY_SHOWN.search(create(client).content.decode()).group(1)
    token = ApiToken.objects.get(user=alice)
    bobs = api_token_create(actor=bob, user=bob, name="bob's", mfa_verified=True).token

    # Someone else's token is not there to revoke from one's own page.
    assert client.post(reverse("web:api-token-revoke", args=[bobs.pk])).status_code == 404
    response = client.post(reverse("web:api-token-revoke", args=[token.pk]))

    assert response.status_code == 302
    assert api_status(key) == 401
    bobs.refresh_from_db()
    assert bobs.revoked_at is None
    page = client.get(PAGE).content.decode()
    assert "revoked" in page and "Revoked" in page


def test_expired_tokens_are_listed_as_such_with_nothing_to_revoke(client_for, alice):
    token = api_token_create(actor=None, user=alice, name="old job").token
    ApiToken.objects.filter(pk=token.pk).update(
        created_at=token.created_at - timedelta(days=40),
        expires_at=token.created_at - timedelta(days=10),
    )

    page = client_for(alice).get(PAGE).content.decode()

    row = re.search(r'<tr class="token-row".*?</tr>', page, re.S).group(0)
    assert "old job" in row and "Expired" in row and "Revoke" not in row


# --- admins ---------------------------------------------------------------------------------------


def test_only_admins_open_everyones_tokens(client_for, alice):
    client = client_for(alice)
    assert client.get(reverse("web:manage-api-tokens")).status_code == 403
    before = database_fingerprint()
    response = client.post(
        reverse("web:manage-service-account-create"), {"username": "mine"}
    )
    assert response.status_code == 403
    assert database_fingerprint() == before


def test_an_admin_revokes_anyones_token(client_for, alice, dave):
    created = api_token_create(actor=alice, user=alice, name="laptop", mfa_verified=True)
    client = client_for(dave)
    page = client.get(reverse("web:manage-api-tokens")).content.decode()
    assert "laptop" in page and created.token.prefix in page and created.key not in page

    client.post(reverse("web:manage-api-token-revoke", args=[created.token.pk]))

    assert api_status(created.key) == 401
    assert AuditEvent.objects.get(action="api_token.revoked").actor == dave


def test_an_admin_creates_a_service_account_and_after_mfa_its_token(client_for, dave, alice):
    response = client_for(dave).post(
        reverse("web:manage-service-account-create"),
        {"username": "nightly", "display_name": "Nightly export", "roles": ["auditor"]},
    )
    assert response.status_code == 302
    robot = User.objects.get(username="nightly")
    assert robot.is_service_account and robot.is_auditor

    # The token needs the admin's second factor in this session.
    without = client_for(dave)
    page = without.get(reverse("web:manage-api-tokens")).content.decode()
    assert "Creating an API token needs" in page
    refused = create(without, reverse("web:manage-api-token-create"), user=str(robot.pk))
    assert refused.status_code == 403
    assert not ApiToken.objects.exists()

    client = passed_totp(dave)
    url = reverse("web:manage-api-token-create")
    # Only service accounts are offered; a person's id is refused by the field.
    person = create(client, url, user=str(alice.pk))
    assert person.status_code == 400
    assert not ApiToken.objects.exists()
    made = create(client, url, user=str(robot.pk), name="export job")
    assert made.status_code == 200
    key = KEY_SHOWN.search(made.content.decode()).group(1)
    token = ApiToken.objects.get()
    assert (token.user, token.created_by) == (robot, dave)
    assert api_status(key) == 200


def test_a_service_account_cannot_sign_in(dave):
    robot = service_account_create(actor=dave, username="robot")
    # Should a password ever be set on one, the sign-in still refuses it.
    robot.set_password(PASSWORD)
    robot.save()
    client = Client()

    response = sign_in(client, "robot")

    assert response.status_code == 403
    assert "service account" in response.content.decode()
    assert not get_user(client).is_authenticated


# --- Django admin ---------------------------------------------------------------------------------


@pytest.fixture
def root_admin(make_user) -> Client:
    client = Client()
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    return client


def test_django_admin_hands_out_no_token_and_links_no_identity(root_admin, alice):
    for url in (
        "/admin/authtoken/tokenproxy/add/",  # DRF's: not installed any more
        "/admin/socialaccount/socialapp/add/",
        "/admin/socialaccount/socialtoken/add/",
    ):
        assert root_admin.get(url).status_code == 404, url
    for url in (
        "/admin/accessgroups/apitoken/add/",
        "/admin/socialaccount/socialaccount/add/",
        "/admin/account/emailaddress/add/",
    ):
        assert root_admin.get(url).status_code == 403, url
    before = database_fingerprint()
    forged = root_admin.post(
        "/admin/socialaccount/socialaccount/add/",
        {"user": alice.pk, "provider": "oidc", "uid": "attacker", "extra_data": "{}"},
    )
    assert forged.status_code == 403
    assert database_fingerprint() == before


def test_django_admin_shows_tokens_without_their_hash(root_admin, alice):
    token = api_token_create(actor=alice, user=alice, name="laptop", mfa_verified=True).token

    listing = root_admin.get(reverse("admin:accessgroups_apitoken_changelist"))
    assert listing.status_code == 200 and b"laptop" in listing.content
    page = root_admin.get(reverse("admin:accessgroups_apitoken_change", args=[token.pk]))

    assert page.status_code == 200
    assert token.prefix in page.content.decode()
    assert token.key_hash not in page.content.decode()
    assert b'name="_save"' not in page.content
