"""A request with a delayed start says so on the approver's card and in the API's grants."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accessgroups.access import services

pytestmark = pytest.mark.django_db


def later(hours: int = 5):
    return (timezone.now() + timedelta(hours=hours)).replace(second=0, microsecond=0)


def test_the_card_shows_a_delayed_start(client_for, alice, bob, readonly):
    starts = later()
    services.access_request_create(
        requester=alice, access_group=readonly, justification="release", starts_at=starts
    )
    page = client_for(bob).get(reverse("web:approvals")).content.decode()
    assert (
        f'Starts at <time datetime="{starts.isoformat()}">{starts:%Y-%m-%d %H:%M} UTC</time>'
        in page
    )


def test_the_card_says_at_once_without_a_start(client_for, alice, bob, readonly):
    services.access_request_create(requester=alice, access_group=readonly, justification="x")
    page = client_for(bob).get(reverse("web:approvals")).content.decode()
    assert "As soon as it is approved" in page and "Starts at" not in page


def test_the_api_grants_carry_the_start(api, alice, bob, readonly):
    starts = later()
    delayed = services.access_request_create(
        requester=alice, access_group=readonly, justification="x", starts_at=starts
    )
    grants = api(bob).get(f"/api/v1/access-requests/{delayed.pk}/").json()["grants"]
    assert grants["starts_at"] == starts.isoformat().replace("+00:00", "Z")


def test_the_api_grants_start_is_null_without_one(api, alice, bob, readonly):
    at_once = services.access_request_create(
        requester=alice, access_group=readonly, justification="x"
    )
    grants = api(bob).get(f"/api/v1/access-requests/{at_once.pk}/").json()["grants"]
    assert grants["starts_at"] is None
