"""SSO sign-in with IDENTITY_SOURCE=external: the portal user is linked in the background."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user

from accessgroups.models import AuditEvent, ProvisioningStatus, User
from tests.auth.test_oidc_login import grace, idp, sso_sign_in  # noqa: F401 (fixture)
from tests.syncs import run_enqueued


@pytest.fixture
def external(settings):
    settings.IDENTITY_SOURCE = "external"
    settings.IDENTITY_MATCH = "email"


def test_first_sign_in_requests_linking_and_keeps_the_subject(
    client, idp, external, db, django_capture_on_commit_callbacks  # noqa: F811
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = sso_sign_in(client, idp, **grace())

    assert response.status_code == 302
    user = User.objects.get(username="grace.hopper")
    assert get_user(client) == user
    assert user.onboarding_requested
    assert user.external_id == "00u-grace"
    assert user.provisioning_status == ProvisioningStatus.PENDING
    # Sent to the sync port, not done in the request: no AWS call here.
    assert run_enqueued(callbacks) == [("user_onboard_task", (user.pk,))]
    assert AuditEvent.objects.filter(action="user.link_requested", object_id=str(user.pk)).exists()


def test_in_identity_center_mode_sign_in_onboards_nobody_yet(
    client, idp, db, django_capture_on_commit_callbacks  # noqa: F811
):
    with django_capture_on_commit_callbacks() as callbacks:
        sso_sign_in(client, idp, **grace())

    user = User.objects.get(username="grace.hopper")
    assert not user.onboarding_requested
    assert user.external_id == "00u-grace"
    assert run_enqueued(callbacks) == []


def test_an_existing_user_found_by_email_is_linked_at_their_sign_in(
    client, idp, external, make_user, django_capture_on_commit_callbacks  # noqa: F811
):
    grace_user = make_user("grace", email="grace.hopper@example.com")

    with django_capture_on_commit_callbacks() as callbacks:
        sso_sign_in(client, idp, **grace())

    assert get_user(client) == grace_user
    grace_user.refresh_from_db()
    assert (grace_user.external_id, grace_user.onboarding_requested) == ("00u-grace", True)
    assert run_enqueued(callbacks) == [("user_onboard_task", (grace_user.pk,))]

    # The next sign-in asks for nothing more: the link is under way.
    client.post("/accounts/logout/")
    with django_capture_on_commit_callbacks() as callbacks:
        sso_sign_in(client, idp, **grace())
    assert run_enqueued(callbacks) == []
