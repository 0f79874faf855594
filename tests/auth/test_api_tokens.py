"""Personal API tokens: made once and stored hashed, expiring, revocable, audited, and
checked on every API call (`Authorization: Token KEY`, the header DRF clients already send).
The pages that make them are tested in tests/web/test_api_token_pages.py."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accessgroups.auth.tokens import api_token_create, api_token_revoke
from accessgroups.core.errors import Conflict
from accessgroups.identity.services import service_account_create
from accessgroups.models import ApiToken, AuditEvent
from tests.api.helpers import database_fingerprint

pytestmark = pytest.mark.django_db

URL = "/api/v1/access-groups/"


def call(key: str, url: str = URL):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(url)


def stored_anywhere(secret: str) -> list[str]:
    """Tables where ``secret`` appears in any column of any row."""
    return [
        model._meta.label
        for model in apps.get_models()
        if secret in json.dumps(list(model._default_manager.values_list()), default=str)
    ]


def own_token(user, **fields):
    """A token ``user`` made for themselves after a second factor."""
    fields.setdefault("name", "laptop script")
    return api_token_create(actor=user, user=user, mfa_verified=True, **fields)


@pytest.fixture
def robot(dave):
    return service_account_create(actor=dave, username="ci-bot", roles=["auditor"])


# --- creating -------------------------------------------------------------------------------


def test_a_new_key_is_returned_once_and_only_its_hash_is_stored(alice):
    created = own_token(alice, name="ci")

    key, token = created.key, created.token
    assert len(key) == 40 and int(key, 16) >= 0  # DRF's shape: 40 hex digits
    assert token.prefix == key[:8]
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    # Not in the token's row, not in the audit log, nowhere in the database.
    assert stored_anywhere(key) == []
    event = AuditEvent.objects.get(action="api_token.created")
    assert (event.actor, event.subject, event.object_id) == (alice, alice, str(token.pk))
    assert event.data["name"] == "ci" and event.data["prefix"] == key[:8]
    assert key not in event.message
    # The object returned, read again from the database, has no key to give either.
    assert not any(key in str(value) for value in ApiToken.objects.values().get().values())


def test_each_key_is_new(alice):
    keys = {own_token(alice).key for _ in range(5)}
    assert len(keys) == 5


def test_tokens_last_30_days_unless_asked(alice):
    before = timezone.now()
    token = own_token(alice).token
    assert before + timedelta(days=30) <= token.expires_at <= timezone.now() + timedelta(days=30)
    assert own_token(alice, days=7).token.expires_at < before + timedelta(days=8)


@pytest.mark.parametrize("days", [91, 0, -1, True, "30"])
def test_days_beyond_the_maximum_or_not_a_number_are_refused_by_the_field(alice, days):
    before = database_fingerprint()
    with pytest.raises(ValidationError) as refusal:
        own_token(alice, days=days)
    assert list(refusal.value.message_dict) == ["days"]
    assert database_fingerprint() == before


def test_the_maximum_is_a_setting(alice, settings):
    settings.API_TOKEN_MAX_DAYS = 10
    with pytest.raises(ValidationError) as refusal:
        own_token(alice, days=11)
    assert refusal.value.message_dict["days"] == [
        "At most 10 days: tokens expire within API_TOKEN_MAX_DAYS."
    ]
    # The default never passes the maximum either.
    assert own_token(alice).token.expires_at < timezone.now() + timedelta(days=10, minutes=1)


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "nul\x00"])
def test_a_token_needs_a_name(alice, name):
    with pytest.raises(ValidationError) as refusal:
        own_token(alice, name=name)
    assert list(refusal.value.message_dict) == ["name"]
    assert not ApiToken.objects.exists()


def test_a_person_needs_a_second_factor_in_this_session(alice):
    before = database_fingerprint()
    with pytest.raises(PermissionDenied, match="second factor"):
        api_token_create(actor=alice, user=alice, name="ci", mfa_verified=False)
    assert database_fingerprint() == before


def test_nobody_creates_a_token_for_another_person(alice, bob, dave):
    before = database_fingerprint()
    with pytest.raises(PermissionDenied, match="only for yourself"):
        api_token_create(actor=bob, user=alice, name="x", mfa_verified=True)
    # Not an admin either: an admin with a key of alice's would act as alice, unseen.
    with pytest.raises(PermissionDenied, match="only for service accounts"):
        api_token_create(actor=dave, user=alice, name="x", mfa_verified=True)
    assert database_fingerprint() == before


def test_an_admin_creates_tokens_for_a_service_account(dave, robot, alice):
    created = api_token_create(actor=dave, user=robot, name="nightly export", mfa_verified=True)

    assert created.token.created_by == dave
    event = AuditEvent.objects.get(action="api_token.created")
    assert (event.actor, event.subject) == (dave, robot)
    # The token acts as the service account, with its role (auditor: the audit log).
    response = call(created.key, "/api/v1/audit-events/")
    assert response.status_code == 200
    # An admin still needs their second factor; anyone else may not at all.
    with pytest.raises(PermissionDenied, match="second factor"):
        api_token_create(actor=dave, user=robot, name="x", mfa_verified=False)
    with pytest.raises(PermissionDenied):
        api_token_create(actor=alice, user=robot, name="x", mfa_verified=True)


def test_a_service_account_is_made_by_an_admin_and_cannot_be_a_person(dave, alice, robot):
    assert robot.is_service_account and not robot.has_usable_password()
    assert robot.email.endswith(".invalid") and not robot.onboarding_requested
    assert AuditEvent.objects.filter(action="user.service_account_created", subject=robot).exists()
    with pytest.raises(PermissionDenied):
        service_account_create(actor=alice, username="mine")
    with pytest.raises(ValidationError) as refusal:
        service_account_create(actor=dave, username="CI-BOT")
    assert list(refusal.value.message_dict) == ["username"]


def test_a_deactivated_user_gets_no_token(dave, robot):
    robot.is_active = False
    robot.save()
    with pytest.raises(ValidationError):
        api_token_create(actor=None, user=robot, name="x")


# --- using ----------------------------------------------------------------------------------


def test_the_token_header_works_against_the_api(alice, readonly):
    key = own_token(alice).key

    response = call(key)

    assert response.status_code == 200
    assert [g["name"] for g in response.data["results"]] == ["ReadOnly"]
    assert response.wsgi_request.user == alice


@pytest.mark.parametrize(
    "key",
    ["not-a-real-key", "0" * 40, "A" * 40, "ab" * 30, "é" * 40],
    ids=["short", "unknown", "upper", "long", "non-ascii"],
)
def test_a_key_that_is_no_token_is_401(alice, key):
    own_token(alice)
    response = call(key)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_key_with_a_known_prefix_but_another_secret_is_401(alice):
    key = own_token(alice).key
    forged = key[:8] + ("0" if key[8] != "0" else "1") + key[9:]
    response = call(forged)
    assert response.status_code == 401
    assert response.data["detail"] == "Invalid token."


def test_a_revoked_token_is_401_saying_so(alice):
    created = own_token(alice)
    assert call(created.key).status_code == 200

    api_token_revoke(actor=alice, token=created.token)

    response = call(created.key)
    assert response.status_code == 401
    assert "revoked" in response.data["detail"]
    event = AuditEvent.objects.get(action="api_token.revoked")
    assert (event.actor, event.subject, event.object_id) == (alice, alice, str(created.token.pk))
    assert stored_anywhere(created.key) == []


def test_an_expired_token_is_401_saying_so(alice):
    created = own_token(alice)
    ApiToken.objects.filter(pk=created.token.pk).update(
        created_at=timezone.now() - timedelta(days=31),
        expires_at=timezone.now() - timedelta(seconds=1),
    )

    response = call(created.key)

    assert response.status_code == 401
    assert "expired" in response.data["detail"]
    assert "API tokens page" in response.data["detail"]


def test_a_deactivated_users_token_is_401(alice, dave):
    from accessgroups.identity.services import user_deactivate

    key = own_token(alice).key
    user_deactivate(user=alice, actor=dave)
    assert call(key).status_code == 401


def test_last_use_is_noted_at_most_once_a_minute(alice):
    created = own_token(alice)
    assert created.token.last_used_at is None

    with CaptureQueriesContext(connection) as first:
        assert call(created.key).status_code == 200
    noted = ApiToken.objects.get().last_used_at
    assert noted is not None
    with CaptureQueriesContext(connection) as second:
        assert call(created.key).status_code == 200

    def updates(queries) -> int:
        return sum(q["sql"].startswith('UPDATE "accessgroups_apitoken"') for q in queries)

    assert (updates(first), updates(second)) == (1, 0)
    assert ApiToken.objects.get().last_used_at == noted
    # A minute later the next call notes it again.
    ApiToken.objects.update(last_used_at=noted - timedelta(minutes=2))
    assert call(created.key).status_code == 200
    assert ApiToken.objects.get().last_used_at > noted


# --- revoking -------------------------------------------------------------------------------


def test_the_owner_or_an_admin_revokes_nobody_else(alice, bob, dave):
    token = own_token(alice).token
    before = database_fingerprint()
    with pytest.raises(PermissionDenied):
        api_token_revoke(actor=bob, token=token)
    assert database_fingerprint() == before

    api_token_revoke(actor=dave, token=token)

    token.refresh_from_db()
    assert token.revoked_by == dave and token.revoked_at is not None
    with pytest.raises(Conflict, match="already revoked"):
        api_token_revoke(actor=alice, token=token)
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


# --- manage.py drf_create_token ---------------------------------------------------------------


def create_token_command(*args: str) -> str:
    out = io.StringIO()
    call_command("drf_create_token", *args, stdout=out)
    return out.getvalue()


def test_ours_is_the_drf_create_token_that_runs(settings):
    assert get_commands()["drf_create_token"] == "accessgroups"
    # DRF's own command lives in rest_framework.authtoken; were it installed again, the
    # first app in INSTALLED_APPS would win, and that must stay accessgroups.
    installed = settings.INSTALLED_APPS
    if "rest_framework.authtoken" in installed:
        assert installed.index("accessgroups") < installed.index("rest_framework.authtoken")


def test_drf_create_token_prints_a_working_key_and_is_audited(alice, readonly):
    printed = create_token_command("alice")

    first_line = printed.splitlines()[0]
    assert first_line.startswith("Generated token ") and first_line.endswith(" for user alice")
    key = first_line.split()[2]
    assert call(key).status_code == 200
    token = ApiToken.objects.get()
    assert token.name == "drf_create_token" and token.created_by is None
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    event = AuditEvent.objects.get(action="api_token.created")
    assert event.actor is None and event.subject == alice
    assert event.data["via"] == "drf_create_token"
    assert stored_anywhere(key) == []


def test_drf_create_token_reset_revokes_the_commands_earlier_tokens_only(alice):
    own = own_token(alice, name="my laptop").key
    first = create_token_command("alice").split()[2]

    second = create_token_command("alice", "--reset").split()[2]

    assert call(first).status_code == 401
    assert call(second).status_code == 200
    assert call(own).status_code == 200  # not one the command made
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


def test_drf_create_token_refuses_unknown_users_and_too_many_days(alice):
    with pytest.raises(CommandError, match="does not exist"):
        create_token_command("nobody")
    with pytest.raises(CommandError, match="At most 90 days"):
        create_token_command("alice", "--days", "91")
    assert not ApiToken.objects.exists()
