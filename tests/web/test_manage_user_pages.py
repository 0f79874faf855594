"""Admin pages for users: onboarding, deactivating, retrying, searching."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accessgroups.models import (
    Membership,
    MembershipSource,
    ProvisioningStatus,
    User,
)

pytestmark = pytest.mark.django_db


# --- users ------------------------------------------------------------------------------------


def test_onboard_a_user(client_for, dave):
    client = client_for(dave)
    response = client.post(
        reverse("web:manage-users"),
        {
            "username": "zoe",
            "email": "zoe@example.com",
            "given_name": "Zoe",
            "family_name": "Zed",
            "display_name": "",
            "roles": ["auditor"],
        },
    )
    assert response.status_code == 302
    zoe = User.objects.get(username="zoe")
    assert zoe.is_auditor and not zoe.is_portal_admin and zoe.onboarding_requested
    assert zoe.display_name == "Zoe Zed"
    page = client.get(reverse("web:manage-users")).content.decode()
    assert "Pending" in page  # its Identity Center status, in a word


def test_onboard_errors_by_the_field_save_nothing(client_for, dave, alice):
    client = client_for(dave)
    before = User.objects.count()
    response = client.post(
        reverse("web:manage-users"),
        {
            "username": "bad name!",
            "email": "not-an-email",
            "given_name": "  ",
            "family_name": "F",
            "roles": ["root"],
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "roles" in errors  # not a choice
    response = client.post(
        reverse("web:manage-users"),
        {"username": "bad name!", "email": "not-an-email", "given_name": "G", "family_name": "F"},
    )
    errors = response.context["form"].errors
    assert set(errors) == {"username", "email"}
    assert "Use letters, digits" in errors["username"][0]
    response = client.post(
        reverse("web:manage-users"),
        {"username": "alice2", "email": "ALICE@example.com", "given_name": "G", "family_name": "F"},
    )
    assert response.context["form"].errors["email"] == ["A user with this email exists."]
    assert User.objects.count() == before


def test_users_list_shows_identity_center_status_and_error_in_words(client_for, dave, alice):
    User.objects.filter(pk=alice.pk).update(
        onboarding_requested=True,
        provisioning_status=ProvisioningStatus.FAILED,
        last_error="Identity Center refused the user: the email is used by another user.",
    )
    page = client_for(dave).get(reverse("web:manage-users")).content.decode()
    assert 'status status-failed">Failed' in page
    assert "Identity Center refused the user: the email is used by another user." in page
    assert reverse("web:manage-user-retry", args=[alice.pk]) in page


def test_retry_a_failed_user(client_for, dave, alice):
    User.objects.filter(pk=alice.pk).update(
        provisioning_status=ProvisioningStatus.FAILED, last_error="x"
    )
    client = client_for(dave)
    response = client.post(reverse("web:manage-user-retry", args=[alice.pk]), follow=True)
    alice.refresh_from_db()
    assert alice.provisioning_status == ProvisioningStatus.PENDING
    assert "will be tried again" in response.content.decode()
    # Once pending, a second retry is refused with a message, not an error page.
    response = client.post(reverse("web:manage-user-retry", args=[alice.pk]), follow=True)
    assert response.status_code == 200
    assert "Only a failed provisioning can be retried." in response.content.decode()


def test_deactivate_ends_access(client_for, dave, alice, readonly):
    Membership.objects.create(user=alice, access_group=readonly, source=MembershipSource.ADMIN)
    client = client_for(dave)
    assert client.post(reverse("web:manage-user-deactivate", args=[alice.pk])).status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active
    assert not Membership.objects.active().filter(user=alice).exists()
    # An admin cannot deactivate themself; the page says so.
    response = client.post(reverse("web:manage-user-deactivate", args=[dave.pk]), follow=True)
    assert "You cannot deactivate yourself." in response.content.decode()
    dave.refresh_from_db()
    assert dave.is_active


def test_unknown_ids_are_404(client_for, dave):
    client = client_for(dave)
    for url in (
        reverse("web:manage-user-deactivate", args=[99999]),
        reverse("web:manage-group-retry", args=[99999]),
        reverse("web:manage-group-archive", args=[99999]),
    ):
        assert client.post(url).status_code == 404
    assert client.get(reverse("web:manage-group-edit", args=[99999])).status_code == 404


def test_onboarding_without_names_is_refused_by_the_field_when_the_portal_creates_users(
    client_for, dave
):
    response = client_for(dave).post(
        reverse("web:manage-users"), {"username": "zoe", "email": "zoe@example.com"}
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"given_name", "family_name"}
    assert not User.objects.filter(username="zoe").exists()


def test_onboarding_without_names_when_an_identity_provider_owns_users(client_for, dave, settings):
    settings.IDENTITY_SOURCE, settings.IDENTITY_MATCH = "external", "external_id"
    client = client_for(dave)
    response = client.post(
        reverse("web:manage-users"), {"username": "zoe", "email": "zoe@example.com"}
    )
    assert response.status_code == 400
    assert "IDENTITY_MATCH=external_id" in response.context["form"].errors["external_id"][0]

    response = client.post(
        reverse("web:manage-users"),
        {"username": "zoe", "email": "zoe@example.com", "external_id": "00u-zoe"},
    )
    assert response.status_code == 302
    zoe = User.objects.get(username="zoe")
    assert (zoe.external_id, zoe.given_name, zoe.onboarding_requested) == ("00u-zoe", "", True)


def test_the_users_page_says_who_waits_for_the_identity_provider(client_for, dave, alice, settings):
    from accessgroups.identity.source import not_yet_provisioned

    settings.IDENTITY_SOURCE, settings.IDENTITY_MATCH = "external", "email"
    User.objects.filter(pk=alice.pk).update(
        onboarding_requested=True, last_error=not_yet_provisioned(alice)
    )
    page = client_for(dave).get(reverse("web:manage-users")).content.decode()
    assert "alice is not yet provisioned by your identity provider" in page
    assert "email address alice@example.com (IDENTITY_MATCH=email)" in page
