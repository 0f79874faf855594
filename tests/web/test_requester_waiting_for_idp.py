"""A requester sees why their approved access waits: their identity provider has not
created their Identity Center user yet (IDENTITY_SOURCE=external)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accessgroups.access import services
from accessgroups.identity.source import not_yet_provisioned
from accessgroups.models import Membership

pytestmark = pytest.mark.django_db

WORDS = "your user is not yet provisioned by your identity provider"


@pytest.fixture
def approved(settings, alice, bob, readonly):
    settings.IDENTITY_SOURCE, settings.IDENTITY_MATCH = "external", "email"
    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="on call"
    )
    return services.access_request_approve(access_request=request, approver=bob)


def _waiting(membership_id: int, error: str) -> None:
    Membership.objects.filter(pk=membership_id).update(last_error=error)


@pytest.mark.parametrize("page", ["web:my-requests", "web:my-requests-fragment", "web:my-access"])
def test_the_pages_say_the_identity_provider_has_not_created_the_user(
    client_for, alice, approved, page
):
    _waiting(approved.membership_id, not_yet_provisioned(alice))

    html = client_for(alice).get(reverse(page)).content.decode()

    assert WORDS in html


@pytest.mark.parametrize("page", ["web:my-requests", "web:my-access"])
def test_other_waits_say_nothing_of_the_identity_provider(client_for, alice, approved, page):
    _waiting(approved.membership_id, "AWS is throttling identitystore calls; will retry.")

    html = client_for(alice).get(reverse(page)).content.decode()

    assert "identity provider" not in html
